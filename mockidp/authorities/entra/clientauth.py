"""Who is calling Entra's token endpoint: the app named by `client_id`, and its credential (a client secret in the
body or Basic, or a certificate-signed client assertion; none for a public client on the users' grants).

Wire facts and every AADSTS row: shared/reference/entra.md (from entra-docs `certificate-credentials.md`,
`reference-error-codes.md`). Order: client_id, the scope of the client credentials grant, the app, its credential,
so an unauthenticated caller learns nothing about the tenant's resources [the real order is not pinned down]."""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from typing import Any

from mockidp.authorities.aad import aad_error
from mockidp.authorities.entra.context import EntraContext
from mockidp.authorities.entra.errors import invalid_client, malformed, missing, stamp
from mockidp.authorities.entra.federation import Federation, is_federated
from mockidp.authorities.entra.tenant import app_of
from mockidp.authorities.entra.world import EntraApp, EntraTenant
from mockidp.errors import OAuthError
from mockidp.oauth.assertions import ClientKey, verify_assertion
from mockidp.oauth.clientauth import JWT_BEARER, ClientCredentials, MixedCredentials, presented_credentials
from mockidp.request import Request
from mockidp.tokens import TokenInvalid, peek

CLIENT_CREDENTIALS = "client_credentials"
# Clock skew granted to client assertions: 5 minutes, the default ClockSkew of Microsoft.IdentityModel's token
# validation, which Entra's STS is built on.
ASSERTION_SKEW = 300
CERT_DOCS = "Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials ."


@dataclass(frozen=True)
class Client:
    app: EntraApp
    acr: str  # `azpacr` / `appidacr`: "0" a public client, "1" a client secret, "2" a certificate


def credentials(req: Request) -> ClientCredentials:
    """The one client authentication of the request. Entra's answer to two at once (Basic and a body secret,
    Basic for one app and another client_id, a secret and an assertion) is not documented [not pinned down];
    RFC 6749 §2.3 forbids it, and 9002313 is Entra's row for a malformed request."""
    try:
        return presented_credentials(req)
    except MixedCredentials as exc:
        raise malformed(str(exc)) from exc


