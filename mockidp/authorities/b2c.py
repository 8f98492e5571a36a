"""Azure AD B2C: the tenant where Lumen's API applications live (client credentials per user flow / policy).
Wire facts: shared/reference/lumen-b2c.md and the B2C part of entra.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mockidp.authorities.aad import aad_error, render_aad_error
from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.errors import OAuthError
from mockidp.request import Reply, Request


@dataclass
class B2CApp:
    client_id: str
    secret: str
    display_name: str = ""
    identifier_uri: str | None = None  # set when the app exposes an API (e.g. LIAM's)
    scopes: list[str] = field(default_factory=list)  # app roles the API defines
    granted: dict[str, list[str]] = field(default_factory=dict)  # API identifier URI -> roles granted to this app


@dataclass
class B2CTenant:
    name: str  # "lumendemo" for lumendemo.onmicrosoft.com / lumendemo.b2clogin.com
    tenant_id: str
    policies: list[str] = field(default_factory=lambda: ["B2C_1_client_credentials"])
    apps: list[B2CApp] = field(default_factory=list)


@dataclass
class B2CWorld:
    tenants: list[B2CTenant] = field(default_factory=list)

    def finish(self, base_dir: Path, seed: int) -> None:
        for t, tenant in enumerate(self.tenants):
            if not tenant.policies:
                raise ValueError(f"b2c.tenants[{t}].policies: at least one policy is needed")


class B2C(Authority):
    name = "b2c"
    title = "Azure AD B2C"
    prefix = "/b2c"
    host_patterns = (r"[a-z0-9-]+\.b2clogin\.com",)
    cert_hostnames = ('*.b2clogin.com',)
    config: B2CWorld

    def load(self) -> None:
        self.tenants = {t.name.lower(): t for t in self.config.tenants}

    def tenant_keyset(self, tenant: B2CTenant):  # type: ignore[no-untyped-def]
        return self.keyset(f"tenant-{tenant.name}", "RS256")

    def issuers(self) -> list[Issuer]:
        out = []
        for t in self.config.tenants:
            for p in t.policies:
                base = f"/{t.name}.onmicrosoft.com/{p}"
                out.append(Issuer(f"{t.name}/{p}", self.tenant_keyset(t), f"/{t.tenant_id}/v2.0/", f"{base}/v2.0/.well-known/openid-configuration", f"{base}/discovery/v2.0/keys"))
        return out

    def demo_lines(self) -> list[str]:
        return [f"tenant {t.name} ({', '.join(t.policies)}): app {a.client_id} / {a.secret}" for t in self.config.tenants for a in t.apps]

    def render_error(self, err: OAuthError, req: Request | None) -> Reply:
        return render_aad_error(err, self.now)

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("/{domain}/{policy}/v2.0/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint("/{domain}/{policy}/discovery/v2.0/keys", "keys", self.keys),
        ]

    def tenant_of(self, req: Request) -> tuple[B2CTenant, str]:
        domain, policy = req.path_params.get("domain", ""), req.path_params.get("policy", "")
        tenant = self.tenants.get(domain.lower().removesuffix(".onmicrosoft.com"))
        if tenant is None:
            raise aad_error("invalid_tenant", 90002, f"Tenant '{domain}' not found.")
        match = next((p for p in tenant.policies if p.lower() == policy.lower()), None)
        if match is None:
            raise aad_error("invalid_request", 90057, f"The policy '{policy}' does not exist.", prefix="AADB2C")
        return tenant, match

    def discovery(self, req: Request) -> Reply:
        tenant, policy = self.tenant_of(req)
        base = f"{req.base}/{tenant.name}.onmicrosoft.com/{policy}"
        return Reply(json={
            "issuer": f"{req.base}/{tenant.tenant_id}/v2.0/",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code", "id_token", "code id_token"],
            "scopes_supported": ["openid"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["sub", "azp", "scp", "tfp", "ver", "iss", "iat", "nbf", "exp", "aud"],
        })

    def keys(self, req: Request) -> Reply:
        tenant, _ = self.tenant_of(req)
        return Reply(json=self.tenant_keyset(tenant).jwks())
