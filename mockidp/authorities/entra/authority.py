"""Azure AD / Microsoft Entra ID (v2.0 endpoints), per tenant GUID and per tenant domain: the five°degrees IdP.
Wire facts: shared/reference/entra.md. The token endpoint is in entra_tokens.py, the API Management gate in
authorities/entra/apim.py."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from mockidp.authorities.aad import aad_error, render_aad_error
from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.errors import OAuthError
from mockidp.keys import KeySet
from mockidp.oauth.keymaterial import inline_pem
from mockidp.request import Reply, Request

# The Microsoft public-cloud hosts MSAL treats as known (msal/authority.py WELL_KNOWN_AUTHORITY_HOSTS, public cloud).
MICROSOFT_HOSTS = ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net")
REAL_BASE = "https://login.microsoftonline.com"
# Tenant names that are not tenants: discovery answers for them, the client credentials grant does not.
MULTI_TENANT = ("common", "organizations", "consumers")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DNS = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


# --- world data ----------------------------------------------------------------------------------


@dataclass
class EntraApp:
    app_id: str
    display_name: str = ""
    secrets: list[str] = field(default_factory=list)
    expired_secrets: list[str] = field(default_factory=list)  # still known to Entra, past their end date: AADSTS7000222
    certificates: list[str] = field(default_factory=list)  # PEM text, or paths relative to the world file
    identifier_uris: list[str] = field(default_factory=list)  # set when the app exposes an API (a resource)
    app_roles: list[str] = field(default_factory=list)  # roles the API defines
    granted_roles: dict[str, list[str]] = field(default_factory=dict)  # resource (identifier URI or app id) -> roles granted
    accept_v1_tokens: bool = False  # the resource's accessTokenAcceptedVersion 1 (or null)
    object_id: str | None = None  # the service principal's object id (`oid`/`sub`); derived from the app id when absent
    # Sign-in of users (entra_browser.py): the reply URLs, exact, except that a loopback `http://localhost`,
    # `http://127.0.0.1` or `http://[::1]` URL matches any port (reply-url.md, RFC 8252 §7.3).
    redirect_uris: list[str] = field(default_factory=list)
    public_client: bool = False  # SPA / mobile and desktop: no credential, PKCE required
    scopes: list[str] = field(default_factory=list)  # delegated permissions the API exposes (`scp`), e.g. Api.Read


@dataclass
class EntraUser:
    """A member of the tenant who signs in on the login page. What is left out is generated, seeded."""

    user_principal_name: str
    password: str
    display_name: str | None = None
    given_name: str | None = None
    surname: str | None = None
    mail: str | None = None  # the `email` claim; the UPN when absent
    object_id: str | None = None  # derived from tenant and UPN when absent
    app_roles: dict[str, list[str]] = field(default_factory=dict)  # resource (identifier URI or app id) -> roles assigned
    groups: list[str] = field(default_factory=list)  # group object ids, the `groups` claim
    account_enabled: bool = True


@dataclass
class EntraTenant:
    tenant_id: str
    domains: list[str] = field(default_factory=list)
    alg: Literal["RS256", "PS256", "ES256"] = "RS256"
    apps: list[EntraApp] = field(default_factory=list)
    display_name: str = ""  # named in AADSTS500011 ("...not found in the tenant named ...")
    token_lifetime: int = 3599  # seconds; Entra answers expires_in 3599 for a fresh app token
    users: list[EntraUser] = field(default_factory=list)
    refresh_token_lifetime: int = 90 * 86400  # refresh-tokens.md: 90 days (24 hours for a SPA)


@dataclass
class ApimClaim:
    """One `<claim>` of validate-jwt's `<required-claims>`: present, and holding all (or any) of `values`."""

    name: str
    values: list[str] = field(default_factory=list)
    match: Literal["all", "any"] = "all"


@dataclass
class ApimBackend:
    """The stand-in five°degrees backend (BFF): a command answers 202 Accepted, a query 200 OK (seed 003)."""

    name: str = "fivedegrees-bff"
    command_methods: list[str] = field(default_factory=lambda: ["POST", "PUT", "PATCH", "DELETE"])


