"""Planned claims: extra or overriding claims for the next token(s) of a client, or for all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mockidp.plan import ANY, Plan, Planned

if TYPE_CHECKING:
    from mockidp.store import Store


@dataclass
class PlannedClaims(Planned):
    authority: str = ANY
    client_id: str = ANY
    claims: dict[str, Any] = field(default_factory=dict)


class ClaimsPlan(Plan[PlannedClaims]):
    """Consulted by authorities when they mint an access token (`Authority.planned_claims`); `times: None` plans
    claims for every token from now on."""

    def __init__(self, store: Store | None = None) -> None:
        super().__init__("claims", every_time_allowed=True, store=store, item_type=PlannedClaims)

    def take_for(self, authority: str, client_id: str | None) -> dict[str, Any]:
        """The claims to merge into the next token of (authority, client): every matching plan, in order."""
        merged: dict[str, Any] = {}
        for plan in self.take(lambda p: p.authority in (ANY, authority) and p.client_id in (ANY, client_id), first_only=False):
            merged.update(plan.claims)
        return merged
