"""PFW's section of a world file: its clients and the people who sign in to Control Center."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mockidp.identities import Identities
from mockidp.oauth.redirects import LOOPBACK_PATTERNS


@dataclass
class PfwClient:
    client_id: str
    secret: str | None = None  # None: a public client (a browser app), which must use PKCE
    # exact, or a prefix ending in '*' (a bare "*" matches nothing); left out: the loopback interfaces only
    redirect_uris: list[str] = field(default_factory=lambda: list(LOOPBACK_PATTERNS))
    require_pkce: bool = True


@dataclass
class PfwUser:
    username: str
    password: str
    email: str | None = None
    name: str | None = None
    accounts: list[str] = field(default_factory=list)  # customer numbers the person acts for in Control Center
    bans: list[str] = field(default_factory=list)  # billing account numbers they may see
    enabled: bool = True


@dataclass
class PfwWorld:
    clients: list[PfwClient] = field(default_factory=list)
    users: list[PfwUser] = field(default_factory=list)
    access_token_lifetime: int = 1800
    refresh_token_lifetime: int = 28800
    code_lifetime: int = 60

    def finish(self, base_dir: Path, seed: int) -> None:
        names = Identities(seed)
        for user in self.users:
            if not (user.email and user.name):
                given, family, email = names.person(f"pfw/{user.username}")
                user.name, user.email = user.name or f"{given} {family}", user.email or email
        for c, client in enumerate(self.clients):
            if client.secret is None and not client.require_pkce:
                raise ValueError(f"pfw.clients[{c}].require_pkce: a public client must use PKCE")
