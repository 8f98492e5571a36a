"""Azure AD B2C: the tenant where Lumen's API applications live (client credentials per user flow / policy).
Wire facts: shared/reference/lumen-b2c.md; the B2C client-credentials doc (azure-docs
`active-directory-b2c/client-credentials-grant-flow.md`) and the B2C error-code list (`error-codes.md`).

A Lumen registration (`[[lumen.apps]]`) *is* a B2C app: `load()` reads them from the Lumen world section for the
tenant `lumen.b2c_tenant` names, and grants them LIAM's API. That cross-authority knowledge lives here and in
authorities/lumen/ only.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from typing import Any

from mockidp.authorities.aad import aad_error, render_aad_error
from mockidp.authorities.b2c.world import B2CApp, B2CTenant, B2CWorld
from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.errors import OAuthError
from mockidp.keys import KeySet
from mockidp.oauth.clientauth import ClientCredentials, MixedCredentials, presented_credentials
from mockidp.oauth.token_endpoint import NO_STORE_NO_CACHE, TokenEndpoint, token_reply
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, sign, verify

TenantPolicy = tuple[B2CTenant, str]  # the issuer a token path names: the tenant and its user flow


def b2c_error(error: str, code: int | None, text: str, status: int = 400) -> OAuthError:
    if code is None:
        return OAuthError(error, text, status, headers=dict(NO_STORE_NO_CACHE))
    err = aad_error(error, code, text, status, prefix="AADB2C")
    err.headers.update(NO_STORE_NO_CACHE)
    return err


class B2CTokenErrors:
    def duplicated(self, names: Sequence[str]) -> OAuthError:  # AADB2C90122: input that failed HTTP request validation
        return b2c_error("invalid_request", 90122, f"Input for '{names[0]}' received in the request has failed HTTP request validation.")

    def missing_grant_type(self) -> OAuthError:
        return b2c_error("invalid_request", 90083, "The request is missing required parameter: grant_type.")

    def unsupported_grant_type(self, grant_type: str) -> OAuthError:  # client_credentials: the only grant a machine client gets here
        return b2c_error("unsupported_grant_type", 90086, f"The supplied grant_type [{grant_type}] is not supported.")


class B2C(Authority):
    name = "b2c"
    title = "Azure AD B2C"
    prefix = "/b2c"
    host_patterns = (r"[a-z0-9-]+\.b2clogin\.com",)
    cert_hostnames = ('*.b2clogin.com',)
    config: B2CWorld
    world_type = B2CWorld

    def real_hostnames(self) -> list[str]:
        return [f"{t.name.lower()}.b2clogin.com" for t in self.config.tenants]  # {tenant}.b2clogin.com, one per tenant

    def load(self) -> None:
        # Built whole, then assigned (as Entra's tables): a request on another event loop sees old or new, never half.
        tenants = {t.name.lower(): t for t in self.config.tenants}
        # (tenant, client id lower-cased) -> app: the tenant's own apps, then the Lumen registrations.
        apps: dict[tuple[str, str], B2CApp] = {(t.name.lower(), app.client_id.lower()): app for t in self.config.tenants for app in t.apps}
        lumen = self.services.world_section("lumen")  # Lumen's API apps are B2C apps too (seed 000: Control Center registers them)
        if lumen.b2c_tenant.lower() in tenants:
            # What Control Center does at app creation: a B2C app granted every role LIAM's API defines.
            api = self._api_by_uri(apps, lumen.b2c_tenant, lumen.liam_api)
            for reg in lumen.apps:
                granted = {lumen.liam_api: list(api.scopes) if api else []}
                apps[(lumen.b2c_tenant.lower(), reg.client_id.lower())] = B2CApp(reg.client_id, reg.secret, f"Lumen API app {reg.client_id}", granted=granted)
        self.tenants, self.apps = tenants, apps
        self.token = TokenEndpoint[TenantPolicy, ClientCredentials](
            issuer_of=self.tenant_of, grants={"client_credentials": self.grant_client_credentials},
            authenticate=self.presented, errors=B2CTokenErrors(),
        )

    def api_by_uri(self, tenant: str, resource: str) -> B2CApp | None:
        return self._api_by_uri(self.apps, tenant, resource)

    @staticmethod
    def _api_by_uri(apps: dict[tuple[str, str], B2CApp], tenant: str, resource: str) -> B2CApp | None:
        for (t, _), app in apps.items():
            if t == tenant.lower() and resource in (app.identifier_uri, app.client_id):
                return app
        return None

    def tenant_keyset(self, tenant: B2CTenant) -> KeySet:
        return self.keyset(f"tenant-{tenant.name}", "RS256")

    def issuers(self) -> list[Issuer]:
        out = []
        for t in self.config.tenants:
            for p in t.policies:
                base = f"/{t.name}.onmicrosoft.com/{p}"
                out.append(Issuer(f"{t.name}/{p}", self.tenant_keyset(t), f"/{t.tenant_id}/v2.0/", f"{base}/v2.0/.well-known/openid-configuration",
                                  f"{base}/discovery/v2.0/keys", f"{base}/oauth2/v2.0/token"))
        return out

    def demo_lines(self) -> list[str]:
        return [f"tenant {t}: app {a.client_id} / {a.secret}" + (f" (API {a.identifier_uri})" if a.identifier_uri else "") for (t, _), a in self.apps.items()]

    def render_error(self, err: OAuthError, req: Request | None) -> Reply:
        # The project's Azure AD shape (aad.py). Real B2C bodies are leaner (error + error_description ending in
        # Correlation ID / Timestamp lines); the AADSTS fields are a superset every client reads the same way.
        return render_aad_error(err, self.now)

    def named_error(self, name: str, description: str | None = None) -> OAuthError:
        known = {
            "invalid_client": (90081, "The specified client_secret does not match the expected value for this client. Please correct the client_secret and try again.", 401),
            "invalid_request": (90083, "The request is missing required parameter: client_id.", 400),
            "invalid_scope": (90117, "The scope 'x' provided in the request is not supported.", 400),
            "unsupported_grant_type": (90086, "The supplied grant_type [x] is not supported.", 400),
            "temporarily_unavailable": (90035, "The service is temporarily unavailable. Please retry after a few minutes.", 503),
            "server_error": (90085, "The service has encountered an internal error. Please reauthenticate and try again.", 500),
        }
        code, text, status = known.get(name, (None, name, 400))
        if description:
            return b2c_error(name, None, description, status)
        return b2c_error(name, code, text, status)

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("/{domain}/{policy}/v2.0/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint("/{domain}/{policy}/discovery/v2.0/keys", "keys", self.keys),
            Endpoint("/{domain}/{policy}/oauth2/v2.0/token", "token", lambda req: self.token(req), ("POST",)),
        ]

    def capabilities(self) -> dict[str, Any]:
        return {"b2c.client-credentials": self.check_client_credentials, "b2c.verify-access-token": self.verify_access_token}

    def check_client_credentials(self, domain: str, policy: str, client_id: str, secret: str, scope: str) -> dict[str, Any]:
        """What B2C would answer a client-credentials request with (its claims), or its OAuthError."""
        tenant, matched = self.tenant_and_policy(domain, policy)
        return self.client_credentials(tenant, matched, client_id, secret, scope, self.default_base())

    def tenant_of(self, req: Request) -> tuple[B2CTenant, str]:
        domain, policy = req.path_params.get("domain", ""), req.path_params.get("policy", "")
        return self.tenant_and_policy(domain, policy)

    def tenant_and_policy(self, domain: str, policy: str) -> tuple[B2CTenant, str]:
        tenant = self.tenants.get(domain.lower().removesuffix(".onmicrosoft.com"))
        if tenant is None:
            raise aad_error("invalid_tenant", 90002, f"Tenant '{domain}' not found.")
        match = next((p for p in tenant.policies if p.lower() == policy.lower()), None)
        if match is None:
            # No published AADB2C number for an unknown user flow; the text is ours.
            raise b2c_error("invalid_request", None, f"The policy '{policy}' does not exist in tenant '{tenant.name}.onmicrosoft.com'.", 404)
        return tenant, match

    def discovery(self, req: Request) -> Reply:
        tenant, policy = self.tenant_of(req)
        base = f"{req.base}/{tenant.name}.onmicrosoft.com/{policy}"
        return Reply(json={
            "issuer": f"{req.base}/{tenant.tenant_id}/v2.0/",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code", "code id_token", "code token", "code id_token token", "id_token", "id_token token", "token", "token id_token"],
            "scopes_supported": ["openid"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["sub", "azp", "scp", "tfp", "ver", "iss", "iat", "nbf", "exp", "aud"],
        })

    def keys(self, req: Request) -> Reply:
        tenant, _ = self.tenant_of(req)
        return Reply(json=self.tenant_keyset(tenant).jwks())

    # --- client credentials ------------------------------------------------------------------------

    def presented(self, issuer: TenantPolicy, req: Request, grant_type: str) -> ClientCredentials:
        """The one set of credentials, of a method B2C takes; judging them is `client_credentials`' (LIAM's too)."""
        try:
            creds = presented_credentials(req)
        except MixedCredentials as exc:  # RFC 6749 §2.3; B2C's own code for it is not pinned down: 90122, its malformed-request row
            raise b2c_error("invalid_request", 90122, f"Input received in the request has failed HTTP request validation: {exc}.") from exc
        if creds.method == "private_key_jwt":  # client-credentials-grant-flow.md: only client secrets are supported
            raise b2c_error("invalid_request", 99027, f"Policy '{issuer[1]}' does not contain a AuthorizationTechnicalProfile with a corresponding ClientAssertionType.")
        return creds

    def grant_client_credentials(self, issuer: TenantPolicy, creds: ClientCredentials, req: Request) -> Reply:
        tenant, policy = issuer
        claims = self.client_credentials(tenant, policy, creds.client_id, creds.secret, req.param("scope"), req.base)
        claims.update(self.planned_claims(claims["azp"]))
        token = sign(self.tenant_keyset(tenant), claims)
        return token_reply({
            "access_token": token,
            "token_type": "Bearer",
            "not_before": claims["nbf"],
            "expires_in": tenant.access_token_lifetime,
            "expires_on": claims["exp"],
            "resource": claims["aud"],
        }, issued=[token], headers=NO_STORE_NO_CACHE)

    def client_credentials(self, tenant: B2CTenant, policy: str, client_id: str | None, secret: str | None, scope: str | None, base: str) -> dict[str, Any]:
        """Judge a client-credentials request and return the access token's claims; raises B2C's errors.
        LIAM calls this in-process to "have B2C authorize the credentials" (seed 000)."""
        if not client_id:
            raise b2c_error("invalid_request", 90083, "The request is missing required parameter: client_id.")
        app = self.apps.get((tenant.name.lower(), client_id.lower()))
        if app is None:
            raise b2c_error("unauthorized_client", 90018, f"The client ID '{client_id}' specified in the request is not registered in tenant '{tenant.name}.onmicrosoft.com'.")
        if secret is None:
            raise b2c_error("invalid_request", 90079, "Clients must send a client_secret when redeeming a confidential grant.")
        if not hmac.compare_digest(secret.encode(), app.secret.encode()):
            raise b2c_error("invalid_client", 90081, "The specified client_secret does not match the expected value for this client. Please correct the client_secret and try again.", 401)
        api, roles = self.resource_for(tenant, app, scope)
        now = int(self.now)
        return {
            "iss": f"{base}/{tenant.tenant_id}/v2.0/",
            "exp": now + tenant.access_token_lifetime,
            "nbf": now,
            "aud": api.client_id,
            "sub": self.service_principal(tenant, app),
            "azp": app.client_id,
            "scp": " ".join(roles),
            "tfp": policy,
            "ver": "1.0",
            "iat": now,
        }

    def resource_for(self, tenant: B2CTenant, app: B2CApp, scope: str | None) -> tuple[B2CApp, list[str]]:
        """`scope=<App ID URI>/.default` (or `<tenant domain>/<API client id>/.default`): the API and the roles
        granted to the app on it."""
        if not scope:
            raise b2c_error("invalid_request", 90083, "The request is missing required parameter: scope.")
        parts = scope.split()
        if len(parts) > 1:
            raise b2c_error("invalid_scope", 90146, f"The scope '{scope}' provided in request specifies more than one resource for an access token, which is not supported.")
        if not parts[0].endswith("/.default"):
            raise b2c_error("invalid_scope", 90117, f"The scope '{scope}' provided in the request is not supported.")
        resource = parts[0].removesuffix("/.default")
        api = self.api_by_uri(tenant.name, resource) or self.api_by_uri(tenant.name, resource.rsplit("/", 1)[-1])
        if api is None or not api.identifier_uri:
            raise b2c_error("invalid_scope", 90117, f"The scope '{scope}' provided in the request is not supported.")
        granted = app.granted.get(api.identifier_uri, app.granted.get(api.client_id))
        if not granted:
            raise b2c_error("unauthorized_client", 90205, "This application does not have sufficient permissions against this web resource to perform the operation.")
        return api, [r for r in api.scopes if r in granted]

    def service_principal(self, tenant: B2CTenant, app: B2CApp) -> str:
        """The app's service principal object id: stable per tenant and app, never the client id itself."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"b2c:{tenant.tenant_id}:{app.client_id.lower()}"))

    def verify_access_token(self, tenant_name: str, token: str, audience: str | None = None) -> dict[str, Any]:
        """A B2C access token's claims after checking B2C's signature, expiry, issuer (the tenant's, on whatever host
        it was reached) and, when given, audience (the API's client id or App ID URI), as a relying party does.
        Raises TokenInvalid."""
        tenant = self.tenants.get(tenant_name.lower())
        if tenant is None:
            raise TokenInvalid("issuer", f"no B2C tenant {tenant_name!r} in this world")
        _, claims = verify(token, self.tenant_keyset(tenant), now=self.now)
        iss = claims.get("iss")
        if not isinstance(iss, str) or not iss.endswith(f"/{tenant.tenant_id}/v2.0/"):
            raise TokenInvalid("issuer", f"iss {iss!r} is not tenant {tenant.name}'s issuer")
        if audience is not None:
            api = self.api_by_uri(tenant.name, audience)
            if claims.get("aud") not in {audience, *((api.client_id, api.identifier_uri) if api else ())}:
                raise TokenInvalid("audience", f"aud {claims.get('aud')!r} is not {audience}")
        return claims
