"""Azure AD / Microsoft Entra ID (v2.0 endpoints), per tenant GUID and per tenant domain: the five°degrees IdP.
Wire facts: shared/reference/entra.md. Here: the paths, the issuers, the AADSTS error format, and the token
endpoint assembled from its parts: client authentication (clientauth.py), the client credentials grant
(client_credentials.py), the users' grants (grants.py). The world is in world.py, the sign-in pages in browser.py,
the API Management gate in apim.py."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from mockidp.authorities.aad import aad_error, render_aad_error
from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.authorities.entra.apim import ApimGateway
from mockidp.authorities.entra.browser import EntraBrowser, render_graph_error
from mockidp.authorities.entra.client_credentials import ClientCredentialsGrant
from mockidp.authorities.entra.clientauth import CLIENT_CREDENTIALS, Client, ClientAuth
from mockidp.authorities.entra.device import EntraDevice
from mockidp.authorities.entra.errors import TokenErrors
from mockidp.authorities.entra.grants import UserGrants
from mockidp.authorities.entra.managed_identity import IMDS_HOST, ManagedIdentities, render_app_service_error, render_imds_error
from mockidp.authorities.entra.obo import JWT_BEARER_GRANT, OnBehalfOf
from mockidp.authorities.entra.tenant import MICROSOFT_HOSTS, MULTI_TENANT, find_tenant, is_guid, known_issuers, v1_issuer, v2_issuer
from mockidp.authorities.entra.v1 import V1ClientCredentials
from mockidp.authorities.entra.world import EntraTenant, EntraWorld
from mockidp.errors import OAuthError
from mockidp.keys import KeySet
from mockidp.oauth import device
from mockidp.oauth.token_endpoint import TokenEndpoint
from mockidp.request import Reply, Request


class Entra(Authority):
    name = "entra"
    title = "Microsoft Entra ID (Azure AD)"
    prefix = "/entra"
    # 169.254.169.254: the IMDS address, for a client whose AZURE_POD_IDENTITY_AUTHORITY_HOST is not set and a
    # server (plain HTTP, as IMDS) that answers at that address.
    host_patterns = (r"login\.microsoftonline\.com", r"login\.windows\.net", r"login\.microsoft\.com", r"sts\.windows\.net", re.escape(IMDS_HOST))
    cert_hostnames = ('login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net')
    config: EntraWorld
    world_type = EntraWorld

    def load(self) -> None:
        # Built whole, then assigned: with several event loops a request may read the table while a world change
        # rebuilds it (MockIdpServer's threads), and must see the old table or the new one, never half of one.
        self.tenants: dict[str, EntraTenant] = {key.lower(): tenant for tenant in self.config.tenants for key in (tenant.tenant_id, *tenant.domains)}
        self.apis = {api.path: api for api in self.config.apim}

    # Root paths (app.HostRouting): a tenant id or domain, or a multi-tenant name, as the first segment, because MSAL
    # and azure-identity key their token caches by the first path segment of the authority (msal/authority.py
    # canonicalize; azure/identity/_internal/aad_client_base.py get_cached_access_token). `oidc` is userinfo, which
    # the root-form discovery document advertises at the root too.
    # `metadata` is IMDS, so AZURE_POD_IDENTITY_AUTHORITY_HOST may be the server's root URL as well as /entra.
    ROOT_SEGMENTS = (*MULTI_TENANT, "oidc", "metadata")

    def claims_root_segment(self, segment: str) -> bool:
        # Any GUID too, so an unknown tenant id gets Entra's AADSTS90002 rather than a bare 404.
        return segment.lower() in self.tenants or segment.lower() in self.ROOT_SEGMENTS or is_guid(segment)

    def bases(self, req: Request) -> list[str]:
        """Every base the request's tenant is served under: this request's, the prefixed and the root form of it,
        and the engine's (tokens issued at `/entra/{tenant}` and at `/{tenant}` are both the tenant's)."""
        root = self.services.base_url.rstrip("/")
        mine = req.base.removesuffix(self.prefix)
        return list(dict.fromkeys((req.base, mine, mine + self.prefix, self.default_base(), root)))

    def tenant_keyset(self, tenant: EntraTenant) -> KeySet:
        return self.keyset(f"tenant-{tenant.tenant_id}", tenant.alg, kid_style="x5t")

    def issuers(self) -> list[Issuer]:
        return [
            Issuer(t.tenant_id, self.tenant_keyset(t), f"/{t.tenant_id}/v2.0", f"/{t.tenant_id}/v2.0/.well-known/openid-configuration", f"/{t.tenant_id}/discovery/v2.0/keys",
                   f"/{t.tenant_id}/oauth2/v2.0/token")
            for t in self.config.tenants
        ]

    def capabilities(self) -> dict[str, object]:
        return {device.USERS: EntraDevice(self, UserGrants(self)).approver}

    def demo_lines(self) -> list[str]:
        out = []
        for t in self.config.tenants:
            for app in t.apps:
                cred = app.secrets[0] if app.secrets else ("certificate" if app.certificates else "(no credential)")
                out.append(f"tenant {t.tenant_id}: app {app.app_id} / {cred}" + (f" (API {app.identifier_uris[0]})" if app.identifier_uris else ""))
            for user in t.users:
                out.append(f"tenant {t.tenant_id}: user {user.user_principal_name} / {user.password}")
        for api in self.config.apim:
            out.append(f"API Management gate: {self.prefix}/apim/{api.path}/... (tenant {api.tenant}, audiences {', '.join(api.audiences)})")
        return out

    def render_error(self, err: OAuthError, req: Request | None) -> Reply:
        return render_aad_error(err, self.now)

    def named_error(self, name: str, description: str | None = None) -> OAuthError:
        known = {  # for faults: each name with a real AADSTS row of shared/reference/entra.md
            "invalid_client": (7000215, "Invalid client secret provided.", 401),
            "unauthorized_client": (700016, "Application was not found in the directory.", 400),
            "invalid_request": (900144, "The request body must contain the following parameter: 'grant_type'.", 400),
            "invalid_scope": (1002012, "The provided value for scope is not valid.", 400),
            "invalid_resource": (500011, "The resource principal was not found in the tenant.", 400),
            "unsupported_grant_type": (70003, "The app requested an unsupported grant type.", 400),
            "temporarily_unavailable": (90033, "A transient error has occurred. Please try again.", 503),
        }
        if name not in known:
            return OAuthError(name, description or name.replace("_", " "), 400)
        code, text, status = known[name]
        return aad_error(name, code, description or text, status)

    def endpoints(self) -> list[Endpoint]:
        gate = ApimGateway(self)
        browser = EntraBrowser(self)
        users = UserGrants(self)
        identities = ManagedIdentities(self)
        devices = EntraDevice(self, users)
        # Entra's order: the tenant, repeated parameters, grant_type, then the client (clientauth.py).
        token = TokenEndpoint[EntraTenant, Client](
            issuer_of=lambda req: self.tenant_of(req, "invalid_request"),
            grants={CLIENT_CREDENTIALS: ClientCredentialsGrant(self), "authorization_code": users.redeem_code, "refresh_token": users.refresh,
                    JWT_BEARER_GRANT: OnBehalfOf(self, users), device.GRANT_TYPE: devices.grant},
            authenticate=ClientAuth(self), errors=TokenErrors(), order=("duplicates", "grant_type", "client"),
        )
        token_v1 = TokenEndpoint[EntraTenant, Client](
            issuer_of=lambda req: self.tenant_of(req, "invalid_request"), grants={CLIENT_CREDENTIALS: V1ClientCredentials(self)},
            authenticate=ClientAuth(self, names_resource=True), errors=TokenErrors(), order=("duplicates", "grant_type", "client"),
        )
        every = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
        return [
            # APIM first: Starlette takes the first match and "apim" would otherwise read as a tenant name.
            Endpoint("/apim/{api}/{path:path}", "apim", gate.handle, every),
            Endpoint("/apim/{api}", "apim", gate.handle, every),
            Endpoint("/common/discovery/instance", "instance-discovery", self.instance_discovery),
            Endpoint("/metadata/identity/oauth2/token", "imds", identities.imds, ("GET",), render_imds_error),
            Endpoint("/msi/token", "app-service-msi", identities.app_service, ("GET",), render_app_service_error),
            Endpoint("/oidc/userinfo", "userinfo", browser.userinfo, ("GET", "POST"), render_graph_error),
            Endpoint("/{tenant}/oauth2/v2.0/token", "token", token, ("POST",)),
            Endpoint("/{tenant}/oauth2/token", "token-v1", token_v1, ("POST",)),
            Endpoint("/{tenant}/oauth2/v2.0/devicecode", "devicecode", devices.authorize, ("POST",)),
            Endpoint("/{tenant}/oauth2/deviceauth", "device-verification", devices.enter_code, ("GET", "POST"), browser.render_page_error),
            Endpoint("/{tenant}/oauth2/deviceauth/{user_code}", "device-verification", devices.verify, ("GET", "POST"), browser.render_page_error),
            # A browser endpoint: errors before the redirect URI is trusted are pages, never JSON.
            Endpoint("/{tenant}/oauth2/v2.0/authorize", "authorize", browser.authorize, ("GET", "POST"), browser.render_page_error),
            Endpoint("/{tenant}/oauth2/v2.0/logout", "logout", browser.logout, ("GET", "POST"), browser.render_page_error),
            Endpoint("/{tenant}/v2.0/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint("/{tenant}/.well-known/openid-configuration", "discovery-v1", self.discovery_v1),
            Endpoint("/{tenant}/discovery/v2.0/keys", "keys", self.keys),
            Endpoint("/{tenant}/discovery/keys", "keys-v1", self.keys),
        ]

    # --- tenants ---------------------------------------------------------------------------------

    def tenant_of(self, req: Request, error: str = "invalid_tenant") -> EntraTenant:
        """The tenant named in the path (GUID or domain). The discovery documents answer `invalid_tenant`, the token
        endpoint `invalid_request` (shared/reference/entra.md)."""
        return find_tenant(self.tenants, req.path_params.get("tenant", ""), error)

    def known_issuers(self, req: Request, tenant: EntraTenant) -> list[str]:
        """Every issuer this tenant's tokens may carry: v2 at each base it is served under, and v1."""
        return known_issuers(tenant, *self.bases(req))

    # --- discovery and keys ------------------------------------------------------------------------

    def discovery(self, req: Request) -> Reply:
        name = req.path_params.get("tenant", "")
        if name.lower() in MULTI_TENANT:
            # The multi-tenant documents carry a literal "{tenantid}" placeholder in the issuer.
            return Reply(json=self.metadata(f"{req.base}/{name}", f"{req.base}/{{tenantid}}/v2.0", "RS256", v2=True, userinfo=f"{req.base}/oidc/userinfo"))
        tenant = self.tenant_of(req)
        return Reply(json=self.metadata(f"{req.base}/{tenant.tenant_id}", v2_issuer(req.base, tenant), tenant.alg, v2=True, userinfo=f"{req.base}/oidc/userinfo"))

    def discovery_v1(self, req: Request) -> Reply:
        tenant = self.tenant_of(req)
        return Reply(json=self.metadata(f"{req.base}/{tenant.tenant_id}", v1_issuer(tenant), tenant.alg, v2=False))

    @staticmethod
    def metadata(base: str, issuer: str, alg: str, v2: bool, userinfo: str | None = None) -> dict[str, object]:
        oauth = f"{base}/oauth2/v2.0" if v2 else f"{base}/oauth2"
        extra: dict[str, object] = {}
        if v2:
            # The real v2 document: userinfo is Microsoft Graph's https://graph.microsoft.com/oidc/userinfo (served
            # here at {entra base}/oidc/userinfo), end_session the tenant's logout. Like the real document it lists no
            # code_challenge_methods_supported, although the authorize endpoint takes plain and S256.
            extra = {
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": userinfo,
                "end_session_endpoint": f"{oauth}/logout",
                "device_authorization_endpoint": f"{oauth}/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
                                     "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            }
        return {**extra,
            "token_endpoint": f"{oauth}/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys" if v2 else f"{base}/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": [alg],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer,
            "authorization_endpoint": f"{oauth}/authorize",
            "tenant_region_scope": "EU",
        }

    def keys(self, req: Request) -> Reply:
        name = req.path_params.get("tenant", "")
        tenants = self.config.tenants if name.lower() in MULTI_TENANT else [self.tenant_of(req)]
        out: list[dict[str, object]] = []
        for tenant in tenants:
            for key in self.tenant_keyset(tenant).jwks()["keys"]:
                key.pop("alg", None)  # Entra publishes no alg; kid == x5t
                key.pop("x5t#S256", None)
                key["issuer"] = v2_issuer(req.base, tenant)
                out.append(key)
        return Reply(json={"keys": out})

    def instance_discovery(self, req: Request) -> Reply:
        """MSAL's instance discovery (msal/authority.py): for an authority on a host it does not know, it asks
        login.microsoftonline.com where the tenant's metadata is. Answered for this server's own hosts and the
        Microsoft ones; any other host is an unknown instance, as the real endpoint says."""
        endpoint = req.query.get("authorization_endpoint") or f"{req.base}/common/oauth2/v2.0/authorize"
        unknown = OAuthError("invalid_instance", "AADSTS50049: Unknown or invalid instance.", 400, code=50049)
        try:
            parts = urlsplit(endpoint)
            port = parts.port  # raises for a port that is not a number
        except ValueError as exc:  # not a URL at all ("https://[broken")
            raise unknown from exc
        path = re.sub(r"/oauth2(/v2\.0)?/authorize/?$", "", parts.path)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or path == parts.path or host not in self.own_hosts(req):
            raise unknown
        netloc = parts.netloc.lower()
        own = urlsplit(self.default_base())
        if port is None and host == (own.hostname or "").lower():
            netloc = own.netloc  # MSAL sends the instance without its port (msal/authority.py): put ours back
        aliases = [netloc] if host not in MICROSOFT_HOSTS else list(MICROSOFT_HOSTS)
        return Reply(json={
            "tenant_discovery_endpoint": f"https://{netloc}{path}/v2.0/.well-known/openid-configuration",
            "api-version": req.query.get("api-version", "1.1"),
            "metadata": [{"preferred_network": aliases[0], "preferred_cache": aliases[0], "aliases": aliases}],
        })

    def own_hosts(self, req: Request) -> set[str]:
        names = {*MICROSOFT_HOSTS, "localhost", "127.0.0.1", "::1", *(h.lower() for h in self.services.hostnames)}
        for url in (req.base, self.default_base()):
            host = urlsplit(url).hostname
            if host:
                names.add(host.lower())
        return names
