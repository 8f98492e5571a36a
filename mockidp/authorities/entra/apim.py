"""The stand-in Azure API Management gateway in front of the five°degrees public API, under /entra/apim/{api}/...

Seed 003: token handling is done in API Management; the backends (BFFs, micro services) only learn from it who is
calling. The gate behaves like a `validate-jwt` inbound policy (azure-docs `validate-jwt-policy.md`, summarised in
shared/reference/entra.md): token from the Authorization header with the required scheme, `exp` required, signature
from the tenant's openid-config keys (RS256 only: validate-jwt takes RS256 and HS256), audiences and issuers any-of,
required claims, clock skew 0 by default. A failure answers `{"statusCode": 401, "message": ...}`.
On success set-header policies copy claims into headers and the request goes on to the stand-in backend, which
answers 202 Accepted for a command (a long-running process) and 200 OK for a query, echoing the identity it got.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import uuid
from typing import Any

from mockidp.authorities.entra.context import EntraContext
from mockidp.authorities.entra.world import ApimApi, ApimBackend
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, peek, verify

# validate-jwt's own messages, used when the policy sets no failed-validation-error-message [wording unsure].
MESSAGES = {
    "missing": "JWT not present.",
    "malformed": "JWT Validation Failed: JWT is malformed.",
    "signature": "JWT Validation Failed: JWT signature validation failed.",
    "no_expiry": "JWT Validation Failed: JWT has no expiration time.",
    "expired": "JWT Validation Failed: Lifetime validation failed. The token is expired.",
    "not_yet_valid": "JWT Validation Failed: Lifetime validation failed. The token is not yet valid.",
    "audience": "JWT Validation Failed: Audience validation failed.",
    "issuer": "JWT Validation Failed: Issuer validation failed.",
}


SUBSCRIPTION_HEADER, SUBSCRIPTION_QUERY = "Ocp-Apim-Subscription-Key", "subscription-key"  # APIM's default names
MISSING_KEY = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
INVALID_KEY = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."
RATE = "entra-apim-rate"  # store kind: calls per API, subscription key (hashed) and window


class GateFailure(Exception):
    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message or MESSAGES[reason]


class ApimGateway:
    def __init__(self, entra: EntraContext) -> None:
        self.entra = entra

    def handle(self, req: Request) -> Reply:
        api = self.entra.apis.get(req.path_params.get("api", ""))
        if api is None:
            return Reply(404, json={"statusCode": 404, "message": "Resource not found"}, error="not_found")
        refused = self.subscription(api, req)
        if refused is not None:
            return refused
        try:
            claims = self.validate(api, req)
        except GateFailure as failure:
            status = api.failed_validation_httpcode
            message = api.failed_validation_error_message or failure.message
            # The reason header is mockidp's, for debugging; APIM itself says only `message`.
            return Reply(status, json={"statusCode": status, "message": message}, headers={"x-mockidp-reason": failure.reason}, error="invalid_token")
        forwarded = dict(self.identity_headers(api, claims))
        forwarded["Authorization"] = req.headers.get("authorization", "")  # APIM passes it through unchanged
        return backend(api.backend, req.method, "/" + req.path_params.get("path", ""), req.query, forwarded)

    def subscription(self, api: ApimApi, req: Request) -> Reply | None:
        """The subscription key, before any policy runs, then the rate-limit-by-key policy ahead of validate-jwt.
        Texts: learn.microsoft.com troubleshoot/azure/api-management "unauthorized errors" (401) and the
        rate-limit policy's 429 (shared/reference/entra-identities.md §9)."""
        key = req.headers.get(SUBSCRIPTION_HEADER.lower()) or req.query.get(SUBSCRIPTION_QUERY)
        if api.subscription_required:
            if not key:
                return Reply(401, json={"statusCode": 401, "message": MISSING_KEY}, error="missing_subscription_key")
            if not any(hmac.compare_digest(key.encode(), k.encode()) for k in api.subscription_keys):
                return Reply(401, json={"statusCode": 401, "message": INVALID_KEY}, error="invalid_subscription_key")
        if api.rate_limit_calls and key:
            now, period = self.entra.now, api.rate_limit_period
            window = int(now // period) * period
            counter = f"{api.path}:{hashlib.sha256(key.encode()).hexdigest()}:{window}"  # the key itself is a secret
            store = self.entra.services.store
            store.add_once(RATE, counter, window + period, now)
            held = store.update(RATE, counter, now, lambda r: {**r, "calls": int(r.get("calls", 0)) + 1})
            if held is not None and int(held["calls"]) > api.rate_limit_calls:
                wait = max(1, math.ceil(window + period - now))
                return Reply(429, json={"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {wait} seconds."},
                             headers={"Retry-After": str(wait)}, error="rate_limited")
        return None

    def validate(self, api: ApimApi, req: Request) -> dict[str, Any]:
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if not token or scheme.lower() != api.require_scheme.lower():
            raise GateFailure("missing")
        try:
            header, _ = peek(token)
        except TokenInvalid as exc:
            raise GateFailure("malformed") from exc
        if header.get("alg") != "RS256":
            raise GateFailure("signature")
        tenant = self.entra.tenants[api.tenant.lower()]
        try:
            _, claims = verify(token, self.entra.tenant_keyset(tenant), now=self.entra.now, leeway=api.clock_skew, require_exp=api.require_expiration_time)
        except TokenInvalid as exc:
            if exc.reason == "expired" and "no exp" in str(exc):
                raise GateFailure("no_expiry") from exc
            raise GateFailure(exc.reason if exc.reason in MESSAGES else "signature") from exc
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if api.audiences and not any(a in api.audiences for a in auds):
            raise GateFailure("audience")
        if claims.get("iss") not in self.issuers(api, req):
            raise GateFailure("issuer")
        self.check_claims(api, claims)
        return claims

    def issuers(self, api: ApimApi, req: Request) -> set[str]:
        tenant = self.entra.tenants[api.tenant.lower()]
        if not api.issuers:
            return set(self.entra.known_issuers(req, tenant))
        bases = self.entra.bases(req)
        return {i.replace("{base}", b) for i in api.issuers for b in bases}

    @staticmethod
    def check_claims(api: ApimApi, claims: dict[str, Any]) -> None:
        missing = [c.name for c in api.required_claims if c.name not in claims]
        if missing:
            raise GateFailure("claims", f"JWT token is missing the following claims: {', '.join(missing)}. Access denied.")
        for rule in api.required_claims:
            value = claims[rule.name]
            held = {str(v) for v in value} if isinstance(value, list) else {str(value)}
            wanted = set(rule.values)
            if wanted and not (wanted <= held if rule.match == "all" else wanted & held):
                raise GateFailure("claims", f"JWT Validation Failed: Claim value mismatch: {rule.name}={', '.join(rule.values)}.")

    @staticmethod
    def identity_headers(api: ApimApi, claims: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        for name, sources in api.identity_headers.items():
            value = next((claims[c] for c in sources if c in claims), None)
            if value is not None:
                out.append((name, ",".join(map(str, value)) if isinstance(value, list) else str(value)))
        return out


def backend(config: ApimBackend, method: str, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
    """The five°degrees BFF stand-in: it trusts the gateway and reads the caller only from the headers it set."""
    identity = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    body: dict[str, Any] = {
        "backend": config.name, "method": method, "path": path, "query": query,
        "identity": identity, "authorization_forwarded": bool(headers.get("Authorization")),
    }
    if method.upper() in (m.upper() for m in config.command_methods):
        operation = str(uuid.uuid4())
        body.update({"kind": "command", "status": "Accepted", "operation_id": operation})
        return Reply(202, json=body)
    body.update({"kind": "query", "status": "OK"})
    return Reply(200, json=body)