class ClientAuth:
    """`names_resource`: the v1 endpoint (v1.py), whose client credentials grant names a `resource`, not a `scope`."""

    def __init__(self, entra: EntraContext, names_resource: bool = False) -> None:
        self.entra = entra
        self.required = "resource" if names_resource else "scope"

    def __call__(self, tenant: EntraTenant, req: Request, grant_type: str) -> Client:
        client_id = credentials(req).client_id
        if client_id is None:
            raise missing("client_id")
        if grant_type == CLIENT_CREDENTIALS and self.required == "scope" and req.param("resource") is not None:
            # v1's parameter on the v2 endpoint (reference-error-codes.md, AADSTS901002)
            raise aad_error("invalid_request", 901002, "The 'resource' request parameter isn't supported.")
        if grant_type == CLIENT_CREDENTIALS and req.param(self.required) is None:  # asked for before the app is looked up
            raise missing(self.required)
        app = app_of(tenant, client_id)
        if app.public_client and grant_type != CLIENT_CREDENTIALS:
            creds = credentials(req)
            if creds.secret is not None or creds.assertion is not None:
                raise invalid_client(700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
            return Client(app, "0")
        return Client(app, self.confidential(req, tenant, app))

    def confidential(self, req: Request, tenant: EntraTenant, app: EntraApp) -> str:
        """The app's credential; returns its `azpacr`: "1" for a secret, "2" for a certificate."""
        creds = credentials(req)
        if creds.method == "private_key_jwt":
            if creds.assertion_type is None:
                raise missing("client_assertion_type")
            if creds.assertion_type != JWT_BEARER:
                raise aad_error("invalid_request", 70002, f"Error validating credentials. The client_assertion_type must be '{JWT_BEARER}'.")
            if creds.assertion is None:
                raise missing("client_assertion")
            if is_federated(creds.assertion):  # workload identity federation (federation.py)
                Federation(self.entra).verify(req, self.entra.bases(req), app, creds.assertion)
                return "2"
            self.verify_certificate_assertion(req, tenant, app, creds.assertion)
            return "2"
        if creds.secret is None:
            raise invalid_client(7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        if any(hmac.compare_digest(creds.secret.encode(), s.encode()) for s in app.expired_secrets):
            raise invalid_client(7000222, (
                f"The provided client secret keys for app '{app.app_id}' are expired. Visit the Azure portal to create new keys "
                "for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
            ))
        if not any(hmac.compare_digest(creds.secret.encode(), s.encode()) for s in app.secrets):
            raise invalid_client(7000215, (
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
                f"not the client secret ID, for a secret added to app '{app.app_id}'."
            ))
        return "1"

    def verify_certificate_assertion(self, req: Request, tenant: EntraTenant, app: EntraApp, assertion: str) -> None:
        keys = [ClientKey.from_certificate(c.encode()) for c in app.certificates]
        try:
            verify_assertion(
                assertion, keys, client_id=app.app_id, audiences=self.token_endpoints(req, tenant),
                now=self.entra.now, store=self.entra.services.store, algorithms=("RS256", "PS256"), leeway=ASSERTION_SKEW,
            )
        except TokenInvalid as exc:
            raise self.assertion_error(exc, assertion, app) from exc

    def token_endpoints(self, req: Request, tenant: EntraTenant) -> set[str]:
        """`aud` must be the token endpoint: accepted with the tenant as GUID or domain, v2 or v1 path, at any base
        the tenant is served under."""
        names = {req.path_params.get("tenant", ""), tenant.tenant_id, *tenant.domains}
        bases = set(self.entra.bases(req))
        return {f"{b}/{n}/oauth2{v}/token" for b in bases for n in names for v in ("/v2.0", "")}

    def assertion_error(self, exc: TokenInvalid, assertion: str, app: EntraApp) -> OAuthError:
        reason = exc.reason
        if reason == "malformed":
            return aad_error("invalid_request", 50027, f"JWT token is invalid or malformed. {exc}")
        header, claims = peek(assertion)
        if reason in ("key", "algorithm"):
            thumb = thumbprint_hex(header)
            return invalid_client(700027, (
                "The certificate with identifier used to sign the client assertion is not registered on application. "
                f"[Reason - The key was not found., Thumbprint of key used by client: '{thumb}', Please visit the Azure Portal, "
                f"Graph Explorer or directly use MS Graph to see configured keys for app Id '{app.app_id}'.]"
            ))
        if reason == "signature":
            return invalid_client(700027, "Client assertion failed signature validation.")
        if reason in ("issuer", "subject"):
            if claims.get("iss") != claims.get("sub"):
                return invalid_client(50048, "Subject mismatches Issuer claim in the client assertion.")
            # iss == sub, but not this app: Entra's row for it is not pinned down; 50048's text is the closest.
            return invalid_client(50048, f"Subject mismatches Issuer claim in the client assertion. Issuer '{claims.get('iss')}' is not the client '{app.app_id}'.")
        if reason == "audience":
            err = invalid_client(70002, "Error validating credentials. AADSTS50012: Client assertion audience claim does not match Realm issuer.")
            err.extra["error_codes"] = [70002, 50012]
            return err
        if reason in ("expired", "not_yet_valid"):
            return invalid_client(700024, (
                f"Client assertion is not within its valid time range. Current time: {stamp(self.entra.now)}, "
                f"assertion valid from {stamp(claims.get('nbf', claims.get('iat')))}, expiry time of assertion "
                f"{stamp(claims.get('exp'))}. {CERT_DOCS}"
            ))
        # replay: Entra's answer to a reused jti is not documented; the JWT-invalid row says what happened.
        return invalid_client(50027, f"JWT token is invalid or malformed. {exc}")


def thumbprint_hex(header: dict[str, Any]) -> str:
    value = header.get("x5t#S256") or header.get("x5t") or ""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex().upper() if isinstance(value, str) else ""
    except ValueError:
        return ""
