"""OpenID Connect CIBA Core 1.0 without HTTP: the login hints and purposes of the CAMARA / Open Gateway profile,
and the per-request consent state machine (pending -> granted | denied | expired, then redeemed).

Records are plain JSON-able dicts kept in the engine store (kind `REQUESTS`); every function here takes a record
and returns a changed copy, so the authority can run them inside `store.update` and stay atomic.
Wire facts: shared/reference/ciba-opengateway.md."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Protocol

GRANT_TYPE = "urn:openid:params:grant-type:ciba"
AUTH_REQ_ID_CLAIM = "urn:openid:params:jwt:claim:auth_req_id"
REQUESTS = "ciba"
SLOW_DOWN_STEP = 5  # CIBA Core §11: after slow_down the interval grows by at least 5 s, for this and all later polls
DELIVERY_MODES = ("poll", "ping", "push")
# DPV purposes in use at Open Gateway (reference: "Scopes and purposes seen in Open Gateway").
DPV_PURPOSES = ("FraudPreventionAndDetection", "RequestedServiceProvision")

PENDING, GRANTED, DENIED, EXPIRED, REDEEMED = "pending", "granted", "denied", "expired", "redeemed"
DECISIONS = {"grant": GRANTED, "deny": DENIED}

E164 = re.compile(r"\+[1-9][0-9]{0,14}")  # RFC 3966 global number in E.164: '+', at most 15 digits, no separators
PORT = re.compile(r"[1-9][0-9]{0,4}")
OPERATOR_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,1024}")
DPV = re.compile(r"dpv:([A-Za-z]+)")
API_SCOPE = re.compile(r"[a-z0-9][a-z0-9._-]*(:[a-z0-9._-]+)*")
BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # RFC 6750 §2.1 b64token, the syntax of client_notification_token


class HintError(ValueError):
    """A login_hint that is not well formed (-> invalid_request)."""


class ScopeError(ValueError):
    """A purpose or scope that is malformed or unknown (-> invalid_scope)."""


@dataclass(frozen=True)
class LoginHint:
    kind: str  # tel | phone_number | ipport | operatortoken
    value: str  # canonical: "+34655555555", "80.90.34.2:16790", "[2001:db8::1]:8080", the token

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @property
    def phone_number(self) -> str | None:
        return self.value if self.kind in ("tel", "phone_number") else None

    def address(self) -> tuple[str, int | None]:
        if self.value.startswith("["):
            host, _, rest = self.value[1:].partition("]")
            return host, int(rest[1:]) if rest else None
        host, _, port = self.value.partition(":")
        return host, int(port) if port else None

    def matches(self, other: LoginHint) -> bool:
        """Whether two hints name the same subscriber: a phone number however it is tagged, an address with or
        without a port (a hint without one matches any port), or the same operator token."""
        if self.phone_number is not None or other.phone_number is not None:
            return self.phone_number == other.phone_number
        if self.kind != other.kind:
            return False
        if self.kind == "ipport":
            (ip1, p1), (ip2, p2) = self.address(), other.address()
            return ip1 == ip2 and (p1 is None or p2 is None or p1 == p2)
        return self.value == other.value


def parse_login_hint(text: str) -> LoginHint:
    kind, sep, value = text.partition(":")
    if not sep or not value:
        raise HintError("login_hint must be <identifier_type>:<identifier>, e.g. tel:+34666666666")
    if kind in ("tel", "phone_number"):
        if value.startswith(" ") and value[1:].isdigit():
            # Seed 002's own curl sends `--data 'login_hint=tel:+34655555555'` unencoded, so form decoding turns the
            # '+' into a space. A space is never part of an E.164 number: read it back as the '+' it was.
            value = "+" + value[1:]
        if not E164.fullmatch(value):
            raise HintError(f"{kind} must be a global number in E.164 without separators, e.g. {kind}:+34666666666")
        return LoginHint(kind, value)
    if kind == "ipport":
        return LoginHint(kind, _ipport(value))
    if kind == "operatortoken":
        if not OPERATOR_TOKEN.fullmatch(value):
            raise HintError("operatortoken must be a non-empty token of URL-safe characters")
        return LoginHint(kind, value)
    raise HintError(f"unsupported login_hint type {kind!r}; use tel, ipport, phone_number or operatortoken")


def _ipport(value: str) -> str:
    """IPv4 with an optional port, or a bracketed IPv6 with an optional port (an unbracketed IPv6 is ambiguous)."""
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise HintError("an IPv6 ipport must be bracketed: ipport:[2001:db8::1] or ipport:[2001:db8::1]:8080")
        try:
            ip = ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise HintError(f"not an IPv6 address: {host!r}") from exc
        return f"[{ip.compressed}]" + (f":{_port(rest[1:])}" if rest else "")
    host, sep, port = value.partition(":")
    try:
        ip4 = ipaddress.IPv4Address(host)
    except ValueError as exc:
        raise HintError(f"not an IPv4 address: {host!r} (IPv6 goes in brackets)") from exc
    return str(ip4) + (f":{_port(port)}" if sep else "")


def _port(text: str) -> int:
    if not PORT.fullmatch(text) or int(text) > 65535:
        raise HintError(f"port must be 1-65535, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class Purpose:
    """What a bc-authorize request asks for: one DPV purpose and the API scopes it covers."""

    dpv: str  # FraudPreventionAndDetection
    scopes: tuple[str, ...]  # ("sim-swap",) from Telefonica's dpv:<Purpose>#<scope>, or CAMARA's ("sim-swap:check", ...)
    openid: bool = False

    def __str__(self) -> str:
        return " ".join(f"dpv:{self.dpv}#{s}" for s in self.scopes)

    def covered_by(self, subscriptions: list[Purpose]) -> bool:
        """Every asked scope falls under a subscription for the same purpose: `sim-swap` covers `sim-swap:check`."""
        return all(
            any(sub.dpv == self.dpv and any(s == t or s.startswith(t + ":") for t in sub.scopes) for sub in subscriptions)
            for s in self.scopes
        )


def parse_purpose(purpose: str | None, scope: str | None) -> Purpose:
    """Telefonica's `purpose=dpv:<Purpose>#<scope>` (the seed), or CAMARA's `scope=dpv:<Purpose> <api scopes>`
    (exactly one dpv: token). Raises ScopeError."""
    tokens = (scope or "").split()
    openid = "openid" in tokens
    if purpose is not None:
        return _combined(purpose, openid)
    combined = [t for t in tokens if t.startswith("dpv:") and "#" in t]
    if len(combined) == 1 and not [t for t in tokens if t not in combined and t != "openid"]:
        return _combined(combined[0], openid)  # the frontend flow's form, sent as a scope
    dpvs = [t for t in tokens if t.startswith("dpv:")]
    if len(dpvs) != 1:
        raise ScopeError(f"exactly one dpv:<Purpose> scope is required, got {len(dpvs)}")
    match = DPV.fullmatch(dpvs[0])
    if match is None:
        raise ScopeError(f"malformed purpose scope {dpvs[0]!r}; expected dpv:<Purpose>")
    apis = tuple(t for t in tokens if t not in dpvs and t != "openid")
    if not apis or not all(API_SCOPE.fullmatch(s) for s in apis):
        raise ScopeError("the scope must name the API scopes beside the purpose, e.g. 'dpv:FraudPreventionAndDetection sim-swap:check'")
    return Purpose(_known(match.group(1)), apis, openid)


def _combined(text: str, openid: bool) -> Purpose:
    dpv, sep, api = text.partition("#")
    match = DPV.fullmatch(dpv)
    if match is None or not sep or not API_SCOPE.fullmatch(api):
        raise ScopeError(f"malformed purpose {text!r}; expected dpv:<Purpose>#<scope>, e.g. dpv:FraudPreventionAndDetection#sim-swap")
    return Purpose(_known(match.group(1)), (api,), openid)


def _known(dpv: str) -> str:
    if dpv not in DPV_PURPOSES:
        raise ScopeError(f"unknown DPV purpose {dpv!r}; in use: {', '.join(DPV_PURPOSES)}")
    return dpv


# --- the state machine ------------------------------------------------------------------------------------------

Record = dict[str, Any]
CONSENT = "ciba.consent"  # the capability of an authority that runs CIBA consent (types.Services.capability)


class Consent(Protocol):
    """What the control surface and the dashboard ask of the authority that runs CIBA: the person's decisions."""

    def requests(self, state: str | None = None) -> list[Record]: ...

    def approve(self, auth_req_id: str) -> Record: ...

    def deny(self, auth_req_id: str) -> Record: ...

    def expire(self, auth_req_id: str) -> Record: ...

    def decide_future(self, login_hint: str, decision: Any) -> None: ...


