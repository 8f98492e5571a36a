"""Entra's `/{tenant}/oauth2/v2.0/token`: the client credentials grant with a client secret (body or Basic) or a
certificate-signed client assertion, and app-only access tokens in v2 or v1 shape. The users' grants
(authorization_code, refresh_token) are in entra_grants.py.

Wire facts and every AADSTS row: shared/reference/entra.md (from entra-docs `certificate-credentials.md`,
`reference-error-codes.md`, `access-token-claims-reference.md`). Validation order: required parameters, the app,
its credential, then the scope, so an unauthenticated caller learns nothing about the tenant's resources
[the real order is not pinned down]."""

from __future__ import annotations

import base64
import hmac
import secrets
from typing import TYPE_CHECKING, Any

from mockidp.authorities.aad import aad_error
from mockidp.authorities.entra.authority import EntraApp, EntraTenant, find_resource, object_id
from mockidp.errors import OAuthError
from mockidp.oauth.assertions import ClientKey, verify_assertion
from mockidp.oauth.clientauth import JWT_BEARER, ClientCredentials, MixedCredentials, presented_credentials
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, peek, sign

if TYPE_CHECKING:
    from mockidp.authorities.entra.authority import Entra

# Clock skew granted to client assertions: 5 minutes, the default ClockSkew of Microsoft.IdentityModel's token
# validation, which Entra's STS is built on.
ASSERTION_SKEW = 300
DEFAULT = "/.default"
NO_STORE = {"cache-control": "no-store, no-cache", "pragma": "no-cache"}
CERT_DOCS = "Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials ."


GRANTS = ("client_credentials", "authorization_code", "refresh_token")


def app_of(tenant: EntraTenant, client_id: str) -> EntraApp:
    app = next((a for a in tenant.apps if a.app_id.lower() == client_id.lower()), None)
    if app is None:
        raise aad_error("unauthorized_client", 700016, (
            f"Application with identifier '{client_id}' was not found in the directory '{tenant.display_name or tenant.tenant_id}'. "
            "This can happen if the application has not been installed by the administrator of the tenant or consented to by any user "
            "in the tenant. You may have sent your authentication request to the wrong tenant."
        ))
    return app


def _missing(name: str) -> OAuthError:
    return aad_error("invalid_request", 900144, f"The request body must contain the following parameter: '{name}'.")


def _invalid_client(code: int, text: str) -> OAuthError:
    return aad_error("invalid_client", code, text, 401)


