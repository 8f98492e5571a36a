"""A plan: things a test queued (faults, claims) that matching requests consume in the order they were planned.
One structure for both, so "planned", "consumed", "times" and "ids" mean the same everywhere."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from mockidp.store import Store

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
    Kept per engine; with a shared store (`store.shared`, several processes as one mockidp) kept in the store
    instead, kind `plan:<prefix>`, and each use is one atomic `store.consume`, so an item planned `times: 1` is
    used by exactly one process, whichever the request reached."""

    def __init__(self, id_prefix: str, *, every_time_allowed: bool = False, store: Store | None = None,
                 item_type: type[P] | None = None) -> None:
        self._prefix = id_prefix
        self._every_time_allowed = every_time_allowed
        self._lock = threading.Lock()
        self._items: list[P] = []
        self._ids = itertools.count(1)
        self._store = store if store is not None and getattr(store, "shared", False) and item_type is not None else None
        self._type = item_type
        self.kind = f"plan:{id_prefix}"

    def _stored(self) -> list[P]:
        assert self._store is not None and self._type is not None
        records = sorted(self._store.items(self.kind, 0).values(), key=lambda r: int(r.get("n", 0)))
        return [self._type(**{k: v for k, v in r.items() if k != "n"}) for r in records]

    def add(self, item: P) -> P:
        if item.times is None and not self._every_time_allowed:
            raise ValueError("times must be at least 1")
        if item.times is not None and item.times < 1:
            raise ValueError("times must be at least 1" + (", or null for every time" if self._every_time_allowed else ""))
        if self._store is not None:
            n = self._store.incr("plan", self._prefix)
            item.id = item.id or f"{self._prefix}-{n}"
            self._store.put(self.kind, item.id, {**item.as_dict(), "n": n})
            return item
        with self._lock:
            item.id = item.id or f"{self._prefix}-{next(self._ids)}"
            self._items.append(item)
        return item

    def take(self, matches: Callable[[P], bool], *, first_only: bool = True) -> list[P]:
        """Consume the matching items: the first one (`first_only`), or every one, in planned order."""
        taken: list[P] = []
        if self._store is not None:
            for item in self._stored():
                if matches(item):
                    used = self._store.consume(self.kind, item.id)
                    if used is None:
                        continue  # another process used it up first
                    item.used = int(used["used"])
                    taken.append(item)
                    if first_only:
                        break
            return taken
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
        if self._store is not None:
            return self._stored()
        with self._lock:
            return list(self._items)

    def remove(self, item_id: str) -> bool:
        if self._store is not None:
            return self._store.take(self.kind, item_id, 0) is not None
        with self._lock:
            before = len(self._items)
            self._items = [i for i in self._items if i.id != item_id]
            return len(self._items) != before

    def clear(self) -> None:
        """Forget everything planned; ids start again at 1 (reset gives each test the same numbering)."""
        if self._store is not None:
            self._store.clear(self.kind)  # the ids' counter goes with the store's own clear() in a reset
            return
        with self._lock:
            self._ids = itertools.count(1)
            self._items.clear()
