"""The control surface, Python face: what tests do to a running mockidp. The HTTP face (`control/routes.py`, under
/_mockidp/) calls exactly these methods, so both faces behave the same."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

from mockidp import world_edit
from mockidp.authorities.base import Issuer
from mockidp.claims import PlannedClaims
from mockidp.control import forgery
from mockidp.control.forgery import FORGERIES
from mockidp.engine import Engine
from mockidp.faults import Fault
from mockidp.keys import KeySet, SigningKey
from mockidp.oauth import ciba, device
from mockidp.world import world_as_dict
from mockidp.world_edit import ControlError

__all__ = ["FORGERIES", "Control", "ControlError"]

T = TypeVar("T")
ACTIONS = "control-actions"  # store log kind of the control calls made (the dashboard's log shows them)
MAX_DELAY = 60  # seconds a planned fault may hold a request (the OpenAPI document says the same)
LATEST = 253402300799  # 9999-12-31T23:59:59Z: the clock stays where datetime and JWT libraries can follow it


def _seconds(value: Any, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ControlError(f"{name} is a finite number of seconds")
    return float(value)


class Control:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- world ---------------------------------------------------------------------------------
    def world(self) -> dict[str, Any]:
        return world_as_dict(self.engine.world)

    def world_get(self, path: str) -> Any:
        return world_edit.as_json(world_edit.walk(self.engine.world, path)[0])

    def world_add(self, path: str, item: dict[str, Any]) -> dict[str, Any]:
        """Add (or replace, by its key) one item in a list of the world, validated as a world file would be. An
        authority may take another format for a list (capability "world-import:<path>", e.g. a Keycloak realm
        export for avaya/realms): the answer then also lists what the import ignored."""
        try:
            importer = self.engine.capability("world-import:" + path.strip("/"))
        except KeyError:
            importer = None
        converted = importer(item) if importer is not None else None
        if converted is None:
            added = self.engine.world_add(path, item)
        else:
            table, ignored = converted
            added = {**self.engine.world_add(path, table), "ignored": ignored}
        self._note("world add", path=path)
        return added

    def world_remove(self, path: str) -> None:
        self.engine.world_remove(path)
        self._note("world remove", path=path)

    def world_settings(self, section: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Change settings of one world section (its single-valued fields, e.g. opengateway's `camara_version` or
        `trust_forwarded_for`), validated and all-or-nothing, undone by reset; the section's settings after."""
        name = section.strip("/")
        if "/" in name or not dataclasses.is_dataclass(getattr(self.engine.world, name, None)):
            raise ControlError(f"no world section {name!r}: settings belong to a section, e.g. opengateway", 404)
        changed = self.engine.world_change(name, lambda sec: world_edit.set_settings(sec, name, settings))
        self._note("world settings", section=name, settings=settings)  # one field: a setting's name never meets _note's
        return changed

    # --- faults, claims, time, journal ---------------------------------------------------------------
    def add_fault(self, **fields: Any) -> Fault:
        allowed = {f.name for f in dataclasses.fields(Fault)} - {"id", "used"}
        unknown = set(fields) - allowed
        if unknown:
            raise ControlError(f"unknown fault field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        self._check_authority(fields.get("authority", "*"))
        self._check_endpoint(fields.get("authority", "*"), fields.get("endpoint", "*"))
        delay = fields.get("delay", 0)
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not 0 <= delay <= MAX_DELAY:
            raise ControlError(f"delay is a number of seconds from 0 to {MAX_DELAY}")
        try:
            fault = self.engine.faults.add(Fault(**fields))
        except (TypeError, ValueError) as exc:
            raise ControlError(str(exc)) from exc
        self._note("fault planned", id=fault.id, authority=fault.authority, endpoint=fault.endpoint)
        return fault

    def add_claims(self, claims: dict[str, Any], authority: str = "*", client_id: str = "*", times: int | None = 1) -> PlannedClaims:
        self._check_authority(authority)
        if not isinstance(claims, dict) or not claims:
            raise ControlError("claims must be a non-empty JSON object")
        try:
            plan = self.engine.claims.add(PlannedClaims(authority=authority, client_id=client_id, claims=claims, times=times))
        except ValueError as exc:
            raise ControlError(str(exc)) from exc
        self._note("claims planned", id=plan.id, authority=authority, client_id=client_id, names=", ".join(claims))
        return plan

    def advance(self, seconds: float) -> dict[str, Any]:
        self._instant(self.engine.clock.now() + _seconds(seconds, "advance"))
        self.engine.clock.advance(float(seconds))
        self._note("clock advanced", seconds=seconds)
        return self.engine.clock.describe()

    def set_time(self, instant: float, frozen: bool = False) -> dict[str, Any]:
        self.engine.clock.set(self._instant(_seconds(instant, "set")), frozen=frozen)
        self._note("clock set", instant=instant, frozen=frozen)
        return self.engine.clock.describe()

    @staticmethod
    def _instant(instant: float) -> float:
        # Every token's iat/exp is computed from it: keep it a date JWT libraries and datetime can still represent.
        if not 0 <= instant <= LATEST:
            raise ControlError(f"the clock must stay between 1970 and 9999 (epoch 0 to {LATEST})")
        return instant

    def time(self) -> dict[str, Any]:
        return self.engine.clock.describe()

    def reset_time(self) -> dict[str, Any]:
        self.engine.clock.reset()
        self._note("clock reset")
        return self.engine.clock.describe()

    def faults(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in self.engine.faults.pending()]

    def remove_fault(self, fault_id: str) -> None:
        if not self.engine.faults.remove(fault_id):
            raise ControlError("no such planned fault", 404)
        self._note("fault removed", id=fault_id)

    def clear_faults(self) -> None:
        self.engine.faults.clear()
        self._note("faults cleared")

    def claims(self) -> list[dict[str, Any]]:
        return [p.as_dict() for p in self.engine.claims.pending()]

    def clear_claims(self) -> None:
        self.engine.claims.clear()
        self._note("claims cleared")

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        return self.engine.journal.entries(**filters)

    def clear_journal(self) -> None:
        self.engine.journal.clear()
        self.engine.store.clear(ACTIONS)

    def server_errors(self) -> list[str]:
        """Tracebacks of mockidp's own errors since the last reset (the plugin fails the test that caused one)."""
        return list(self.engine.server_errors)

    def reset(self) -> None:
        self.engine.reset()
        self._note("reset")

    def actions(self) -> list[dict[str, Any]]:
        """The control calls since the last reset, oldest first (the dashboard shows them among the requests)."""
        return self.engine.store.log(ACTIONS)

    def _note(self, action: str, **detail: Any) -> None:
        # In the store (several processes may serve one mockidp), numbered with the journal's sequence so that the
        # dashboard can put requests and control calls in one order.
        entry = {"seq": self.engine.journal.next_seq(), "time": self.engine.clock.now(), "action": action,
                 "detail": {k: v for k, v in detail.items() if v not in (None, "*")}}
        self.engine.store.append(ACTIONS, entry, self.engine.journal.maxlen)

    def endpoints(self) -> dict[str, list[str]]:
        """Every authority's endpoint names (what faults and journal filters call `endpoint`), in route order."""
        return {name: list(dict.fromkeys(ep.name for ep in auth.endpoints())) for name, auth in self.engine.authorities.items()}

    def _check_endpoint(self, authority: Any, endpoint: Any) -> None:
        # A typo ("tokn") would otherwise plan a fault no request ever takes, found only at teardown (issue 22).
        if endpoint == "*" or not isinstance(authority, str):
            return
        names = self.endpoints()
        known = names[authority] if authority != "*" else sorted({n for ns in names.values() for n in ns})
        if endpoint not in known:
            where = f"of {authority}" if authority != "*" else "of any authority"
            raise ControlError(f"unknown endpoint {endpoint!r} {where}; known: {', '.join(known)}")

    def _check_authority(self, name: str) -> None:
        if name != "*" and name not in self.engine.authorities:
            raise ControlError(f"unknown authority {name!r}; known: {', '.join(self.engine.authorities)}", 404)

    # --- keys ------------------------------------------------------------------------------------------
    def _issuer(self, authority: str, issuer: str | None) -> Issuer:
        self._check_authority(authority)
        try:
            return self.engine.authority(authority).issuer_by_id(issuer)
        except KeyError as exc:
            raise ControlError(str(exc.args[0]), 404) from exc

    def keyset(self, authority: str, issuer: str | None = None) -> KeySet:
        return self._issuer(authority, issuer).keyset

    def rotate_key(self, authority: str, issuer: str | None = None, new_key: SigningKey | None = None) -> dict[str, Any]:
        """A new signing key (`new_key`, or one made here); at most keys.MAX_PUBLISHED stay published."""
        keyset = self.keyset(authority, issuer)
        new = keyset.rotate(new_key)
        self._note("key rotated", authority=authority, issuer=issuer, kid=new.kid)
        return {"active": new.kid, "published": [k.kid for k in keyset.published]}

    def retire_keys(self, authority: str, issuer: str | None = None, kid: str | None = None) -> dict[str, Any]:
        keyset = self._issuer(authority, issuer).keyset
        try:
            retired = keyset.retire(kid)
        except ValueError as exc:
            raise ControlError(str(exc)) from exc
        self._note("keys retired", authority=authority, issuer=issuer, kids=", ".join(retired))
        return {"retired": retired, "active": keyset.active.kid, "published": [k.kid for k in keyset.published]}

    # --- CIBA (Open Gateway): the subscriber's out-of-band consent ---------------------------------------
    def _ciba(self) -> ciba.Consent:
        """The authority that runs CIBA consent, by the capability it offers (today Open Gateway)."""
        try:
            found: ciba.Consent = self.engine.capability(ciba.CONSENT)
        except KeyError:
            raise ControlError("no authority of this world runs CIBA", 404) from None
        return found

    def ciba_requests(self, state: str | None = None) -> list[dict[str, Any]]:
        return [dict(r) for r in self._ciba().requests(state)]

    def ciba_decide(self, auth_req_id: str, action: str) -> dict[str, Any]:
        """approve | deny | expire one pending request."""
        if action not in ("approve", "deny", "expire"):
            raise ControlError(f"action is approve, deny or expire, not {action!r}", 404)
        try:
            decided = dict(getattr(self._ciba(), action)(auth_req_id))
            self._note(f"CIBA {action}", auth_req_id=auth_req_id)
            return decided
        except KeyError as exc:
            raise ControlError(f"no CIBA request {auth_req_id!r}", 404) from exc
        except ValueError as exc:
            raise ControlError(str(exc), 409) from exc

    def ciba_subscriber(self, login_hint: str, decision: str | None) -> None:
        """Answer every future request of a subscriber: grant | deny | expire | never, or None for the world's rule."""
        if decision not in ("grant", "deny", "expire", "never", None):
            raise ControlError("decision is grant, deny, expire, never or null")
        try:
            self._ciba().decide_future(login_hint, decision)
        except KeyError as exc:
            raise ControlError(str(exc.args[0]), 404) from exc
        self._note("CIBA subscriber rule", login_hint=login_hint, decision=decision or "the world's rule")

    # --- device authorization (RFC 8628): the person who reads the user code off a screen --------------------
    def device_requests(self) -> list[dict[str, Any]]:
        """Pending device requests of every authority that runs the grant, oldest first."""
        return [dict(r) for r in device.every_pending(self.engine)]

    def device_decide(self, user_code: str, action: str, user: str | None = None) -> dict[str, Any]:
        """approve (as `user`, or the authority's first demo user) | deny the request behind a user code."""
        if action not in ("approve", "deny"):
            raise ControlError(f"action is approve or deny, not {action!r}", 404)
        if user is not None and not isinstance(user, str):
            raise ControlError("user is a username (a string)")
        found = device.lookup(self.engine, user_code)
        if found is None:
            raise ControlError(f"no device request with user code {user_code!r}", 404)
        flow = device.DeviceFlow(self.engine, found["authority"])
        try:
            if action == "deny":
                return dict(flow.deny(user_code))
            finder: device.UserFinder = self.engine.authority(found["authority"]).capabilities()[device.USERS]
        except KeyError:
            raise ControlError(f"authority {found['authority']!r} does not offer device approval", 404) from None
        except device.UnknownUserCode as exc:
            raise ControlError(str(exc), 404) from exc
        except ValueError as exc:  # no longer pending
            raise ControlError(str(exc), 409) from exc
        try:
            username = finder(user, found)
        except ValueError as exc:  # no such user in that realm or tenant
            raise ControlError(str(exc)) from exc
        try:
            return dict(flow.approve(user_code, username))
        except device.UnknownUserCode as exc:
            raise ControlError(str(exc), 404) from exc
        except ValueError as exc:
            raise ControlError(str(exc), 409) from exc

    # --- forged tokens ------------------------------------------------------------------------------------
    def forge(self, authority: str, claims: dict[str, Any] | None = None, issuer: str | None = None, variant: str = "valid", base: str | None = None) -> str:
        """A token from an authority's issuer with chosen claims, or one of the deliberately bad variants:
        for testing the user's OWN resource server (control/forgery.py)."""
        if variant not in FORGERIES:
            raise ControlError(f"unknown variant {variant!r}; choose one of {', '.join(FORGERIES)}")
        found = self._issuer(authority, issuer)
        auth = self.engine.authority(authority)
        base = base or auth.default_base()
        claims = {"sub": "forged-subject", **auth.minted_claims(found, base, claims or {})}
        other = next(i for a in self.engine.authorities.values() if a.name != authority for i in a.issuers())
        return forgery.forge(found.keyset, claims, variant, int(self.engine.clock.now()), other_keyset=other.keyset)
