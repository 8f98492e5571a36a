"""What the helpers of the Entra authority (client authentication, grants, pages, the APIM gate) may ask of it:
`Entra` in authority.py satisfies this protocol, so the helpers never import the authority module back."""

from __future__ import annotations

from typing import Any, Protocol

from mockidp.authorities.entra.world import ApimApi, EntraTenant, EntraWorld
from mockidp.keys import KeySet
from mockidp.request import Request
from mockidp.types import Services


class EntraContext(Protocol):
    tenants: dict[str, EntraTenant]  # by tenant id and by domain, lower case
    apis: dict[str, ApimApi]  # the APIM gate's APIs, by path
    config: EntraWorld

    @property
    def services(self) -> Services: ...

    @property
    def title(self) -> str: ...

    @property
    def now(self) -> float: ...

    def default_base(self) -> str: ...

    def bases(self, req: Request) -> list[str]: ...

    def planned_claims(self, client_id: str | None) -> dict[str, Any]: ...

    def tenant_of(self, req: Request, error: str = "invalid_tenant") -> EntraTenant: ...

    def tenant_keyset(self, tenant: EntraTenant) -> KeySet: ...

    def known_issuers(self, req: Request, tenant: EntraTenant) -> list[str]: ...
