"""Lumen APIs (api.lumen.com): LIAM, the go-forward token service backed by Azure AD B2C, and the APIs that
accept its tokens. Seed 000; wire facts: shared/reference/lumen-b2c.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.request import Reply, Request


@dataclass
class LumenApp:
    """One Control Center API application: a B2C app (client id + secret) and the LIAM user record for it."""

    client_id: str
    secret: str
    bans: list[str] = field(default_factory=list)
    customer_number: str = ""
    environment: str = "test"
    token_lifetime: int = 3600
    enabled: bool = True


@dataclass
class LumenWorld:
    environment: str = "test"  # LIAM's current environment: a user record of another one is refused
    b2c_tenant: str = "lumendemo"
    b2c_policy: str = "B2C_1_client_credentials"
    liam_api: str = "https://lumendemo.onmicrosoft.com/liam"  # LIAM's App ID URI in B2C
    apps: list[LumenApp] = field(default_factory=list)

    def finish(self, base_dir: Path, seed: int) -> None:
        seen: set[str] = set()
        for a, app in enumerate(self.apps):
            if app.client_id in seen:
                raise ValueError(f"lumen.apps[{a}].client_id: duplicate app {app.client_id!r}")
            seen.add(app.client_id)


class Lumen(Authority):
    name = "lumen"
    title = "Lumen LIAM (api.lumen.com)"
    prefix = "/lumen"
    host_patterns = (r"api\.lumen\.com", r"api-test\.lumen\.com")
    cert_hostnames = ('api.lumen.com', 'api-test.lumen.com')
    config: LumenWorld

    def load(self) -> None:
        self.apps = {a.client_id: a for a in self.config.apps}

    def issuers(self) -> list[Issuer]:
        return [Issuer("liam", self.keyset("liam"), "/oauth/v2", None, "/oauth/v2/jwks")]

    def demo_lines(self) -> list[str]:
        return [f"LIAM app {a.client_id} / {a.secret}: BANs {', '.join(a.bans)}, customer {a.customer_number}, env {a.environment}" for a in self.config.apps]

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("/oauth/v2/jwks", "jwks", self.jwks)]

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.issuers()[0].keyset.jwks())
