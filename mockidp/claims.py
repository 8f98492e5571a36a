"""Planned claims: extra or overriding claims for the next token(s) of a client, or for all of them."""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

ANY = "*"


@dataclass
class PlannedClaims:
    authority: str = ANY
    client_id: str = ANY
    claims: dict[str, Any] = field(default_factory=dict)
    times: int | None = 1  # None: every token from now on
    id: str = ""
    used: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ClaimsPlan:
    """Consulted by authorities when they mint an access token (`Authority.planned_claims`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: list[PlannedClaims] = []
        self._ids = itertools.count(1)

    def add(self, plan: PlannedClaims) -> PlannedClaims:
        if plan.times is not None and plan.times < 1:
            raise ValueError("times must be at least 1, or null for every token")
        with self._lock:
            plan.id = plan.id or f"claims-{next(self._ids)}"
            self._plans.append(plan)
        return plan

    def take(self, authority: str, client_id: str | None) -> dict[str, Any]:
        """The claims to merge into the next token of (authority, client): every matching plan, in order."""
        merged: dict[str, Any] = {}
        with self._lock:
            for plan in list(self._plans):
                if plan.authority in (ANY, authority) and plan.client_id in (ANY, client_id):
                    merged.update(plan.claims)
                    plan.used += 1
                    if plan.times is not None and plan.used >= plan.times:
                        self._plans.remove(plan)
        return merged

    def pending(self) -> list[PlannedClaims]:
        with self._lock:
            return list(self._plans)

    def clear(self) -> None:
        """Forget everything planned; ids start again at 1 (reset gives each test the same numbering)."""
        with self._lock:
            self._ids = itertools.count(1)
            self._plans.clear()
