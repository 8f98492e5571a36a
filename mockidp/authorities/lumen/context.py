"""What Lumen's helpers (liam.py, apigee.py, digest.py, api.py) need of the authority that composes them: the
world section and services, its clock, key sets and planned claims. `Lumen` (authority.py) satisfies it, so no
helper imports the authority back."""

from __future__ import annotations

from typing import Any, Protocol

from mockidp.authorities.lumen.world import LumenWorld
from mockidp.keys import KeySet
from mockidp.types import Services


class LumenContext(Protocol):
    config: LumenWorld
    services: Services

    @property
    def prefix(self) -> str: ...

    @property
    def now(self) -> float: ...

    def keyset(self, issuer_id: str, alg: str = "RS256", kid_style: str = "thumbprint") -> KeySet: ...

    def planned_claims(self, client_id: str | None) -> dict[str, Any]: ...

    def default_base(self) -> str: ...
