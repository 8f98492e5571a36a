"""What the gateway's helpers need of it, and no more: `OpenGateway` satisfies these protocols, so delivery.py and
the CAMARA APIs (camara/common.ApiContext) take the authority without importing authority.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from mockidp.authorities.opengateway.world import OgApp, OgSubscriber, OpenGatewayWorld
from mockidp.oauth import ciba
from mockidp.types import Services


class GatewayContext(Protocol):
    """What every helper of the gateway reads: its services, its world section and apps, its clock."""

    @property
    def services(self) -> Services: ...

    @property
    def config(self) -> OpenGatewayWorld: ...

    @property
    def apps(self) -> Mapping[str, OgApp]: ...

    @property
    def now(self) -> float: ...


class DeliveryContext(GatewayContext, Protocol):
    """Ping / push delivery (delivery.py): the apps' endpoints, the tokens to push, where attempts are journalled."""

    @property
    def name(self) -> str: ...

    def issue(self, rec: ciba.Record, base: str) -> dict[str, Any]: ...


class FrontendContext(GatewayContext, Protocol):
    """The frontend flow (frontend.py): the apps and their subscriptions, the subscribers and their consent, the
    store for codes and pending consent, and the gateway's token signing."""

    @property
    def subscriptions(self) -> Mapping[str, list[ciba.Purpose]]: ...

    @property
    def subscribers(self) -> list[tuple[ciba.LoginHint, OgSubscriber]]: ...

    def rule_for(self, sub: OgSubscriber, purpose: ciba.Purpose) -> dict[str, Any]: ...

    def subscriber(self, hint: ciba.LoginHint) -> OgSubscriber | None: ...

    def planned_claims(self, client_id: str) -> dict[str, Any]: ...

    def sign_token(self, claims: dict[str, Any], base: str, lifetime: int, typ: str = "JWT") -> str: ...
