"""Telefonica Open Gateway: OIDC CIBA at the channel partner's API gateway (seed 002).
Wire facts: shared/reference/ciba-opengateway.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.request import Reply, Request


@dataclass
class OgApp:
    client_id: str
    secret: str
    purposes: list[str] = field(default_factory=list)  # subscriptions, as dpv:<Purpose>#<scope>
    delivery_mode: Literal["poll", "ping", "push"] = "poll"
    notification_endpoint: str | None = None
    consent_403: bool = False  # Telefonica's own variant: /token answers 403 while consent is missing


@dataclass
class OgSubscriber:
    login_hint: str  # tel:+34655555555, ipport:80.90.34.2:16790, ...
    consent: Literal["grant", "deny", "never"] = "grant"
    after_polls: int = 0  # consent is given (or denied) on this poll; 0 = at once
    after_seconds: float = 0
    sim_swapped: bool = False
    latest_sim_change: str = "2024-01-01T00:00:00Z"


@dataclass
class OpenGatewayWorld:
    auth_req_expires_in: int = 120
    interval: int = 2
    access_token_lifetime: int = 3600
    apps: list[OgApp] = field(default_factory=list)
    subscribers: list[OgSubscriber] = field(default_factory=list)

    def finish(self, base_dir: Path, seed: int) -> None:
        for a, app in enumerate(self.apps):
            if app.delivery_mode != "poll" and not app.notification_endpoint:
                raise ValueError(f"opengateway.apps[{a}].notification_endpoint: required for {app.delivery_mode} delivery")


class OpenGateway(Authority):
    name = "opengateway"
    title = "Telefonica Open Gateway (CIBA)"
    prefix = "/opengateway"
    host_patterns = (r"sandbox\.opengateway\.telefonica\.com", r"opengateway\.telefonica\.com")
    cert_hostnames = ('sandbox.opengateway.telefonica.com', 'opengateway.telefonica.com')
    config: OpenGatewayWorld

    def issuers(self) -> list[Issuer]:
        return [Issuer("apigateway", self.keyset("apigateway"), "/apigateway", "/apigateway/.well-known/openid-configuration", "/apigateway/jwks")]

    def demo_lines(self) -> list[str]:
        return [f"app {a.client_id} / {a.secret}: {', '.join(a.purposes)}" for a in self.config.apps] + [
            f"subscriber {s.login_hint}: {s.consent}" + (f" on poll {s.after_polls}" if s.after_polls else "") for s in self.config.subscribers
        ]

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("/apigateway/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint("/apigateway/jwks", "jwks", self.jwks),
        ]

    def discovery(self, req: Request) -> Reply:
        iss = req.base + "/apigateway"
        return Reply(json={"issuer": iss, "jwks_uri": iss + "/jwks", "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]})

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.issuers()[0].keyset.jwks())
