"""What the Avaya helpers (browser.py, api.py, clientauth.py, metadata.py, introspection.py) ask of the
authority: a narrow protocol that `Avaya` (authority.py) satisfies, so no helper imports the authority back."""

from __future__ import annotations

from typing import Protocol

from mockidp.authorities.avaya.realm import Realm
from mockidp.authorities.avaya.tokens import AvayaTokens
from mockidp.authorities.avaya.world import AvayaWorld
from mockidp.request import Request
from mockidp.types import Services


class AvayaContext(Protocol):
    services: Services
    config: AvayaWorld
    realms: dict[str, Realm]
    tokens: AvayaTokens

    @property
    def title(self) -> str: ...

    @property
    def now(self) -> float: ...

    def realm_of(self, req: Request) -> Realm:
        """The realm the request's path names, or Keycloak's 404 / 403."""
        ...
