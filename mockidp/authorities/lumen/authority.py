"""Lumen APIs (api.lumen.com): LIAM, the go-forward token service backed by Azure AD B2C, and the APIs that
accept its tokens. Seed 000; wire facts: shared/reference/lumen-b2c.md.

One Control Center registration (`[[lumen.apps]]`) is both a B2C app (b2c.py reads these) and the LIAM user record
for its client id. LIAM "has B2C authorize the credentials" by calling the B2C authority in-process, then mints its
*own* token (own issuer, own keys) from the user record. PFW, APIGEE and Digest are other authorities with other
keys: the API stand-in (authorities/lumen/api.py) accepts a token only from a mechanism a route lists.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.authorities.lumen.apigee import Apigee, ApigeeApp, render_apigee_error
from mockidp.authorities.lumen.digest import Digest, DigestApp, DigestSettings, check_apps
from mockidp.errors import OAuthError
from mockidp.oauth.clientauth import JWT_BEARER, MixedCredentials, presented_credentials
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, sign, verify

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
MECHANISMS = ("LIAM", "PFW", "APIGEE", "Digest")  # seed 000's four; each route lists those it accepts
LIAM_AUDIENCE = "api.lumen.com"  # what every LIAM token is for: the Lumen APIs


@dataclass
class LumenApp:
    """One Control Center API application: a B2C app (client id + secret) and the LIAM user record for it."""

    client_id: str
    secret: str
    bans: list[str] = field(default_factory=list)
    customer_number: str = ""
    environment: str = "test"
    token_lifetime: int = 3600
    enabled: bool = True


@dataclass
class LumenApiRoute:
    """A route of the stand-in Lumen API: which token mechanisms it accepts and which headers it insists on.
    `x-billing-account-number` / `x-customer-number` are checked against the token whenever sent (seed 000)."""

    path: str  # fnmatch pattern below the API root, e.g. "/Billing/v1/customerBill"
    method: str = "GET"
    required_headers: list[str] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=lambda: ["LIAM"])


@dataclass
class LumenWorld:
    environment: str = "test"  # LIAM's current environment: a user record of another one is refused
    b2c_tenant: str = "lumendemo"
    b2c_policy: str = "B2C_1_client_credentials"
    liam_api: str = "https://lumendemo.onmicrosoft.com/liam"  # LIAM's App ID URI in B2C
    apps: list[LumenApp] = field(default_factory=list)
    api_routes: list[LumenApiRoute] = field(default_factory=list)
    apigee_apps: list[ApigeeApp] = field(default_factory=list)  # legacy APIGEE apps (lumen_apigee.py)
    digest_apps: list[DigestApp] = field(default_factory=list)  # deprecated App Key + Digest apps (authorities/lumen/digest.py)
    digest: DigestSettings = field(default_factory=DigestSettings)

    def finish(self, base_dir: Path, seed: int) -> None:
        seen: set[str] = set()
        for a, app in enumerate(self.apps):
            if app.client_id.lower() in seen:
                raise ValueError(f"lumen.apps[{a}].client_id: duplicate app {app.client_id!r}")
            seen.add(app.client_id.lower())
            if app.token_lifetime <= 0:
                raise ValueError(f"lumen.apps[{a}].token_lifetime: must be a positive number of seconds")
        for r, route in enumerate(self.api_routes):
            route.method = route.method.upper()
            route.required_headers = [h.lower() for h in route.required_headers]
            if not route.path.startswith("/"):
                raise ValueError(f"lumen.api_routes[{r}].path: must start with '/'")
            unknown = [m for m in route.mechanisms if m not in MECHANISMS]
            if unknown:
                raise ValueError(f"lumen.api_routes[{r}].mechanisms: unknown {unknown}; choose from {list(MECHANISMS)}")
        if len({a.consumer_key for a in self.apigee_apps}) != len(self.apigee_apps):
            raise ValueError("lumen.apigee_apps: duplicate consumer_key")
        check_apps(self.digest_apps)


def lumen_error(status: int, code: str, reason: str, message: str, reference: str = "") -> OAuthError:
    """An error in Lumen's (Apigee) shape: `reason`, `message`, `referenceError`, `code`."""
    return OAuthError(code, message, status, headers=dict(NO_STORE), extra={"reason": reason, "referenceError": reference})


def missing_credentials(message: str = "Provide client credentials with HTTP Basic or client_id and client_secret.") -> OAuthError:
    # The recorded probe of https://api.lumen.com/oauth/v2/token without credentials (lumen-b2c.md).
    return lumen_error(401, "missingCredentials", "Missing or no credentials provided", message)


