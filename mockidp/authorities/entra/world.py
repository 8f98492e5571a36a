"""The Entra section of a world file: tenants with their apps (clients and the APIs they call) and users, and the
APIs behind the API Management gate. Wire facts: shared/reference/entra.md."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mockidp.identities import Identities
from mockidp.oauth.keymaterial import inline_pem


@dataclass
class EntraFederatedCredential:
    """A federated identity credential of an app (workload-identity-federation.md): a token from `issuer` whose
    `sub` is `subject` and whose `aud` holds one of `audiences` stands in for the app's secret. `{base}` in the
    issuer is this server's root URL, e.g. "{base}/workload/kubernetes" (mockidp's stand-in issuers)."""

    issuer: str
    subject: str
    audiences: list[str] = field(default_factory=lambda: ["api://AzureADTokenExchange"])
    name: str = ""


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
    # Sign-in of users (browser.py): the reply URLs, exact, except that a loopback `http://localhost`,
    # `http://127.0.0.1` or `http://[::1]` URL matches any port (reply-url.md, RFC 8252 §7.3).
    redirect_uris: list[str] = field(default_factory=list)
    public_client: bool = False  # SPA / mobile and desktop: no credential, PKCE required
    scopes: list[str] = field(default_factory=list)  # delegated permissions the API exposes (`scp`), e.g. Api.Read
    federated_credentials: list[EntraFederatedCredential] = field(default_factory=list)
    # Delegated permissions consented for this app on other APIs (admin consent): resource -> scopes. What a middle
    # tier may ask for on behalf of a user (obo.py); AADSTS65001 beyond it.
    delegated_permissions: dict[str, list[str]] = field(default_factory=dict)


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
class EntraManagedIdentity:
    """A managed identity of the tenant (managed-identities-azure-resources/overview.md): the system-assigned one of
    the Azure resource mockidp stands in for (a VM, an App Service app), or a user-assigned one. Its tokens come
    from the IMDS and App Service endpoints (managed_identity.py); its app role assignments are `granted_roles`."""

    client_id: str
    name: str  # the identity's resource name (user-assigned) or the hosting resource's name (system-assigned)
    kind: Literal["system", "user"] = "user"
    object_id: str | None = None  # the service principal's object (principal) id, `oid`; derived when absent
    resource_id: str | None = None  # the ARM resource id, `xms_mirid`; derived from the names below when absent
    subscription_id: str = "5d5d5d5d-5d5d-5d5d-5d5d-5d5d5d5d5d5d"
    resource_group: str = "fivedegrees-demo"
    granted_roles: dict[str, list[str]] = field(default_factory=dict)  # resource (identifier URI or app id) -> roles


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
    managed_identities: list[EntraManagedIdentity] = field(default_factory=list)


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
    # Subscription keys (api-management-subscriptions.md): when required, a request carries one of `subscription_keys`
    # in the Ocp-Apim-Subscription-Key header or the subscription-key query parameter, else APIM's 401.
    subscription_required: bool = False
    subscription_keys: list[str] = field(default_factory=list)
    # rate-limit-by-key on the subscription key: at most `rate_limit_calls` per `rate_limit_period` seconds (0: none).
    rate_limit_calls: int = 0
    rate_limit_period: int = 60


@dataclass
class EntraWorld:
    tenants: list[EntraTenant] = field(default_factory=list)
    apim: list[ApimApi] = field(default_factory=list)
    # The App Service managed-identity endpoint's secret, which the platform hands the app as IDENTITY_HEADER and
    # the app sends back as X-IDENTITY-HEADER (app-service/overview-managed-identity.md). A development value.
    identity_header: str = "mockidp-identity-header"

    def finish(self, base_dir: Path | None, seed: int) -> None:  # base_dir None: no file reads (the control API)
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
                for resource, scopes in app.delegated_permissions.items():
                    target = find_resource(tenant, resource)
                    if target is None or any(s not in target.scopes for s in scopes):
                        raise ValueError(f"entra.tenants[{t}].apps[{a}].delegated_permissions: {resource!r} is no API of the tenant exposing {scopes}")
        self.finish_identities()
        tenant_names = {k.lower() for t in self.tenants for k in (t.tenant_id, *t.domains)}
        paths: set[str] = set()
        for i, api in enumerate(self.apim):
            if api.tenant.lower() not in tenant_names:
                raise ValueError(f"entra.apim[{i}].tenant: no tenant {api.tenant!r}")
            if not re.fullmatch(r"[A-Za-z0-9._~-]+", api.path) or api.path in paths:
                raise ValueError(f"entra.apim[{i}].path: must be one unique URL segment, got {api.path!r}")
            paths.add(api.path)
            if api.subscription_required and not api.subscription_keys:
                raise ValueError(f"entra.apim[{i}].subscription_keys: a subscription is required, so at least one key")
            if api.rate_limit_calls < 0 or api.rate_limit_period < 1:
                raise ValueError(f"entra.apim[{i}].rate_limit_calls: a number of calls >= 0 per a period >= 1 s")

    def finish_identities(self) -> None:
        seen: set[str] = set()
        for t, tenant in enumerate(self.tenants):
            if sum(mi.kind == "system" for mi in tenant.managed_identities) > 1:
                raise ValueError(f"entra.tenants[{t}].managed_identities: a resource has one system-assigned identity")
            for m, mi in enumerate(tenant.managed_identities):
                where = f"entra.tenants[{t}].managed_identities[{m}]"
                if mi.client_id.lower() in seen:
                    raise ValueError(f"{where}.client_id: {mi.client_id!r} is another managed identity's")
                seen.add(mi.client_id.lower())
                mi.object_id = mi.object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"mockidp:entra:{tenant.tenant_id}:mi:{mi.client_id.lower()}"))
                # ARM ids (azure-resource-manager/management/resource-name-rules.md); the system-assigned identity's
                # is its hosting resource's, here a virtual machine.
                provider = "Microsoft.ManagedIdentity/userAssignedIdentities" if mi.kind == "user" else "Microsoft.Compute/virtualMachines"
                mi.resource_id = mi.resource_id or f"/subscriptions/{mi.subscription_id}/resourcegroups/{mi.resource_group}/providers/{provider}/{mi.name}"
                self.check_roles(tenant, mi.granted_roles, f"{where}.granted_roles")

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


def assigned_roles(assigned: dict[str, list[str]], resource: EntraApp) -> list[str]:
    """The roles of `resource` among assignments keyed by resource (identifier URI or app id)."""
    names = {resource.app_id.lower(), *(u.rstrip("/").lower() for u in resource.identifier_uris)}
    roles: list[str] = []
    for key, granted in assigned.items():
        if key.rstrip("/").lower() in names:
            roles += [r for r in granted if r not in roles]
    return roles
