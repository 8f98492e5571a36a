"""The one place where state that a request leaves behind lives: codes, refresh tokens, CIBA requests,
used assertion `jti`s, the journal. In memory by default; a Redis-backed store implements the same protocol.

Expiry is judged against the engine clock (passed in as `now`), not wall time, so tests can move time.
Values are plain JSON-able dicts so another backend can serialise them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

Record = dict[str, Any]


class Store(Protocol):
    def put(self, kind: str, key: str, value: Record, expires_at: float | None = None) -> None: ...

    def get(self, kind: str, key: str, now: float) -> Record | None: ...

    def take(self, kind: str, key: str, now: float) -> Record | None:
        """Get and delete atomically: exactly one caller wins a single-use item."""

    def add_once(self, kind: str, key: str, expires_at: float | None, now: float) -> bool:
        """Remember key; False if it was already remembered and unexpired (replay)."""

    def update(self, kind: str, key: str, now: float, change: Callable[[Record], Record | None]) -> Record | None:
        """Atomically replace a live item by change(item); change returning None deletes it. Returns the new item."""

    def items(self, kind: str, now: float) -> dict[str, Record]: ...

    def append(self, kind: str, value: Record, maxlen: int) -> None:
        """Append to a bounded log (oldest dropped)."""

    def log(self, kind: str) -> list[Record]: ...

    def clear(self, kind: str | None = None) -> None: ...


class MemoryStore:
    SWEEP_EVERY = 4096  # lookups between two sweeps of expired items

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._kv: dict[str, dict[str, tuple[Record, float | None]]] = {}
        self._logs: dict[str, deque[Record]] = {}
        self._lookups = 0

    def _sweep(self, now: float) -> None:
        """Expired items nobody asks for again (codes never redeemed, used jtis) would stay forever: now and then
        drop every item expired at `now`, the same judgement `_live` makes item by item."""
        self._lookups += 1
        if self._lookups % self.SWEEP_EVERY:
            return
        for items in self._kv.values():
            for key in [k for k, (_, expires_at) in items.items() if expires_at is not None and now >= expires_at]:
                del items[key]

    def _live(self, kind: str, key: str, now: float) -> Record | None:
        self._sweep(now)
        entry = self._kv.get(kind, {}).get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and now >= expires_at:
            del self._kv[kind][key]
            return None
        return value

    def put(self, kind: str, key: str, value: Record, expires_at: float | None = None) -> None:
        with self._lock:
            self._kv.setdefault(kind, {})[key] = (value, expires_at)

    def get(self, kind: str, key: str, now: float) -> Record | None:
        with self._lock:
            return self._live(kind, key, now)

    def take(self, kind: str, key: str, now: float) -> Record | None:
        with self._lock:
            value = self._live(kind, key, now)
            if value is not None:
                del self._kv[kind][key]
            return value

    def add_once(self, kind: str, key: str, expires_at: float | None, now: float) -> bool:
        with self._lock:
            if self._live(kind, key, now) is not None:
                return False
            self._kv.setdefault(kind, {})[key] = ({}, expires_at)
            return True

    def update(self, kind: str, key: str, now: float, change: Callable[[Record], Record | None]) -> Record | None:
        with self._lock:
            value = self._live(kind, key, now)
            if value is None:
                return None
            new = change(dict(value))
            if new is None:
                del self._kv[kind][key]
            else:
                self._kv[kind][key] = (new, self._kv[kind][key][1])
            return new

    def items(self, kind: str, now: float) -> dict[str, Record]:
        with self._lock:
            keys = list(self._kv.get(kind, {}))
            return {k: v for k in keys if (v := self._live(kind, k, now)) is not None}

    def append(self, kind: str, value: Record, maxlen: int) -> None:
        with self._lock:
            log = self._logs.get(kind)
            if log is None or log.maxlen != maxlen:
                log = self._logs[kind] = deque(log or (), maxlen=maxlen)
            log.append(value)

    def log(self, kind: str) -> list[Record]:
        with self._lock:
            return list(self._logs.get(kind, ()))

    def clear(self, kind: str | None = None) -> None:
        with self._lock:
            if kind is None:
                self._kv.clear()
                self._logs.clear()
            else:
                self._kv.pop(kind, None)
                self._logs.pop(kind, None)
