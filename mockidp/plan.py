"""A plan: things a test queued (faults, claims) that matching requests consume in the order they were planned.
One structure for both, so "planned", "consumed", "times" and "ids" mean the same everywhere."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

ANY = "*"


@dataclass
class Planned:
    """What every planned item has: how often it applies (`None`: every time), an id, and how often it was used."""

    times: int | None = 1
    id: str = ""
    used: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


P = TypeVar("P", bound=Planned)


class Plan(Generic[P]):
    """Items consumed in the order they were planned; an item is dropped once used `times` times.
    Control state: kept per engine, not in the store."""

    def __init__(self, id_prefix: str, *, every_time_allowed: bool = False) -> None:
        self._prefix = id_prefix
        self._every_time_allowed = every_time_allowed
        self._lock = threading.Lock()
        self._items: list[P] = []
        self._ids = itertools.count(1)

    def add(self, item: P) -> P:
        if item.times is None and not self._every_time_allowed:
            raise ValueError("times must be at least 1")
        if item.times is not None and item.times < 1:
            raise ValueError("times must be at least 1" + (", or null for every time" if self._every_time_allowed else ""))
        with self._lock:
            item.id = item.id or f"{self._prefix}-{next(self._ids)}"
            self._items.append(item)
        return item

    def take(self, matches: Callable[[P], bool], *, first_only: bool = True) -> list[P]:
        """Consume the matching items: the first one (`first_only`), or every one, in planned order."""
        taken: list[P] = []
        with self._lock:
            for item in list(self._items):
                if matches(item):
                    item.used += 1
                    if item.times is not None and item.used >= item.times:
                        self._items.remove(item)
                    taken.append(item)
                    if first_only:
                        break
        return taken

    def pending(self) -> list[P]:
        with self._lock:
            return list(self._items)

    def remove(self, item_id: str) -> bool:
        with self._lock:
            before = len(self._items)
            self._items = [i for i in self._items if i.id != item_id]
            return len(self._items) != before

    def clear(self) -> None:
        """Forget everything planned; ids start again at 1 (reset gives each test the same numbering)."""
        with self._lock:
            self._ids = itertools.count(1)
            self._items.clear()