def new_request(*, auth_req_id: str, client_id: str, subscriber: str, purpose: Purpose, rule: dict[str, Any], now: float,
                expires_in: int, interval: int, **extra: Any) -> Record:
    """`rule` is {"consent": grant|deny|never, "after_polls": N, "after_seconds": T}: the answer comes on the Nth
    token request and no sooner than T seconds after the request, whichever is later."""
    return {
        "auth_req_id": auth_req_id, "client_id": client_id, "login_hint": subscriber, "purpose": str(purpose),
        "dpv": purpose.dpv, "scopes": list(purpose.scopes), "openid": purpose.openid, "state": PENDING,
        "created": now, "expires_at": now + expires_in, "interval": interval, "last_poll": None, "polls": 0,
        "rule": rule, **extra,
    }


def settle(rec: Record, now: float) -> Record:
    """Apply what time and the rule decide by now: expiry first, then a due answer."""
    if rec["state"] in (PENDING, GRANTED, DENIED) and now >= rec["expires_at"]:
        return {**rec, "state": EXPIRED}
    rule = rec["rule"]
    if rec["state"] == PENDING and rule["consent"] in DECISIONS and rec["polls"] >= rule["after_polls"] \
            and now - rec["created"] >= rule["after_seconds"]:
        return {**rec, "state": DECISIONS[rule["consent"]], "decided": now}
    return rec