class EntraTokens:
    def __init__(self, entra: Entra) -> None:
        self.entra = entra

    def token(self, req: Request) -> Reply:
        tenant = self.entra.tenant_of(req, "invalid_request")
        if req.duplicates:
            raise aad_error("invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
        grant_type = req.param("grant_type")
        if grant_type is None:
            raise _missing("grant_type")
        if grant_type not in GRANTS:
            raise aad_error("unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'.")
        client_id = self.credentials(req).client_id
        if client_id is None:
            raise _missing("client_id")
        scope = req.param("scope")
        if scope is None and grant_type == "client_credentials":
            raise _missing("scope")
        app = app_of(tenant, client_id)
        if grant_type != "client_credentials":  # users' grants: entra_grants.py
            from mockidp.authorities.entra.grants import UserGrants

            return UserGrants(self).token(req, tenant, app, grant_type)
        assert scope is not None
        acr = self.authenticate(req, tenant, app)
        resource_name, resource = self.resource(tenant, scope)
        return self.issue(req, tenant, app, acr, resource_name, resource)

    # --- client authentication ---------------------------------------------------------------------

    @staticmethod
    def credentials(req: Request) -> ClientCredentials:
        """The one client authentication of the request. Entra's answer to two at once (Basic and a body secret,
        Basic for one app and another client_id, a secret and an assertion) is not documented [not pinned down];
        RFC 6749 §2.3 forbids it, and 9002313 is Entra's row for a malformed request."""
        try:
            return presented_credentials(req)
        except MixedCredentials as exc:
            raise aad_error("invalid_request", 9002313, f"Invalid request. Request is malformed or invalid. ({exc})") from exc

    def authenticate(self, req: Request, tenant: EntraTenant, app: EntraApp) -> str:
        """The app's credential; returns its `azpacr`: "1" for a secret, "2" for a certificate."""
        creds = self.credentials(req)
        if creds.method == "private_key_jwt":
            if creds.assertion_type is None:
                raise _missing("client_assertion_type")
            if creds.assertion_type != JWT_BEARER:
                raise aad_error("invalid_request", 70002, f"Error validating credentials. The client_assertion_type must be '{JWT_BEARER}'.")
            if creds.assertion is None:
                raise _missing("client_assertion")
            self.verify_certificate_assertion(req, tenant, app, creds.assertion)
            return "2"
        if creds.secret is None:
            raise _invalid_client(7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        if any(hmac.compare_digest(creds.secret.encode(), s.encode()) for s in app.expired_secrets):
            raise _invalid_client(7000222, (
                f"The provided client secret keys for app '{app.app_id}' are expired. Visit the Azure portal to create new keys "
                "for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
            ))
        if not any(hmac.compare_digest(creds.secret.encode(), s.encode()) for s in app.secrets):
            raise _invalid_client(7000215, (
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
        bases = {req.base, self.entra.default_base()}
        return {f"{b}/{n}/oauth2{v}/token" for b in bases for n in names for v in ("/v2.0", "")}

    def assertion_error(self, exc: TokenInvalid, assertion: str, app: EntraApp) -> OAuthError:
        reason = exc.reason
        if reason == "malformed":
            return aad_error("invalid_request", 50027, f"JWT token is invalid or malformed. {exc}")
        header, claims = peek(assertion)
        if reason in ("key", "algorithm"):
            thumb = self.thumbprint_hex(header)
            return _invalid_client(700027, (
                "The certificate with identifier used to sign the client assertion is not registered on application. "
                f"[Reason - The key was not found., Thumbprint of key used by client: '{thumb}', Please visit the Azure Portal, "
                f"Graph Explorer or directly use MS Graph to see configured keys for app Id '{app.app_id}'.]"
            ))
        if reason == "signature":
            return _invalid_client(700027, "Client assertion failed signature validation.")
        if reason in ("issuer", "subject"):
            if claims.get("iss") != claims.get("sub"):
                return _invalid_client(50048, "Subject mismatches Issuer claim in the client assertion.")
            # iss == sub, but not this app: Entra's row for it is not pinned down; 50048's text is the closest.
            return _invalid_client(50048, f"Subject mismatches Issuer claim in the client assertion. Issuer '{claims.get('iss')}' is not the client '{app.app_id}'.")
        if reason == "audience":
            err = _invalid_client(70002, "Error validating credentials. AADSTS50012: Client assertion audience claim does not match Realm issuer.")
            err.extra["error_codes"] = [70002, 50012]
            return err
        if reason in ("expired", "not_yet_valid"):
            return _invalid_client(700024, (
                f"Client assertion is not within its valid time range. Current time: {self.stamp(self.entra.now)}, "
                f"assertion valid from {self.stamp(claims.get('nbf', claims.get('iat')))}, expiry time of assertion "
                f"{self.stamp(claims.get('exp'))}. {CERT_DOCS}"
            ))
        # replay: Entra's answer to a reused jti is not documented; the JWT-invalid row says what happened.
        return _invalid_client(50027, f"JWT token is invalid or malformed. {exc}")

    @staticmethod
    def thumbprint_hex(header: dict[str, Any]) -> str:
        value = header.get("x5t#S256") or header.get("x5t") or ""
        try:
            return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex().upper() if isinstance(value, str) else ""
        except ValueError:
            return ""

    @staticmethod
    def stamp(value: Any) -> str:
        import datetime

        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return "(none)"
        return datetime.datetime.fromtimestamp(value, datetime.UTC).strftime("%m/%d/%Y %H:%M:%S")

    # --- scope and resource -------------------------------------------------------------------------

    def resource(self, tenant: EntraTenant, scope: str) -> tuple[str, EntraApp]:
        scopes = scope.split()
        if any(not s.endswith(DEFAULT) for s in scopes):
            raise aad_error("invalid_scope", 1002012, (
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value with "
                "/.default suffixed to the resource identifier (application ID URI)."
            ))
        if len(scopes) != 1:
            raise aad_error("invalid_scope", 70011, f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.")
        name = scopes[0][: -len(DEFAULT)]
        resource = find_resource(tenant, name) if name else None
        if resource is None:
            raise aad_error("invalid_resource", 500011, (
                f"The resource principal named {name} was not found in the tenant named {tenant.display_name or tenant.tenant_id}. "
                "This can happen if the application has not been installed by the administrator of the tenant or consented to by "
                "any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ))
        return name, resource

    @staticmethod
    def granted_roles(app: EntraApp, resource: EntraApp) -> list[str]:
        return assigned_roles(app.granted_roles, resource)

    # --- the token ------------------------------------------------------------------------------------

    def issue(self, req: Request, tenant: EntraTenant, app: EntraApp, acr: str, resource_name: str, resource: EntraApp) -> Reply:
        now = int(self.entra.now)
        oid = object_id(tenant, app)
        claims: dict[str, Any] = {
            "iat": now, "nbf": now, "exp": now + tenant.token_lifetime,
            "aio": _opaque(48), "idtyp": "app", "oid": oid, "rh": _opaque(32) + ".", "sub": oid, "tid": tenant.tenant_id, "uti": _opaque(16),
        }
        roles = self.granted_roles(app, resource)
        if roles:
            claims["roles"] = roles
        keyset = self.entra.tenant_keyset(tenant)
        header: dict[str, Any] = {}
        if resource.accept_v1_tokens:
            # v1: aud is the resource as the client named it; iss/idp the STS host; appid/appidacr (claims reference).
            iss = self.entra.v1_issuer(tenant)
            claims.update({"aud": resource_name, "iss": iss, "idp": iss, "appid": app.app_id, "appidacr": acr, "ver": "1.0"})
            header["x5t"] = keyset.active.x5t
        else:
            claims.update({"aud": resource.app_id, "iss": self.entra.v2_issuer(req.base, tenant), "azp": app.app_id, "azpacr": acr, "ver": "2.0"})
        claims.update(self.entra.planned_claims(app.app_id))
        token = sign(keyset, dict(sorted(claims.items())), header)
        body = {"token_type": "Bearer", "expires_in": tenant.token_lifetime, "ext_expires_in": tenant.token_lifetime, "access_token": token}
        return Reply(json=body, headers=dict(NO_STORE), issued=[token])


def assigned_roles(assigned: dict[str, list[str]], resource: EntraApp) -> list[str]:
    """The roles of `resource` among assignments keyed by resource (identifier URI or app id)."""
    names = {resource.app_id.lower(), *(u.rstrip("/").lower() for u in resource.identifier_uris)}
    roles: list[str] = []
    for key, granted in assigned.items():
        if key.rstrip("/").lower() in names:
            roles += [r for r in granted if r not in roles]
    return roles


def _opaque(size: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode()
