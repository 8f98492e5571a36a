"""What every CAMARA API behind the gateway shares: the ErrorInfo shape, `x-correlator`, the access token and its
context (which line it identifies), phone-number syntax and the versioned error codes.

Sources: camaraproject/Commonalities `documentation/CAMARA-API-Design-Guide.md` §3.2 (ErrorInfo, the generic
codes), §5.8.5 (x-correlator); the identifier rules of camaraproject/SimSwap (1.0.0: 403 INVALID_TOKEN_CONTEXT on a
mismatch, 422 UNIDENTIFIABLE_PHONE_NUMBER; 2.x: 422 UNNECESSARY_IDENTIFIER / MISSING_IDENTIFIER, 404
IDENTIFIER_NOT_FOUND); Telefonica's published v0 OpenAPIs (opengateway-developers-website
`v0/catalog/*/..._openapi.yaml`: the 3-field ErrorInfo, phone numbers `^\\+?[0-9]{5,15}$`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mockidp import jsonbytes
from mockidp.authorities.base import Issuer
from mockidp.authorities.opengateway.world import OgSubscriber, OpenGatewayWorld
from mockidp.errors import OAuthError
from mockidp.oauth import ciba
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, verify

UNAUTHENTICATED = "Request not authenticated due to missing, invalid, or expired credentials. A new authentication is required."
PERMISSION_DENIED = "Client does not have sufficient permissions to perform this action."
# What a glue error (unreadable body, 413, 500, a fault named in OAuth terms) becomes in CAMARA's vocabulary.
BY_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
             409: "CONFLICT", 413: "INVALID_ARGUMENT", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "UNPROCESSABLE_ENTITY",
             429: "TOO_MANY_REQUESTS", 502: "BAD_GATEWAY", 503: "UNAVAILABLE", 504: "TIMEOUT"}
# Commonalities HEAD (and SIM Swap 2.1.0, NV 2.1.0, location-verification 3.0.0): XCorrelator pattern.
CORRELATOR = re.compile(r"[a-zA-Z0-9\-_:;./<>{}]{0,256}")
# Telefonica v0: '+' optional, 5-15 digits; CAMARA 1.x/2.x: E.164 with '+', `^\+[1-9][0-9]{4,14}$`.
PHONE = {"telefonica": re.compile(r"\+?[0-9]{5,15}"), "v1": re.compile(r"\+[1-9][0-9]{4,14}"), "v2": re.compile(r"\+[1-9][0-9]{4,14}")}
# The literal bearer token Telefonica's API pages offer for mock mode ("use the following convenience token").
MOCK_TOKEN = "mock_sandbox_access_token"

# (version, situation) -> (status, code, message): how a request fails to name its line, in each version's words.
IDENTIFIER_ERRORS: dict[tuple[str, str], tuple[int, str, str]] = {
    ("telefonica", "mismatch"): (403, "INVALID_TOKEN_CONTEXT", "phoneNumber is not consistent with access token."),
    ("v1", "mismatch"): (403, "INVALID_TOKEN_CONTEXT", "phoneNumber is not consistent with access token."),
    # 2.x: an identifier in the body is an error whenever the token already identifies the line, even an equal one.
    ("v2", "mismatch"): (422, "UNNECESSARY_IDENTIFIER", "The device is already identified by the access token."),
    ("telefonica", "missing"): (400, "INVALID_ARGUMENT", "Client specified an invalid argument, request body or query param: phoneNumber is required."),
    ("v1", "missing"): (422, "UNIDENTIFIABLE_PHONE_NUMBER", "The phone number cannot be deduced from the access token and is not in the request."),
    ("v2", "missing"): (422, "MISSING_IDENTIFIER", "The device cannot be identified."),
    ("telefonica", "unknown"): (404, "NOT_FOUND", "The specified resource is not found."),
    ("v1", "unknown"): (404, "NOT_FOUND", "The specified resource is not found."),
    ("v2", "unknown"): (404, "IDENTIFIER_NOT_FOUND", "Device identifier not found."),
}


class ApiContext(Protocol):
    """What the APIs need of the gateway (OpenGateway satisfies it): its access tokens' issuer, the world, the line."""

    @property
    def now(self) -> float: ...

    @property
    def config(self) -> OpenGatewayWorld: ...

    def issuers(self) -> list[Issuer]: ...

    def subscriber(self, hint: ciba.LoginHint) -> OgSubscriber | None: ...


@dataclass(frozen=True)
class Api:
    """One CAMARA API: its error-code prefix, the scopes each operation accepts, and its own words for a situation."""

    prefix: str  # SIM_SWAP, NUMBER_VERIFICATION, ...
    scopes: Mapping[str, frozenset[str]]  # operation -> the scopes any one of which lets it through
    errors: Mapping[tuple[str, str], tuple[int, str, str]] = field(default_factory=dict)  # overrides IDENTIFIER_ERRORS

    def error(self, version: str, situation: str) -> OAuthError:
        status, code, message = self.errors.get((version, situation)) or IDENTIFIER_ERRORS[(version, situation)]
        return camara_error(status, code, message)


@dataclass(frozen=True)
class Call:
    """One verified API request: the token's claims, the JSON body, and the context's version."""

    claims: dict[str, Any]
    body: dict[str, Any]
    version: str
    mock: bool  # answered by the sandbox's last-digit rules

    @property
    def token_phone(self) -> str | None:
        phone = self.claims.get("phone_number")
        return phone if isinstance(phone, str) and phone else None