@dataclass
class ApimApi:
    """An API in Azure API Management with a validate-jwt inbound policy, served at /entra/apim/{path}/..."""

    path: str  # the API URL suffix
    tenant: str  # tenant id or domain whose openid-config the policy reads the signing keys from
    audiences: list[str] = field(default_factory=list)  # any of; empty: no audience check
    issuers: list[str] = field(default_factory=list)  # any of; "{base}" stands for the Entra base; empty: the tenant's v2 and v1 issuers
    required_claims: list[ApimClaim] = field(default_factory=list)
    require_scheme: str = "Bearer"
    require_expiration_time: bool = True
    clock_skew: int = 0  # validate-jwt's default
    failed_validation_httpcode: int = 401
    failed_validation_error_message: str | None = None  # None: the policy's own message for each failure
    identity_headers: dict[str, list[str]] = field(default_factory=lambda: {
        "X-Identity-Oid": ["oid"], "X-Identity-Sub": ["sub"], "X-Identity-Tid": ["tid"],
        "X-Identity-Azp": ["azp", "appid"], "X-Identity-Roles": ["roles"],
    })  # header -> the first claim present (lists comma-joined), as a set-header policy would copy them
    backend: ApimBackend = field(default_factory=ApimBackend)


@dataclass
class EntraWorld:
    tenants: list[EntraTenant] = field(default_factory=list)
    apim: list[ApimApi] = field(default_factory=list)

    def finish(self, base_dir: Path | None, seed: int) -> None:  # base_dir None: no file reads (the control API)
        from mockidp.identities import Identities

        names = Identities(seed)
        for t, tenant in enumerate(self.tenants):
            seen: set[str] = set()
            for u, user in enumerate(tenant.users):
                where = f"entra.tenants[{t}].users[{u}]"
                if user.user_principal_name.lower() in seen or "@" not in user.user_principal_name:
                    raise ValueError(f"{where}.user_principal_name: must be a unique name@domain, got {user.user_principal_name!r}")
                seen.add(user.user_principal_name.lower())
                if not (user.given_name and user.surname):  # Faker only for what the world leaves out
                    given, family, _ = names.person(f"entra/{tenant.tenant_id}/{user.user_principal_name.lower()}")
                    user.given_name, user.surname = user.given_name or given, user.surname or family
                user.display_name = user.display_name or f"{user.given_name} {user.surname}"
                user.mail = user.mail or user.user_principal_name
                user.object_id = user.object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"mockidp:entra:{tenant.tenant_id}:user:{user.user_principal_name.lower()}"))
                self.check_roles(tenant, user.app_roles, f"{where}.app_roles")
            for a, app in enumerate(tenant.apps):
                if app.public_client and (app.secrets or app.certificates):
                    raise ValueError(f"entra.tenants[{t}].apps[{a}]: a public client has no secrets or certificates")
            for a, app in enumerate(tenant.apps):
                app.certificates = [inline_pem(cert, base_dir, f"entra.tenants[{t}].apps[{a}].certificates[{c}]") for c, cert in enumerate(app.certificates)]
            for a, app in enumerate(tenant.apps):
                self.check_roles(tenant, app.granted_roles, f"entra.tenants[{t}].apps[{a}].granted_roles")
        tenant_names = {k.lower() for t in self.tenants for k in (t.tenant_id, *t.domains)}
        paths: set[str] = set()
        for i, api in enumerate(self.apim):
            if api.tenant.lower() not in tenant_names:
                raise ValueError(f"entra.apim[{i}].tenant: no tenant {api.tenant!r}")
            if not re.fullmatch(r"[A-Za-z0-9._~-]+", api.path) or api.path in paths:
                raise ValueError(f"entra.apim[{i}].path: must be one unique URL segment, got {api.path!r}")
            paths.add(api.path)

    @staticmethod
    def check_roles(tenant: EntraTenant, assigned: dict[str, list[str]], where: str) -> None:
        for resource, roles in assigned.items():
            api = find_resource(tenant, resource)
            if api is None:
                raise ValueError(f"{where}: no app in the tenant is the resource {resource!r}")
            unknown = [r for r in roles if api.app_roles and r not in api.app_roles]
            if unknown:
                raise ValueError(f"{where}: {resource!r} defines no app role {unknown[0]!r}")


def find_resource(tenant: EntraTenant, name: str) -> EntraApp | None:
    """The app a resource name denotes: its app id, or one of its identifier URIs (a trailing '/' is ignored)."""
    wanted = name.rstrip("/").lower()
    for app in tenant.apps:
        if app.app_id.lower() == wanted or any(u.rstrip("/").lower() == wanted for u in app.identifier_uris):
            return app
    return None


def object_id(tenant: EntraTenant, app: EntraApp) -> str:
    return app.object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"mockidp:entra:{tenant.tenant_id}:sp:{app.app_id}"))


# --- runtime --------------------------------------------------------------------------------------