def poll(rec: Record, client_id: str, now: float) -> tuple[Record, str]:
    """One token request. Returns the new record and the outcome: `token` or a CIBA token error code."""
    if rec["client_id"] != client_id:
        return rec, "invalid_grant:client"
    if rec["state"] == REDEEMED:
        return rec, "invalid_grant:redeemed"
    rec = settle(rec, now)
    if rec["state"] == PENDING and rec["last_poll"] is not None and now - rec["last_poll"] < rec["interval"]:
        return {**rec, "interval": rec["interval"] + SLOW_DOWN_STEP, "last_poll": now}, "slow_down"
    rec = settle({**rec, "last_poll": now, "polls": rec["polls"] + 1}, now)
    outcome = {GRANTED: "token", PENDING: "authorization_pending", DENIED: "access_denied", EXPIRED: "expired_token"}[rec["state"]]
    if outcome == "token":
        rec = {**rec, "state": REDEEMED, "redeemed": now}
    return rec, outcome


def decide(rec: Record, state: str, now: float) -> Record:
    """A runtime answer (a test, the control surface, a consent page) for a request that is still pending."""
    rec = settle(rec, now)
    if rec["state"] != PENDING:
        raise ValueError(f"auth_req_id {rec['auth_req_id']} is {rec['state']}, not pending")
    if state == EXPIRED:
        return {**rec, "state": EXPIRED, "expires_at": now}
    return {**rec, "state": state, "decided": now}
