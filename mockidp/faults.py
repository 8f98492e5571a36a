"""The fault plan: queued outcomes per authority and endpoint, consulted before normal handling."""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

ANY = "*"


@dataclass
class Fault:
    """What the next matching request(s) get instead of (or before) the normal answer.

    - `status` with `body` (dict → JSON, str → text) or `error` (an error name the authority renders in its own shape);
    - `delay` seconds before answering (alone, the request then proceeds normally);
    - `drop`: the connection is cut without a complete response;
    - `malformed`: a 200 whose body is not valid JSON;
    - `retry_after` adds a Retry-After header (for 429/503).
    `match` restricts the fault to requests whose parameters (form, query or client_id) have those values.
    """

    authority: str = ANY
    endpoint: str = ANY
    times: int = 1
    match: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    body: Any = None
    error: str | None = None
    error_description: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    malformed: bool = False
    retry_after: int | None = None
    id: str = ""
    used: int = 0

    def matches(self, authority: str, endpoint: str, params: dict[str, str]) -> bool:
        return (
            self.authority in (ANY, authority)
            and self.endpoint in (ANY, endpoint)
            and all(params.get(k) == v for k, v in self.match.items())
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultPlan:
    """Faults are consumed in the order they were planned. Control state: kept per engine, not in the store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, fault: Fault) -> Fault:
        if fault.times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            fault.id = fault.id or f"fault-{next(self._ids)}"
            self._faults.append(fault)
        return fault

    def take(self, authority: str, endpoint: str, params: dict[str, str]) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(authority, endpoint, params):
                    fault.used += 1
                    if fault.used >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        """Forget everything planned; ids start again at 1 (reset gives each test the same numbering)."""
        with self._lock:
            self._ids = itertools.count(1)
            self._faults.clear()
