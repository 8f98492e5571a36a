"""What the gateway's helpers need of it, and no more: `OpenGateway` satisfies both protocols, so delivery.py and
simswap.py take the authority without importing authority.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from mockidp.authorities.base import Issuer
from mockidp.authorities.opengateway.world import OgApp, OgSubscriber, OpenGatewayWorld
from mockidp.oauth import ciba
from mockidp.types import Services


class DeliveryContext(Protocol):
    """Ping / push delivery (delivery.py): the apps' endpoints, the tokens to push, where attempts are journalled."""

    @property
    def name(self) -> str: ...

    @property
    def services(self) -> Services: ...

    @property
    def config(self) -> OpenGatewayWorld: ...

    @property
    def apps(self) -> Mapping[str, OgApp]: ...

    @property
    def now(self) -> float: ...

    def issue(self, rec: ciba.Record, base: str) -> dict[str, Any]: ...


class SimSwapContext(Protocol):
    """The SIM Swap API (simswap.py): the issuer whose access tokens it accepts, and the subscribers they name."""

    @property
    def now(self) -> float: ...

    def issuers(self) -> list[Issuer]: ...

    def subscriber(self, hint: ciba.LoginHint) -> OgSubscriber | None: ...
