"""OAuth 2.0 Device Authorization Grant (RFC 8628) without HTTP: device and user codes, the pending -> approved |
denied | expired state machine, polling with `slow_down`, and single redemption.

Records are plain JSON-able dicts in the engine store: kind `REQUESTS` keyed by device_code, kind `USER_CODES`
keyed by the normalised user code (pointing at the device_code and the authority), so the control surface can find a
request from the code a person reads off a screen without knowing which authority issued it. Every authority that
runs the grant (Keycloak, Entra) keeps one `DeviceFlow` and renders the outcomes in its own error vocabulary."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from mockidp.store import Record
from mockidp.types import Services

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
REQUESTS = "device"
USER_CODES = "device-user"
USERS = "device.users"  # the capability: fn(user | None, record) -> the username to approve as (ValueError if unknown)
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5: on slow_down the interval grows by 5 s for this and all later requests
KEEP_AFTER_EXPIRY = 3600  # seconds a record outlives its expiry, so a late poll hears expired_token, not "unknown"
# RFC 8628 §6.1: a base-20 alphabet of consonants (no vowels: no words; no look-alikes), 8 characters, shown as 4-4.
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"

PENDING, APPROVED, DENIED, EXPIRED, REDEEMED = "pending", "approved", "denied", "expired", "redeemed"


class UnknownUserCode(ValueError):
    """No live device request has this user code (-> 404 at the control surface, an error on the page)."""


class UserFinder(Protocol):
    def __call__(self, user: str | None, record: Record) -> str: ...


def normalise(user_code: str) -> str:
    """RFC 8628 §6.1: compare case-insensitively and ignore the separators a person types or omits."""
    return "".join(ch for ch in user_code.upper() if ch not in "- ")


@dataclass(frozen=True)
class DeviceFlow:
    """One authority's device requests. Holds no state itself: everything is in `services.store`."""

    services: Services
    authority: str
    slow_down: bool = True  # Entra never answers slow_down; Keycloak and RFC 8628 servers do
    alphabet: str = ALPHABET
    length: int = 8
    group: int = 4  # a '-' every `group` characters when shown (0: none)

    def _user_code(self) -> str:
        raw = "".join(secrets.choice(self.alphabet) for _ in range(self.length))
        if not self.group:
            return raw
        return "-".join(raw[i:i + self.group] for i in range(0, len(raw), self.group))

    def start(self, *, client_id: str, scope: str, expires_in: int, interval: int, context: Record | None = None) -> Record:
        """A new request (the device authorization response's data). `context` is whatever the authority needs to
        issue the token later (realm, tenant, resource); it comes back in the redeemed record."""
        now = self.services.clock.now()
        store = self.services.store
        device_code = secrets.token_urlsafe(32)
        while True:  # a collision of user codes is rare but would let one person approve another's device
            user_code = self._user_code()
            if store.add_once(USER_CODES, normalise(user_code), now + expires_in + KEEP_AFTER_EXPIRY, now):
                break
        rec: Record = {
            "authority": self.authority, "device_code": device_code, "user_code": user_code, "client_id": client_id,
            "scope": scope, "state": PENDING, "created": now, "expires_at": now + expires_in, "interval": interval,
            "last_poll": None, "polls": 0, "user": None, "context": dict(context or {}),
        }
        store.put(REQUESTS, device_code, rec, rec["expires_at"] + KEEP_AFTER_EXPIRY)
        store.put(USER_CODES, normalise(user_code), {"device_code": device_code, "authority": self.authority},
                  rec["expires_at"] + KEEP_AFTER_EXPIRY)
        return rec

    def poll(self, device_code: str, client_id: str) -> tuple[Record | None, str]:
        """One token request (RFC 8628 §3.4-3.5). The outcome is `token` (the record then carries `user`) or an
        error code: authorization_pending, slow_down, access_denied, expired_token, or invalid_grant:<why>."""
        now = self.services.clock.now()
        outcome = "invalid_grant:unknown"

        def step(rec: Record) -> Record:
            nonlocal outcome
            if rec["authority"] != self.authority:
                outcome = "invalid_grant:unknown"
                return rec
            if rec["client_id"] != client_id:
                outcome = "invalid_grant:client"
                return rec
            rec, outcome = _poll(rec, now, self.slow_down)
            return rec

        rec = self.services.store.update(REQUESTS, device_code, now, step)
        return rec, outcome

    def find(self, user_code: str) -> Record | None:
        rec = lookup(self.services, user_code)
        return rec if rec is not None and rec["authority"] == self.authority else None

    def approve(self, user_code: str, user: str) -> Record:
        """The person signed in and allowed the device. UnknownUserCode, or ValueError when not pending."""
        return self._decide(user_code, APPROVED, user)

    def deny(self, user_code: str) -> Record:
        return self._decide(user_code, DENIED, None)

    def _decide(self, user_code: str, state: str, user: str | None) -> Record:
        found = self.find(user_code)
        if found is None:
            raise UnknownUserCode(f"no device request with user code {user_code!r}")
        now = self.services.clock.now()
        problem = ""

        def change(rec: Record) -> Record:
            nonlocal problem
            rec = _settle(rec, now)
            if rec["state"] != PENDING:
                problem = f"the device request {rec['user_code']} is {rec['state']}, not pending"
                return rec
            return {**rec, "state": state, "user": user, "decided": now}

        rec = self.services.store.update(REQUESTS, found["device_code"], now, change)
        if rec is None:
            raise UnknownUserCode(f"no device request with user code {user_code!r}")
        if problem:
            raise ValueError(problem)
        return rec

    def pending(self) -> list[Record]:
        now = self.services.clock.now()
        return [rec for rec in (_settle(r, now) for r in self.services.store.items(REQUESTS, now).values())
                if rec["authority"] == self.authority and rec["state"] == PENDING]


def lookup(services: Services, user_code: str) -> Record | None:
    """The request behind a user code, whichever authority issued it (the control surface's entry)."""
    now = services.clock.now()
    pointer = services.store.get(USER_CODES, normalise(user_code), now)
    if pointer is None or "device_code" not in pointer:  # unknown, or start() has reserved it but not yet filled it
        return None
    rec = services.store.get(REQUESTS, pointer["device_code"], now)
    return _settle(rec, now) if rec is not None else None


def every_pending(services: Services) -> list[Record]:
    now = services.clock.now()
    return sorted((rec for rec in (_settle(r, now) for r in services.store.items(REQUESTS, now).values())
                   if rec["state"] == PENDING), key=lambda rec: float(rec["created"]))


def _settle(rec: Record, now: float) -> Record:
    if rec["state"] in (PENDING, APPROVED, DENIED) and now >= rec["expires_at"]:
        return {**rec, "state": EXPIRED}
    return rec


def _poll(rec: Record, now: float, slow_down: bool) -> tuple[Record, str]:
    if rec["state"] == REDEEMED:
        return rec, "invalid_grant:redeemed"
    rec = _settle(rec, now)
    last: Any = rec["last_poll"]
    if slow_down and rec["state"] == PENDING and last is not None and now - float(last) < rec["interval"]:
        return {**rec, "interval": rec["interval"] + SLOW_DOWN_STEP, "last_poll": now}, "slow_down"
    rec = {**rec, "last_poll": now, "polls": rec["polls"] + 1}
    outcome = {APPROVED: "token", PENDING: "authorization_pending", DENIED: "access_denied", EXPIRED: "expired_token"}[rec["state"]]
    if outcome == "token":
        rec = {**rec, "state": REDEEMED, "redeemed": now}
    return rec, outcome
