"""One injectable clock per engine: issuance and every expiry read it, so tests can move time."""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock time shifted by an offset, or frozen at a fixed instant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen: float | None = None

    def now(self) -> float:
        frozen = self._frozen
        return frozen if frozen is not None else time.time() + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds
        return self.now()

    def set(self, instant: float, *, frozen: bool = False) -> float:
        with self._lock:
            if frozen:
                self._frozen = instant
            else:
                self._frozen = None
                self._offset = instant - time.time()
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._frozen = None

    def describe(self) -> dict[str, float | bool]:
        return {"now": self.now(), "offset": self._offset, "frozen": self._frozen is not None}
