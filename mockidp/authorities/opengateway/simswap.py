"""The CAMARA SIM Swap API (v0) behind the Open Gateway: `POST /sim-swap/v0/check` and `/retrieve-date`.

Only access tokens of this authority's API gateway with the sim-swap scope get through; with such a 3-legged
(CIBA) token the phone number comes from the token, and a body number that disagrees is 403
INVALID_TOKEN_CONTEXT. Answers are world data per subscriber. Errors in CAMARA's ErrorInfo
`{"status", "code", "message"}` (reference: "The protected API (CAMARA style)")."""

from __future__ import annotations

from typing import Any

from mockidp import jsonbytes
from mockidp.authorities.opengateway.context import SimSwapContext
from mockidp.authorities.opengateway.world import OgSubscriber
from mockidp.errors import OAuthError
from mockidp.oauth import ciba
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, verify

UNAUTHENTICATED = "Request not authenticated due to missing, invalid, or expired credentials. A new authentication is required."
# What a glue error (unreadable body, 413, 500, a fault named in OAuth terms) becomes in CAMARA's vocabulary.
BY_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "CONFLICT",
             413: "INVALID_ARGUMENT", 422: "UNPROCESSABLE_ENTITY", 429: "TOO_MANY_REQUESTS", 503: "UNAVAILABLE"}


def camara_error(status: int, code: str, message: str) -> OAuthError:
    return OAuthError(code, message, status)


def camara_reply(err: OAuthError, req: Request | None = None) -> Reply:
    """CAMARA codes are upper case; anything else (an OAuth-style glue error) is mapped by status."""
    code = err.error if err.error.isupper() else BY_STATUS.get(err.status, "INTERNAL" if err.status >= 500 else "INVALID_ARGUMENT")
    headers = dict(err.headers)
    if err.status == 401:
        headers.setdefault("www-authenticate", 'Bearer realm="opengateway"')
    return Reply(err.status, json={"status": err.status, "code": code, "message": err.description or code}, headers=headers, error=code)


class SimSwapApi:
    def __init__(self, authority: SimSwapContext) -> None:
        self.authority = authority

    def check(self, req: Request) -> Reply:
        _claims, body, sub = self.authorize(req, "sim-swap:check")
        max_age = body.get("maxAge", 240)
        if not isinstance(max_age, int) or isinstance(max_age, bool):
            raise camara_error(400, "INVALID_ARGUMENT", "maxAge must be an integer number of hours")
        if not 1 <= max_age <= 2400:
            raise camara_error(400, "OUT_OF_RANGE", "maxAge must be between 1 and 2400 hours")
        return Reply(json={"swapped": sub.sim_swapped})

    def retrieve_date(self, req: Request) -> Reply:
        _, _, sub = self.authorize(req, "sim-swap:retrieve-date")
        return Reply(json={"latestSimChange": sub.latest_sim_change})

    def authorize(self, req: Request, scope: str) -> tuple[dict[str, Any], dict[str, Any], OgSubscriber]:
        """The token's claims, the JSON body and the subscriber the token names, in CAMARA's order of checks."""
        claims = self.verified(req)
        granted = set(claims.get("scope", "").split()) if isinstance(claims.get("scope"), str) else set()
        if not granted & {"sim-swap", scope}:
            raise camara_error(403, "PERMISSION_DENIED", f"Client does not have sufficient permissions to perform this action: the token lacks {scope}.")
        body = self.body(req)
        phone = body.get("phoneNumber")
        if phone is not None and (not isinstance(phone, str) or not ciba.E164.fullmatch(phone)):
            raise camara_error(400, "INVALID_ARGUMENT", "phoneNumber must be a string in E.164 format, e.g. +34666666666")
        token_phone = claims.get("phone_number")
        if phone is not None and phone != token_phone:
            raise camara_error(403, "INVALID_TOKEN_CONTEXT", "phoneNumber is not consistent with access token.")
        if not token_phone:
            raise camara_error(422, "SERVICE_NOT_APPLICABLE", "The service is not available for the provided identifier: no phone number is known for it.")
        sub = self.authority.subscriber(ciba.LoginHint("tel", token_phone))
        if sub is None:
            raise camara_error(404, "IDENTIFIER_NOT_FOUND", "Device identifier not found.")
        return claims, body, sub

    def verified(self, req: Request) -> dict[str, Any]:
        token = req.bearer
        if token is None:
            raise camara_error(401, "UNAUTHENTICATED", UNAUTHENTICATED)
        issuer = self.authority.issuers()[0]
        try:
            _, claims = verify(token, issuer.keyset, now=self.authority.now)
        except TokenInvalid as exc:
            raise camara_error(401, "UNAUTHENTICATED", f"{UNAUTHENTICATED} ({exc})") from exc
        # An id token of the same issuer is signed with the same key: its at_hash / auth_req_id claim keeps it out.
        # The gateway's access tokens name the gateway base as their audience (OpenGateway.issue).
        if claims.get("aud") != req.base:
            raise camara_error(401, "UNAUTHENTICATED", f"{UNAUTHENTICATED} (aud {claims.get('aud')!r} is not this API gateway)")
        if claims.get("iss") != issuer.url(req.base) or "at_hash" in claims or ciba.AUTH_REQ_ID_CLAIM in claims:
            raise camara_error(401, "UNAUTHENTICATED", f"{UNAUTHENTICATED} (not an access token of this API gateway)")
        return claims

    @staticmethod
    def body(req: Request) -> dict[str, Any]:
        try:  # nesting bounded before parsing (the glue bounds the size): a deep body is 400, never a RecursionError
            return jsonbytes.loads_object(req.body or b"{}")
        except jsonbytes.JsonRefused as exc:
            raise camara_error(400, "INVALID_ARGUMENT", str(exc)) from exc