class Entra(Authority):
    name = "entra"
    title = "Microsoft Entra ID (Azure AD)"
    prefix = "/entra"
    host_patterns = (r"login\.microsoftonline\.com", r"login\.windows\.net", r"sts\.windows\.net")
    cert_hostnames = ('login.microsoftonline.com', 'login.windows.net', 'sts.windows.net')
    config: EntraWorld
    world_type = EntraWorld

    def load(self) -> None:
        # Built whole, then assigned: with several event loops a request may read the table while a world change
        # rebuilds it (MockIdpServer's threads), and must see the old table or the new one, never half of one.
        self.tenants: dict[str, EntraTenant] = {key.lower(): tenant for tenant in self.config.tenants for key in (tenant.tenant_id, *tenant.domains)}
        self.apis = {api.path: api for api in self.config.apim}

    def tenant_keyset(self, tenant: EntraTenant) -> KeySet:
        return self.keyset(f"tenant-{tenant.tenant_id}", tenant.alg, kid_style="x5t")

    def issuers(self) -> list[Issuer]:
        return [
            Issuer(t.tenant_id, self.tenant_keyset(t), f"/{t.tenant_id}/v2.0", f"/{t.tenant_id}/v2.0/.well-known/openid-configuration", f"/{t.tenant_id}/discovery/v2.0/keys",
                   f"/{t.tenant_id}/oauth2/v2.0/token")
            for t in self.config.tenants
        ]

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
        from mockidp.authorities.entra.apim import ApimGateway
        from mockidp.authorities.entra.browser import EntraBrowser, render_graph_error
        from mockidp.authorities.entra.tokens import EntraTokens

        gate = ApimGateway(self)
        browser = EntraBrowser(self)
        every = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
        return [
            # APIM first: Starlette takes the first match and "apim" would otherwise read as a tenant name.
            Endpoint("/apim/{api}/{path:path}", "apim", gate.handle, every),
            Endpoint("/apim/{api}", "apim", gate.handle, every),
            Endpoint("/common/discovery/instance", "instance-discovery", self.instance_discovery),
            Endpoint("/oidc/userinfo", "userinfo", browser.userinfo, ("GET", "POST"), render_graph_error),
            Endpoint("/{tenant}/oauth2/v2.0/token", "token", EntraTokens(self).token, ("POST",)),
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
        name = req.path_params.get("tenant", "")
        tenant = self.tenants.get(name.lower())
        if tenant is not None:
            return tenant
        if name.lower() in MULTI_TENANT:
            raise aad_error("invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials.")
        if not (_GUID.fullmatch(name) or _DNS.fullmatch(name)):
            raise aad_error(error, 900023, f"Specified tenant identifier '{name}' is neither a valid DNS name, nor a valid external domain.")
        raise aad_error(error, 90002, f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.")

    def v2_issuer(self, base: str, tenant: EntraTenant) -> str:
        return f"{base}/{tenant.tenant_id}/v2.0"

    @staticmethod
    def v1_issuer(tenant: EntraTenant) -> str:
        # v1 tokens name the STS host whatever host issued them (access-token-claims-reference.md).
        return f"https://sts.windows.net/{tenant.tenant_id}/"

    def known_issuers(self, req: Request, tenant: EntraTenant) -> list[str]:
        """Every issuer this tenant's tokens may carry: v2 at each base it is served under, and v1."""
        bases = dict.fromkeys((req.base, self.default_base(), REAL_BASE))
        return [*(self.v2_issuer(b, tenant) for b in bases), self.v1_issuer(tenant)]

    # --- discovery and keys ------------------------------------------------------------------------

    def discovery(self, req: Request) -> Reply:
        name = req.path_params.get("tenant", "")
        if name.lower() in MULTI_TENANT:
            # The multi-tenant documents carry a literal "{tenantid}" placeholder in the issuer.
            return Reply(json=self.metadata(f"{req.base}/{name}", f"{req.base}/{{tenantid}}/v2.0", "RS256", v2=True, userinfo=f"{req.base}/oidc/userinfo"))
        tenant = self.tenant_of(req)
        return Reply(json=self.metadata(f"{req.base}/{tenant.tenant_id}", self.v2_issuer(req.base, tenant), tenant.alg, v2=True, userinfo=f"{req.base}/oidc/userinfo"))

    def discovery_v1(self, req: Request) -> Reply:
        tenant = self.tenant_of(req)
        return Reply(json=self.metadata(f"{req.base}/{tenant.tenant_id}", self.v1_issuer(tenant), tenant.alg, v2=False))

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
                key["issuer"] = self.v2_issuer(req.base, tenant)
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
