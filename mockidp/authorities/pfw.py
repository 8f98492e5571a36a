"""Lumen Portal Framework (PFW): OAuth2 for people signing in to Control Center; its own issuer and keys (seed 000)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.request import Reply, Request


@dataclass
class PfwClient:
    client_id: str
    secret: str | None = None
    redirect_uris: list[str] = field(default_factory=lambda: ["*"])


@dataclass
class PfwUser:
    username: str
    password: str
    email: str | None = None
    name: str | None = None
    accounts: list[str] = field(default_factory=list)


@dataclass
class PfwWorld:
    clients: list[PfwClient] = field(default_factory=list)
    users: list[PfwUser] = field(default_factory=list)

    def finish(self, base_dir: Path, seed: int) -> None:
        from mockidp.identities import Identities

        names = Identities(seed)
        for user in self.users:
            if not (user.email and user.name):
                given, family, email = names.person(f"pfw/{user.username}")
                user.name, user.email = user.name or f"{given} {family}", user.email or email


class Pfw(Authority):
    name = "pfw"
    title = "Lumen Portal Framework"
    prefix = "/pfw"
    config: PfwWorld

    def issuers(self) -> list[Issuer]:
        return [Issuer("pfw", self.keyset("pfw"), "", "/.well-known/openid-configuration", "/jwks")]

    def demo_lines(self) -> list[str]:
        return [f"client {c.client_id} / {c.secret or '(public)'}" for c in self.config.clients] + [
            f"user {u.username} / {u.password}" for u in self.config.users
        ]

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint("/jwks", "jwks", self.jwks),
        ]

    def discovery(self, req: Request) -> Reply:
        return Reply(json={"issuer": req.base, "jwks_uri": req.base + "/jwks", "response_types_supported": ["code"], "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]})

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.issuers()[0].keyset.jwks())
