"""Azure AD / Microsoft Entra ID (v2.0 endpoints), per tenant GUID and per tenant domain: the five°degrees IdP.
Wire facts: shared/reference/entra.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mockidp.authorities.aad import aad_error, render_aad_error
from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.errors import OAuthError
from mockidp.request import Reply, Request


@dataclass
class EntraApp:
    app_id: str
    display_name: str = ""
    secrets: list[str] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)  # PEM text, or paths relative to the world file
    identifier_uris: list[str] = field(default_factory=list)  # set when the app exposes an API (a resource)
    app_roles: list[str] = field(default_factory=list)  # roles the API defines
    granted_roles: dict[str, list[str]] = field(default_factory=dict)  # resource (identifier URI or app id) -> roles granted
    accept_v1_tokens: bool = False  # the resource's accessTokenAcceptedVersion 1 (or null)


@dataclass
class EntraTenant:
    tenant_id: str
    domains: list[str] = field(default_factory=list)
    alg: Literal["RS256", "PS256", "ES256"] = "RS256"
    apps: list[EntraApp] = field(default_factory=list)


@dataclass
class EntraWorld:
    tenants: list[EntraTenant] = field(default_factory=list)

    def finish(self, base_dir: Path, seed: int) -> None:
        for t, tenant in enumerate(self.tenants):
            for a, app in enumerate(tenant.apps):
                for c, cert in enumerate(app.certificates):
                    if not cert.lstrip().startswith("-----"):
                        path = (base_dir / cert).resolve()
                        if not path.is_file():
                            raise ValueError(f"entra.tenants[{t}].apps[{a}].certificates[{c}]: no file {path}")
                        app.certificates[c] = path.read_text()


class Entra(Authority):
    name = "entra"
    title = "Microsoft Entra ID (Azure AD)"
    prefix = "/entra"
    host_patterns = (r"login\.microsoftonline\.com", r"login\.windows\.net", r"sts\.windows\.net")
    cert_hostnames = ('login.microsoftonline.com', 'login.windows.net', 'sts.windows.net')
    config: EntraWorld

    def load(self) -> None:
        self.tenants: dict[str, EntraTenant] = {}
        for tenant in self.config.tenants:
            for key in (tenant.tenant_id, *tenant.domains):
                self.tenants[key.lower()] = tenant

    def tenant_keyset(self, tenant: EntraTenant):  # type: ignore[no-untyped-def]
        return self.keyset(f"tenant-{tenant.tenant_id}", tenant.alg, kid_style="x5t")

    def issuers(self) -> list[Issuer]:
        return [
            Issuer(t.tenant_id, self.tenant_keyset(t), f"/{t.tenant_id}/v2.0", f"/{t.tenant_id}/v2.0/.well-known/openid-configuration", f"/{t.tenant_id}/discovery/v2.0/keys")
            for t in self.config.tenants
        ]

    def demo_lines(self) -> list[str]:
        out = []
        for t in self.config.tenants:
            for app in t.apps:
                cred = app.secrets[0] if app.secrets else ("certificate" if app.certificates else "(no credential)")
                out.append(f"tenant {t.tenant_id}: app {app.app_id} / {cred}" + (f" (API {app.identifier_uris[0]})" if app.identifier_uris else ""))
        return out

    def render_error(self, err: OAuthError, req: Request | None) -> Reply:
        return render_aad_error(err, self.now)

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("/{tenant}/v2.0/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint("/{tenant}/discovery/v2.0/keys", "keys", self.keys),
        ]

    def tenant_of(self, req: Request) -> EntraTenant:
        name = req.path_params.get("tenant", "")
        tenant = self.tenants.get(name.lower())
        if tenant is None:
            raise aad_error("invalid_tenant", 90002, f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
        return tenant

    def discovery(self, req: Request) -> Reply:
        tenant = self.tenant_of(req)
        base = f"{req.base}/{tenant.tenant_id}"
        return Reply(json={
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": [tenant.alg],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "tenant_region_scope": "EU",
        })

    def keys(self, req: Request) -> Reply:
        tenant = self.tenant_of(req)
        jwks = self.tenant_keyset(tenant).jwks()
        for key in jwks["keys"]:
            key.pop("alg", None)  # Entra publishes no alg; kid == x5t
            key.pop("x5t#S256", None)
            key["issuer"] = f"{req.base}/{tenant.tenant_id}/v2.0"
        return Reply(json=jwks)
