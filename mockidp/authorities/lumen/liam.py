"""LIAM: the go-forward token service of the Lumen APIs, `POST /oauth/v2/token` (seed 000; wire facts:
shared/reference/lumen-b2c.md). LIAM "has B2C authorize the credentials" by asking the B2C authority in-process
(its `b2c.client-credentials` and `b2c.verify-access-token` capabilities), then mints its *own* token (own issuer,
own keys) from the LIAM user record of the client id."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from mockidp.authorities.lumen.context import LumenContext
from mockidp.authorities.lumen.errors import lumen_error, missing_credentials
from mockidp.authorities.lumen.world import LumenApp
from mockidp.errors import OAuthError
from mockidp.keys import KeySet
from mockidp.oauth.clientauth import JWT_BEARER, ClientCredentials, MixedCredentials, presented_credentials
from mockidp.oauth.token_endpoint import TokenEndpoint, token_reply
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, sign, verify

LIAM_AUDIENCE = "api.lumen.com"  # what every LIAM token is for: the Lumen APIs
ISSUER_PATH = "/oauth/v2"


class LiamTokenErrors:
    def duplicated(self, names: Sequence[str]) -> OAuthError:
        return lumen_error(400, "invalidRequest", "Invalid request", f"Parameters sent more than once: {', '.join(names)}")

    def missing_grant_type(self) -> OAuthError:
        return lumen_error(400, "unsupportedGrantType", "Unsupported grant type", "grant_type is required")

    def unsupported_grant_type(self, grant_type: str) -> OAuthError:
        return lumen_error(400, "unsupportedGrantType", "Unsupported grant type", f"grant_type must be client_credentials, got {grant_type!r}")


class Liam:
    """The LIAM issuer of the Lumen authority: its token endpoint and the API's verifier of its tokens."""

    def __init__(self, context: LumenContext) -> None:
        self.context = context
        self.apps = {a.client_id.lower(): a for a in context.config.apps}
        # LIAM names missing credentials before a wrong grant_type, and asks B2C about them only after: "client"
        # reads the credentials the request carries; B2C's judgment is the grant's.
        self.token = TokenEndpoint[str, ClientCredentials](
            issuer_of=lambda req: self.issuer(req.base), grants={"client_credentials": self.client_credentials},
            authenticate=self.presented, errors=LiamTokenErrors(), order=("duplicates", "client", "grant_type"),
        )

    @property
    def keyset(self) -> KeySet:
        return self.context.keyset("liam")

    @staticmethod
    def issuer(base: str) -> str:
        return base + ISSUER_PATH

    # What LIAM asks of Azure AD B2C (the B2C authority offers them by name: Authority.capabilities).
    def b2c_client_credentials(self, client_id: str, secret: str) -> dict[str, Any]:
        config = self.context.config
        check: Callable[..., dict[str, Any]] = self.context.services.capability("b2c.client-credentials")
        return check(config.b2c_tenant, config.b2c_policy, client_id, secret, f"{config.liam_api}/.default")

    def b2c_verify(self, token: str) -> dict[str, Any]:
        verify_b2c: Callable[..., dict[str, Any]] = self.context.services.capability("b2c.verify-access-token")
        return verify_b2c(self.context.config.b2c_tenant, token, audience=self.context.config.liam_api)

    # --- POST /oauth/v2/token --------------------------------------------------------------------------

    def presented(self, issuer: str, req: Request, grant_type: str) -> ClientCredentials:
        try:
            creds = presented_credentials(req)
        except MixedCredentials as exc:  # RFC 6749 §2.3: Basic and body credentials together are two methods
            raise lumen_error(400, "invalidRequest", "Invalid request", str(exc)) from exc
        if creds.assertion is not None:
            if not req.param("client_id"):
                raise missing_credentials("A client_assertion must come with its client_id.")
        elif not creds.client_id or not creds.secret:
            raise missing_credentials()
        return creds

    def client_credentials(self, issuer: str, creds: ClientCredentials, req: Request) -> Reply:
        if creds.assertion is not None:
            return self.assertion_flow(issuer, req, creds.assertion)
        client_id, secret = creds.client_id or "", creds.secret or ""
        try:
            self.b2c_client_credentials(client_id, secret)
        except OAuthError as exc:  # what B2C would reject is rejected here, B2C's code as the reference
            reference = (exc.description or "").split(":", 1)[0] if exc.code is not None else exc.error
            raise lumen_error(401, "invalidCredentials", "Invalid credentials", "The client credentials were not authorized by Azure AD B2C.", reference) from exc
        return self.issue(issuer, self.user_for(client_id), "client_credentials")

    def assertion_flow(self, issuer: str, req: Request, assertion: str) -> Reply:
        """Seed 000's secondary flow: a B2C access token as client_assertion, with client_id."""
        client_id = req.param("client_id") or ""
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
        return self.issue(issuer, self.user_for(client_id), "client_assertion")  # (b) and (c) in user_for

    def user_for(self, client_id: str) -> LumenApp:
        user = self.apps.get(client_id.lower())
        environment = self.context.config.environment
        if user is None:
            raise lumen_error(401, "userNotFound", "User not found", f"No LIAM user is registered for client {client_id!r}.")
        if user.environment != environment:
            raise lumen_error(401, "environmentMismatch", "Environment mismatch",
                              f"The application is registered for environment {user.environment!r}; this is {environment!r}.")
        if not user.enabled:
            raise lumen_error(401, "userDisabled", "User disabled", f"The LIAM user for client {client_id!r} is disabled.")
        return user

    def issue(self, issuer: str, user: LumenApp, method: str) -> Reply:
        now = self.context.now
        claims: dict[str, Any] = {
            "iss": issuer,
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
            **self.context.planned_claims(user.client_id),
        }
        token = sign(self.keyset, claims)
        # Apigee style (lumen-b2c.md; Lumen's own Go client parses both numbers from strings).
        body = {"access_token": token, "issued_at": str(int(now * 1000)), "expires_in": str(user.token_lifetime), "token_type": "Bearer"}
        return token_reply(body, issued=[token])

    def verify(self, req: Request, token: str) -> dict[str, Any]:
        """A LIAM access token's claims, checked: LIAM's signature, expiry, issuer, environment."""
        environment = self.context.config.environment
        _, claims = verify(token, self.keyset, now=self.context.now)
        if claims.get("iss") not in (self.issuer(req.base), self.issuer(self.context.default_base())):
            raise TokenInvalid("issuer", "token issued by another LIAM issuer")
        if claims.get("aud") != LIAM_AUDIENCE:
            raise TokenInvalid("audience", f"aud {claims.get('aud')!r} is not {LIAM_AUDIENCE}")
        if claims.get("environment") != environment:
            raise TokenInvalid("environment", f"token minted for environment {claims.get('environment')!r}, this is {environment!r}")
        return claims
