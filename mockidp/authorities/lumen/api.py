"""The stand-in Lumen API at the root of api.lumen.com (under /lumen here): seed 000's step 6 — the LIAM token in
`Authorization: Bearer`, and the extra authorization an API may enforce with `x-billing-account-number` and
`x-customer-number`.

401 for a missing token or one not minted by a mechanism the route accepts (a B2C token, a PFW/APIGEE/Digest
one, a foreign signature), 400 when a header the route requires is absent, 403 when a header names a BAN or customer
the token does not carry, 200 otherwise. Errors in Lumen's shape (`reason`, `message`, `referenceError`, `code`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from typing import Any

from mockidp.authorities.lumen.context import LumenContext
from mockidp.authorities.lumen.digest import Digest
from mockidp.authorities.lumen.errors import lumen_error, missing_credentials, render_lumen_error
from mockidp.authorities.lumen.world import LumenApiRoute
from mockidp.errors import OAuthError
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, peek

BAN_HEADER, CUSTOMER_HEADER = "x-billing-account-number", "x-customer-number"
Verifier = Callable[[Request, str], dict[str, Any]]


class LumenApi:
    def __init__(self, context: LumenContext, verifiers: Mapping[str, Verifier], digest: Digest) -> None:
        self.context = context
        # Bearer mechanism -> verifier. Digest is no bearer token: routes listing it go through the Digest issuer.
        self.verifiers: dict[str, Verifier] = {**verifiers, "PFW": self.verify_pfw_token}
        self.digest = digest

    def verify_pfw_token(self, req: Request, token: str) -> dict[str, Any]:
        """A Portal Framework token (another authority: its own keys), as the API's claims: the person's accounts."""
        verify_pfw: Callable[[str, str], dict[str, Any]] = self.context.services.capability("pfw.verify-access-token")
        here = req.base.removesuffix(self.context.prefix)
        claims = verify_pfw(token, here)
        return {**claims, "clientId": claims.get("azp"), "customerNumbers": claims.get("accounts") or [], "mechanism": "PFW"}

    def route_for(self, method: str, path: str) -> LumenApiRoute | None:
        for route in self.context.config.api_routes:
            if route.method == method and fnmatch.fnmatchcase(path, route.path):
                return route
        return None

    def handle(self, req: Request) -> Reply:
        path = "/" + req.path_params.get("path", "")
        route = self.route_for(req.method, path)
        if route is None:
            raise lumen_error(404, "notFound", "Resource not found", f"No API route {req.method} {path}")
        if "Digest" not in route.mechanisms:
            return self.serve(req, path, route, self.bearer_claims(req, route))
        # A route that accepts the deprecated App Key + Digest challenges for it on every 401.
        digest = self.digest
        used_digest = req.headers.get("authorization", "").partition(" ")[0].lower() == "digest"
        try:
            if used_digest or route.mechanisms == ["Digest"]:
                reply = self.serve(req, path, route, digest.authenticate(req))
                return digest.deprecate(reply)
            return self.serve(req, path, route, self.bearer_claims(req, route))
        except OAuthError as err:
            return digest.refuse(err, req) if err.status == 401 or used_digest else render_lumen_error(err, req)

    def bearer_claims(self, req: Request, route: LumenApiRoute) -> dict[str, Any]:
        token = req.bearer
        if token is None:
            raise missing_credentials(f"Send an access token of {', '.join(route.mechanisms)} as Authorization: Bearer <token>.")
        return self.authenticate(req, route, token)

    def serve(self, req: Request, path: str, route: LumenApiRoute, claims: dict[str, Any]) -> Reply:
        bans = claims.get("bans") or []
        customers = claims.get("customerNumbers") or [claims.get("customerNumber")]  # a PFW person may act for several
        for header in route.required_headers:
            if not req.headers.get(header):
                raise lumen_error(400, "missingHeader", "Missing required header", f"This API requires the {header} header.")
        ban, cust = req.headers.get(BAN_HEADER), req.headers.get(CUSTOMER_HEADER)
        if ban and ban not in bans:
            raise lumen_error(403, "banNotAuthorized", "Billing account not authorized",
                              f"Billing account {ban} is not associated with this application.")
        if cust and cust not in customers:
            raise lumen_error(403, "customerNotAuthorized", "Customer not authorized",
                              f"Customer {cust} does not match this application's customer.")
        return Reply(200, json={
            "path": path, "method": req.method, "clientId": claims.get("clientId"), "customerNumber": cust or customers[0],
            "billingAccountNumber": ban, "billingAccountNumbers": bans, "environment": claims.get("environment"),
            "mechanism": claims.get("mechanism", "LIAM"),
        })

    def authenticate(self, req: Request, route: LumenApiRoute, token: str) -> dict[str, Any]:
        try:
            _, unverified = peek(token)
        except TokenInvalid as exc:
            raise lumen_error(401, "invalidToken", "Invalid access token", f"The bearer token is not a JWT: {exc}") from exc
        failure: TokenInvalid | None = None
        for mechanism in route.mechanisms:
            verifier = self.verifiers.get(mechanism)
            if verifier is None:
                continue
            try:
                return verifier(req, token)
            except TokenInvalid as exc:  # keep what the token's own mechanism said, not another's "wrong key"
                failure = exc if failure is None or exc.reason not in ("key", "signature", "algorithm") else failure
        if failure is not None and failure.reason == "expired":
            raise lumen_error(401, "expiredToken", "Expired access token", "The access token has expired; get a new one at /oauth/v2/token.")
        if failure is not None and failure.reason == "environment":
            raise lumen_error(401, "environmentMismatch", "Environment mismatch", str(failure))
        hint = " It is an Azure AD B2C token: exchange it at /oauth/v2/token as client_assertion." if "tfp" in unverified else ""
        raise lumen_error(401, "invalidToken", "Invalid access token",
                          f"Not a token of an accepted mechanism ({', '.join(route.mechanisms)}).{hint}")
