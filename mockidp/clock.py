"""One injectable clock per engine: issuance and every expiry read it, so tests can move time."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mockidp.store import Store

CONTROL, CLOCK = "control", "clock"  # where a shared store keeps the offset and the frozen instant


class Clock:
    """Wall-clock time shifted by an offset, or frozen at a fixed instant.

    With a shared store (several processes as one mockidp) a change is written to the store, and every process
    reads it before its next request (`load`, from the engine's per-request sync): an offset is relative to the
    wall clock every process on the machine (or in the compose network) shares."""

    def __init__(self, store: Store | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen: float | None = None
        self._store = store if store is not None and getattr(store, "shared", False) else None

    def now(self) -> float:
        frozen = self._frozen
        return frozen if frozen is not None else time.time() + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            if self._store is not None:
                self._pull()
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds
            self._push()
        return self.now()

    def set(self, instant: float, *, frozen: bool = False) -> float:
        with self._lock:
            if frozen:
                self._frozen = instant
            else:
                self._frozen = None
                self._offset = instant - time.time()
            self._push()
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._frozen = None
            self._push()

    def describe(self) -> dict[str, float | bool]:
        return {"now": self.now(), "offset": self._offset, "frozen": self._frozen is not None}

    # --- a shared store --------------------------------------------------------------------------------
    def load(self, state: dict[str, float | None] | None) -> None:
        """Take the clock the store holds (None: the wall clock)."""
        state = state or {}
        offset, frozen = state.get("offset"), state.get("frozen")
        self._offset, self._frozen = float(offset or 0.0), (None if frozen is None else float(frozen))

    def _pull(self) -> None:
        assert self._store is not None
        self.load(self._store.get(CONTROL, CLOCK, 0))

    def _push(self) -> None:
        if self._store is not None:
            self._store.put(CONTROL, CLOCK, {"offset": self._offset, "frozen": self._frozen})