class Lumen(Authority):
    name = "lumen"
    title = "Lumen LIAM (api.lumen.com)"
    prefix = "/lumen"
    host_patterns = (r"api\.lumen\.com", r"api-test\.lumen\.com")
    cert_hostnames = ('api.lumen.com', 'api-test.lumen.com')
    config: LumenWorld
    world_type = LumenWorld

    def load(self) -> None:
        self.apps = {a.client_id.lower(): a for a in self.config.apps}
        self.apigee, self.digest = Apigee(self), Digest(self)

    # What LIAM asks of Azure AD B2C (the B2C authority offers them by name: Authority.capabilities).
    def b2c_client_credentials(self, client_id: str, secret: str) -> dict[str, Any]:
        check: Callable[..., dict[str, Any]] = self.services.capability("b2c.client-credentials")
        return check(self.config.b2c_tenant, self.config.b2c_policy, client_id, secret, f"{self.config.liam_api}/.default")

    def b2c_verify(self, token: str) -> dict[str, Any]:
        verify_b2c: Callable[..., dict[str, Any]] = self.services.capability("b2c.verify-access-token")
        return verify_b2c(self.config.b2c_tenant, token, audience=self.config.liam_api)

    def register_app(
        self, bans: list[str], customer_number: str, *, token_lifetime: int = 3600, environment: str | None = None,
        client_id: str | None = None, secret: str | None = None,
    ) -> LumenApp:
        """What a Control Center developer does at runtime: create an API application with BANs and a lifetime;
        the app appears in B2C and its credentials are returned. The same as adding to `lumen/apps` through the
        control surface (`POST /_mockidp/world/lumen/apps`); reset drops it."""
        item = {"client_id": client_id or str(uuid.uuid4()), "secret": secret or secrets.token_urlsafe(24), "bans": list(bans),
                "customer_number": customer_number, "environment": environment or self.config.environment, "token_lifetime": token_lifetime}
        self.services.world_add("lumen/apps", item)
        return self.apps[str(item["client_id"]).lower()]

    def issuers(self) -> list[Issuer]:
        return [
            Issuer("liam", self.keyset("liam"), "/oauth/v2", None, "/oauth/v2/jwks", "/oauth/v2/token"),
            Issuer("apigee", self.keyset("apigee"), Apigee.ISSUER_PATH, None, "/oauth/jwks", "/oauth/token"),
            Issuer("digest", self.keyset("digest"), Digest.ISSUER_PATH, None, "/digest/jwks"),  # signs the Digest nonces
        ]

    def demo_lines(self) -> list[str]:
        return [f"LIAM app {a.client_id} / {a.secret}: BANs {', '.join(a.bans)}, customer {a.customer_number}, env {a.environment}" for a in self.config.apps] + [
            f"APIGEE app {a.consumer_key} / {a.consumer_secret}: BANs {', '.join(a.bans)}" for a in self.config.apigee_apps] + [
            f"Digest app key {a.app_key}, user {a.username} / {a.password} ({', '.join(a.algorithms)})" for a in self.config.digest_apps]

    def render_error(self, err: OAuthError, req: Request | None) -> Reply:
        body = {
            "reason": err.extra.get("reason") or (err.description or err.error),
            "message": err.description or err.error,
            "referenceError": err.extra.get("referenceError", ""),
            "code": err.error,
        }
        return Reply(err.status, json=body, headers=dict(err.headers), error=err.error)

    def named_error(self, name: str, description: str | None = None) -> OAuthError:
        known = {
            "missingCredentials": (401, "Missing or no credentials provided"),
            "invalidCredentials": (401, "Invalid credentials"),
            "invalidToken": (401, "Invalid access token"),
            "unsupportedGrantType": (400, "Unsupported grant type"),
            "temporarily_unavailable": (503, "Service temporarily unavailable"),
        }
        status, reason = known.get(name, (400, name))
        return lumen_error(status, name, reason, description or reason)

    def endpoints(self) -> list[Endpoint]:
        from mockidp.authorities.lumen.api import LumenApi

        return [
            Endpoint("/oauth/v2/token", "token", self.token, ("POST",)),
            Endpoint("/oauth/v2/jwks", "jwks", self.jwks),
            Endpoint("/oauth/token", "apigee-token", self.apigee.token, ("POST",), render_error=render_apigee_error),
            Endpoint("/oauth/jwks", "apigee-jwks", self.apigee.jwks),
            Endpoint("/digest/jwks", "digest-jwks", self.digest.jwks),
            # Last: the APIs live at the root of api.lumen.com, beside /oauth.
            Endpoint("/{path:path}", "api", LumenApi(self).handle, ("GET", "POST", "PUT", "PATCH", "DELETE")),
        ]

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.issuers()[0].keyset.jwks())

    def issuer(self, base: str) -> str:
        return base + "/oauth/v2"

    # --- POST /oauth/v2/token --------------------------------------------------------------------------

    def token(self, req: Request) -> Reply:
        if req.duplicates:
            raise lumen_error(400, "invalidRequest", "Invalid request", f"Parameters sent more than once: {', '.join(sorted(req.duplicates))}")
        try:
            creds = presented_credentials(req)
        except MixedCredentials as exc:  # RFC 6749 §2.3: Basic and body credentials together are two methods
            raise lumen_error(400, "invalidRequest", "Invalid request", str(exc)) from exc
        if creds.assertion is not None:
            return self.assertion_flow(req, creds.assertion)
        client_id, secret = creds.client_id or "", creds.secret or ""
        if not client_id or not secret:
            raise missing_credentials()
        self.check_grant_type(req)
        try:
            self.b2c_client_credentials(client_id, secret)
        except OAuthError as exc:  # what B2C would reject is rejected here, B2C's code as the reference
            reference = (exc.description or "").split(":", 1)[0] if exc.code is not None else exc.error
            raise lumen_error(401, "invalidCredentials", "Invalid credentials", "The client credentials were not authorized by Azure AD B2C.", reference) from exc
        return self.issue(req, self.user_for(client_id), "client_credentials")

    def check_grant_type(self, req: Request) -> None:
        grant_type = req.param("grant_type")
        if grant_type != "client_credentials":
            raise lumen_error(400, "unsupportedGrantType", "Unsupported grant type",
                              f"grant_type must be client_credentials, got {grant_type!r}" if grant_type else "grant_type is required")

    def assertion_flow(self, req: Request, assertion: str) -> Reply:
        """Seed 000's secondary flow: a B2C access token as client_assertion, with client_id."""
        client_id = req.param("client_id")
        if not client_id:
            raise missing_credentials("A client_assertion must come with its client_id.")
        self.check_grant_type(req)
        assertion_type = req.param("client_assertion_type")
        if assertion_type is not None and assertion_type != JWT_BEARER:
            raise lumen_error(400, "invalidAssertionType", "Invalid client assertion type", f"client_assertion_type must be {JWT_BEARER}")
        try:
            claims = self.b2c_verify(assertion)
        except TokenInvalid as exc:
            if exc.reason == "expired":
                raise lumen_error(401, "expiredAssertion", "Expired client assertion", "The Azure AD B2C token has expired.") from exc
            raise lumen_error(401, "invalidAssertion", "Invalid client assertion", f"Not a valid Azure AD B2C access token: {exc}") from exc
        if claims.get("azp") != client_id:  # (a) not RFC 7523 iss/sub: B2C's authorized party
            raise lumen_error(401, "clientIdMismatch", "Client assertion not issued to this client",
                              f"The B2C token's azp {claims.get('azp')!r} does not equal client_id {client_id!r}.")
        return self.issue(req, self.user_for(client_id), "client_assertion")  # (b) and (c) in user_for

    def user_for(self, client_id: str) -> LumenApp:
        user = self.apps.get(client_id.lower())
        if user is None:
            raise lumen_error(401, "userNotFound", "User not found", f"No LIAM user is registered for client {client_id!r}.")
        if user.environment != self.config.environment:
            raise lumen_error(401, "environmentMismatch", "Environment mismatch",
                              f"The application is registered for environment {user.environment!r}; this is {self.config.environment!r}.")
        if not user.enabled:
            raise lumen_error(401, "userDisabled", "User disabled", f"The LIAM user for client {client_id!r} is disabled.")
        return user

    def issue(self, req: Request, user: LumenApp, method: str) -> Reply:
        now = self.now
        claims: dict[str, Any] = {
            "iss": self.issuer(req.base),
            "sub": user.client_id,
            "aud": LIAM_AUDIENCE,
            "clientId": user.client_id,
            "bans": list(user.bans),
            "customerNumber": user.customer_number,
            "environment": user.environment,
            "authMethod": method,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + user.token_lifetime,
            "jti": str(uuid.uuid4()),
            **self.planned_claims(user.client_id),
        }
        token = sign(self.issuers()[0].keyset, claims)
        # Apigee style (lumen-b2c.md; Lumen's own Go client parses both numbers from strings).
        body = {"access_token": token, "issued_at": str(int(now * 1000)), "expires_in": str(user.token_lifetime), "token_type": "Bearer"}
        return Reply(json=body, headers=dict(NO_STORE), issued=[token])

    def mint_defaults(self, issuer: Issuer, base: str) -> dict[str, Any]:
        return {"aud": LIAM_AUDIENCE} if issuer.id == "liam" else {"aud": Apigee.AUDIENCE} if issuer.id == "apigee" else {}

    def verify_liam_token(self, req: Request, token: str) -> dict[str, Any]:
        """A LIAM access token's claims, checked: LIAM's signature, expiry, issuer, environment."""
        _, claims = verify(token, self.issuers()[0].keyset, now=self.now)
        if claims.get("iss") not in (self.issuer(req.base), self.issuer(self.default_base())):
            raise TokenInvalid("issuer", "token issued by another LIAM issuer")
        if claims.get("aud") != LIAM_AUDIENCE:
            raise TokenInvalid("audience", f"aud {claims.get('aud')!r} is not {LIAM_AUDIENCE}")
        if claims.get("environment") != self.config.environment:
            raise TokenInvalid("environment", f"token minted for environment {claims.get('environment')!r}, this is {self.config.environment!r}")
        return claims
