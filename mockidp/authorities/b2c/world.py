"""Azure AD B2C's section of a world file: tenants, their user flows (policies) and apps. Lumen's API apps join
them at load (authority.py), from the Lumen section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
    access_token_lifetime: int = 3600  # B2C's default access token lifetime (configure-tokens.md: 60 minutes)
    apps: list[B2CApp] = field(default_factory=list)


@dataclass
class B2CWorld:
    tenants: list[B2CTenant] = field(default_factory=list)

    def finish(self, base_dir: Path, seed: int) -> None:
        for t, tenant in enumerate(self.tenants):
            if not tenant.policies:
                raise ValueError(f"b2c.tenants[{t}].policies: at least one policy is needed")