def camara_error(status: int, code: str, message: str) -> OAuthError:
    return OAuthError(code, message, status)


def correlator(req: Request | None) -> str | None:
    """The request's x-correlator when it is valid (to echo), None when it is not, a new one when there is none
    (the design guide: the provider MAY add one, a UUID recommended)."""
    value = req.headers.get("x-correlator") if req is not None else None
    if not value:
        return str(uuid.uuid4())
    return value if CORRELATOR.fullmatch(value) else None


def camara_reply(err: OAuthError, req: Request | None = None) -> Reply:
    """CAMARA codes are upper case; anything else (an OAuth-style glue error) is mapped by status."""
    code = err.error if err.error.isupper() else BY_STATUS.get(err.status, "INTERNAL" if err.status >= 500 else "INVALID_ARGUMENT")
    headers = dict(err.headers)
    if err.status == 401:
        headers.setdefault("www-authenticate", 'Bearer realm="opengateway"')
    # A malformed one is never echoed (it is the error being answered): the answer gets a new one instead.
    headers["x-correlator"] = correlator(req) or str(uuid.uuid4())
    return Reply(err.status, json={"status": err.status, "code": code, "message": err.description or code}, headers=headers, error=code)


def operation(ctx: ApiContext, api: Api, op: str, answer: Callable[[Call], dict[str, Any]]) -> Callable[[Request], Reply]:
    """A handler: x-correlator first (a bad one is 400 whatever else is wrong), then the token and its scope, then
    the body; `answer` gives the 200 body."""

    def handle(req: Request) -> Reply:
        echo = correlator(req)
        if echo is None:
            raise camara_error(400, "INVALID_ARGUMENT", "x-correlator does not match ^[a-zA-Z0-9-_:;./<>{}]{0,256}$")
        claims, mock = verified(ctx, req)
        granted = set(claims.get("scope", "").split()) if isinstance(claims.get("scope"), str) else set()
        if not mock and not granted & api.scopes[op]:
            wanted = " or ".join(sorted(api.scopes[op]))
            raise camara_error(403, "PERMISSION_DENIED", f"{PERMISSION_DENIED} The token lacks {wanted}.")
        call = Call(claims, body(req), ctx.config.camara_version, mock or ctx.config.mock_mode)
        return Reply(json=answer(call), headers={"x-correlator": echo})

    return handle


def verified(ctx: ApiContext, req: Request) -> tuple[dict[str, Any], bool]:
    """The claims of the gateway access token the request carries, and whether it is the sandbox's mock token."""
    token = req.bearer
    if token is None:
        raise camara_error(401, "UNAUTHENTICATED", UNAUTHENTICATED)
    if ctx.config.mock_mode and token == MOCK_TOKEN:
        return {}, True  # a two-legged token: the body names the line
    issuer = ctx.issuers()[0]
    try:
        _, claims = verify(token, issuer.keyset, now=ctx.now)
    except TokenInvalid as exc:
        raise camara_error(401, "UNAUTHENTICATED", f"{UNAUTHENTICATED} ({exc})") from exc
    # An id token of the same issuer is signed with the same key: its at_hash / auth_req_id claim keeps it out.
    # The gateway's access tokens name the gateway base as their audience (OpenGateway.issue).
    if claims.get("aud") != req.base:
        raise camara_error(401, "UNAUTHENTICATED", f"{UNAUTHENTICATED} (aud {claims.get('aud')!r} is not this API gateway)")
    if claims.get("iss") != issuer.url(req.base) or "at_hash" in claims or "nonce" in claims or ciba.AUTH_REQ_ID_CLAIM in claims:
        raise camara_error(401, "UNAUTHENTICATED", f"{UNAUTHENTICATED} (not an access token of this API gateway)")
    return claims, False


def body(req: Request) -> dict[str, Any]:
    try:  # nesting bounded before parsing (the glue bounds the size): a deep body is 400, never a RecursionError
        return jsonbytes.loads_object(req.body or b"{}")
    except jsonbytes.JsonRefused as exc:
        raise camara_error(400, "INVALID_ARGUMENT", str(exc)) from exc


def phone_number(value: Any, version: str, where: str = "phoneNumber") -> str:
    """A phone number of the request in the version's syntax, as E.164 with its '+'."""
    if not isinstance(value, str) or not PHONE[version].fullmatch(value):
        example = "+34666666666" if version != "telefonica" else "+34666666666 (the '+' is optional)"
        raise camara_error(400, "INVALID_ARGUMENT", f"{where} must be a string in E.164 format, e.g. {example}")
    return value if value.startswith("+") else "+" + value


def identify(call: Call, api: Api, asked: Any, where: str = "phoneNumber") -> str:
    """The line a request is about: the body's number (`asked`, None when absent) or the token's, by the rules of
    the version in force."""
    asked_phone = None if asked is None else phone_number(asked, call.version, where)
    token_phone = call.token_phone
    if token_phone and asked_phone is not None and (call.version == "v2" or asked_phone != token_phone):
        raise api.error(call.version, "mismatch")
    phone = asked_phone or token_phone
    if phone is None:
        raise api.error(call.version, "missing")
    return phone


def line(ctx: ApiContext, call: Call, api: Api, phone: str) -> OgSubscriber:
    """The world's subscriber behind a number (404 in the version's words when there is none)."""
    sub = ctx.subscriber(ciba.LoginHint("tel", phone))
    if sub is None:
        raise api.error(call.version, "unknown")
    return sub
