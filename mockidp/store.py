"""The one place where state that a request leaves behind lives: codes, refresh tokens, CIBA requests,
used assertion `jti`s, the journal. In memory by default; a Redis-backed store implements the same protocol.

Expiry is judged against the engine clock (passed in as `now`), not wall time, so tests can move time.
Values are plain JSON-able dicts so another backend can serialise them. `redis_store.RedisStore` is the shared
backend (several workers or replicas acting as one mockidp, docs/scaling.md); `shared` tells them apart.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

Record = dict[str, Any]
DURABLE = "durable:"  # kinds named so survive clear(): key material every process must agree on for its lifetime


class StoreUnavailable(Exception):
    """A shared store that cannot be reached (Redis down, a timeout): the request gets a 503, never a 500."""


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

    # --- added for several processes over one store (docs/scaling.md); MemoryStore keeps them trivial ---------
    shared: bool  # True when other processes see this store's state (then the engine syncs control state from it)

    def setdefault(self, kind: str, key: str, value: Record) -> Record:
        """Put value unless the key holds one already; the value that is kept (first writer wins)."""

    def consume(self, kind: str, key: str) -> Record | None:
        """One use of a planned item (a record with `times`, None for every time, and `used`): `used` grows by one
        atomically and the item goes once used `times` times. The item as used, or None when it was gone."""

    def incr(self, kind: str, key: str) -> int:
        """A counter that clear() resets: 1, 2, 3..."""

    def append_numbered(self, kind: str, value: Record, maxlen: int) -> None:
        """append(), with value["seq"] set to the log's next number, one sequence for every process on the store."""

    def begin(self, kinds: list[str], now: float) -> dict[str, dict[str, Record]]:
        """Read several kinds at once (one round trip) and let items() answer them from that read until end().
        The read is the caller's to read, not to change: a shared store may answer the same object again while
        nothing changed (the caller may then skip what it did with it last time)."""

    def end(self) -> None: ...

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers (the health check)."""

    def watch(self, kinds: list[str], numbered: list[str]) -> None:
        """The kinds every request reads through begin() (a shared store may reuse one read of them until another
        process changes them), and the logs written with append_numbered (whole when read, whichever process wrote)."""


class MemoryStore:
    shared = False
    SWEEP_EVERY = 4096  # lookups between two sweeps of expired items

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._kv: dict[str, dict[str, tuple[Record, float | None]]] = {}
        self._logs: dict[str, deque[Record]] = {}
        self._counters: dict[tuple[str, str], int] = {}
        self._seq: dict[str, int] = {}
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
                durable = {k: v for k, v in self._kv.items() if k.startswith(DURABLE)}
                self._kv.clear()
                self._kv.update(durable)
                self._logs.clear()
                self._counters.clear()
            else:
                self._kv.pop(kind, None)
                self._logs.pop(kind, None)

    def setdefault(self, kind: str, key: str, value: Record) -> Record:
        with self._lock:
            items = self._kv.setdefault(kind, {})
            if key not in items:
                items[key] = (value, None)
            return items[key][0]

    def consume(self, kind: str, key: str) -> Record | None:
        with self._lock:
            entry = self._kv.get(kind, {}).get(key)
            if entry is None:
                return None
            item = {**entry[0], "used": int(entry[0].get("used", 0)) + 1}
            if item.get("times") is not None and item["used"] >= item["times"]:
                del self._kv[kind][key]
            else:
                self._kv[kind][key] = (item, entry[1])
            return item

    def incr(self, kind: str, key: str) -> int:
        with self._lock:
            n = self._counters[(kind, key)] = self._counters.get((kind, key), 0) + 1
            return n

    def append_numbered(self, kind: str, value: Record, maxlen: int) -> None:
        with self._lock:
            self._seq[kind] = self._seq.get(kind, 0) + 1  # not reset by clear(): one sequence for the store's life
            self.append(kind, {**value, "seq": self._seq[kind]}, maxlen)

    def begin(self, kinds: list[str], now: float) -> dict[str, dict[str, Record]]:
        return {kind: self.items(kind, now) for kind in kinds}

    def end(self) -> None:
        return None

    def ping(self) -> None:
        return None

    def watch(self, kinds: list[str], numbered: list[str]) -> None:
        return None


class SharedLog:
    """The engine's server errors (tracebacks) kept in a shared store, so any process's control API and the pytest
    plugin see every process's: reads like the list it replaces (iterate, index, compare, clear)."""

    def __init__(self, store: Store, kind: str = "server-errors", maxlen: int = 100) -> None:
        self.store, self.kind, self.maxlen = store, kind, maxlen

    def _texts(self) -> list[str]:
        return [str(e.get("text", "")) for e in self.store.log(self.kind)]

    def append(self, text: str) -> None:
        # The store is away: the error was logged, and the request got a 503 or a 500 already.
        with contextlib.suppress(StoreUnavailable):
            self.store.append(self.kind, {"text": text}, self.maxlen)

    def clear(self) -> None:
        self.store.clear(self.kind)

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts())

    def __len__(self) -> int:
        return len(self._texts())

    def __getitem__(self, index: int) -> str:
        return self._texts()[index]

    def __eq__(self, other: object) -> bool:
        return self._texts() == (list(other) if isinstance(other, (list, tuple, SharedLog)) else other)

    def __bool__(self) -> bool:
        return bool(self._texts())

    def __repr__(self) -> str:
        return repr(self._texts())

    __hash__ = None  # type: ignore[assignment]
