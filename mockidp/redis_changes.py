"""Changes to the control state announced to every process on one Redis, and acknowledged by each.

Every request reads the control state (the clock, the world and key revisions, the fault and claims plans) before
it is handled. Reading it from Redis each time costs a round trip per request, during which a synchronous store holds
the event loop; instead each process keeps its last read and reuses it until a change is announced:

- a writer of a watched kind PUBLISHes on `{prefix}:changes` and waits until every subscribed process has
  acknowledged (PUBLISH says how many received it; each answers on `{prefix}:ack:{token}`, which the writer BLPOPs);
- each process's listener thread, on a message, moves `generation` (its reuse of the last read ends there), sends its
  queued journal entries when asked to (`flush`: the journal is whole when read), then acknowledges.

So when a control call through A returns, B's next request reads afresh: as consistent as a read per request, with no
round trip in the steady state. A process that is not subscribed (starting, or Redis away) is not `listening` and
reads on every request; a process that hangs is waited for at most ACK_WAIT, and when it resumes its listener has
been quiet for longer than QUIET, so it reads afresh until the listener has caught up.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import redis

log = logging.getLogger("mockidp")

ACK_WAIT = 1.0  # seconds a change waits for every process to acknowledge it
RETRY = 0.1  # seconds between attempts to subscribe again once Redis is back
POLL = 0.2  # the listener looks at its subscription at least this often, even when nothing is said
# A listener not heard from for this long (its process was paused, or starved) may have missed a change: reads go to
# Redis until it catches up. Below ACK_WAIT, so a change whose writer gave up waiting on us is never missed: when the
# writer returns, either we took the change, or our listener has not been heard from since before it was published.
QUIET = 0.5


class ChangeFeed:
    def __init__(self, client: redis.Redis, prefix: str, flush: Callable[[], None],
                 errors: Callable[[], AbstractContextManager[None]]) -> None:
        self.redis, self.prefix, self._flush, self._errors = client, prefix, flush, errors
        self.channel = f"{prefix}:changes"
        self.generation = 0  # moves with every change announced (and on every (re)subscription)
        self.listening = False  # subscribed: only then may a process reuse its last read
        self.heard = 0.0  # time.monotonic() when the listener last finished looking at its subscription
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def _moved(self) -> None:
        with self._lock:
            self.generation += 1

    def current(self, generation: int) -> bool:
        """A read taken at `generation` still holds: subscribed, nothing announced since, the listener awake."""
        return self.listening and generation == self.generation and time.monotonic() - self.heard < QUIET

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._listen, name="mockidp-changes", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(2)

    def announce(self, what: bytes) -> None:
        """Publish `what` (`change` or `flush`) and wait for every subscriber's acknowledgement, ours included."""
        self._moved()  # this process's own reuse ends at once, whether or not it is subscribed
        token = uuid.uuid4().hex
        acks = f"{self.prefix}:ack:{token}"
        with self._errors():
            expected = int(self.redis.publish(self.channel, token.encode() + b" " + what))
            deadline, got = time.monotonic() + ACK_WAIT, 0
            while got < expected:
                left = deadline - time.monotonic()
                if left <= 0 or self.redis.blpop([acks], timeout=left) is None:
                    log.warning("%d of %d mockidp processes acknowledged a change within %s s", got, expected, ACK_WAIT)
                    break
                got += 1
            if got:
                self.redis.delete(acks)

    def _listen(self) -> None:
        while not self._closed.is_set():
            pubsub = self.redis.pubsub()  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel)
                while not self._closed.is_set():
                    message = pubsub.get_message(timeout=POLL)
                    if message is not None and message["type"] == "subscribe":  # (again, after a reconnect)
                        self._moved()  # what changed meanwhile is read afresh
                        self.listening = True
                    elif message is not None and message["type"] == "message":
                        self._moved()
                        token, _, what = bytes(message["data"]).partition(b" ")
                        if what == b"flush":
                            self._flush()
                        self._acknowledge(token.decode())
                    self.heard = time.monotonic()
            except (redis.RedisError, OSError, ValueError):
                pass  # Redis away: every request reads (and gets its 503) until we are subscribed again
            finally:
                self.listening = False
                self._moved()
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()
            self._closed.wait(RETRY)

    def _acknowledge(self, token: str) -> None:
        acks = f"{self.prefix}:ack:{token}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(acks, 1)
        pipe.expire(acks, 10)
        pipe.execute()
