"""The Store protocol on Redis, so several workers and replicas act as one mockidp (docs/scaling.md).

redis-py's synchronous client over a connection pool (hiredis parses replies when installed): the Store protocol
stays synchronous so spec logic stays free of async glue, and a loopback round trip is tens of microseconds
(benchmarks/RESULTS.md measures what it costs a token). Layout, every key under the URL's `prefix` (default
`mockidp`), so parallel CI jobs can share one Redis:

- `{p}:kv:{kind}`: one hash per kind, field = key, value = `<expires_at>|<json>` (never KEYS: `{p}:kinds` lists
  the kinds in use, for clear());
- `{p}:log:{kind}`: a bounded list (RPUSH + LTRIM); `{p}:seq:{kind}` its sequence, which clear() keeps;
- `{p}:used:{kind}`: the use counts of planned items (`consume`), `{p}:ctr`: counters that clear() resets;
- `{p}:lock:{kind}:{key}`: held by one `update` at a time (SET NX PX: a holder that dies frees it in LOCK_MS);
- `{p}:changes`: the channel on which writes of the watched kinds are announced, `{p}:ack:{token}` the answers
  (redis_changes.py): begin() reuses its last read of the control state until a change is announced.

Expiry is judged against the engine clock, `now` passed in, never Redis `TIME` (a test's frozen or rewound clock
decides what is live). Redis TTLs are only garbage collection: each kind's hash lives GC_SECONDS after its last
write, and a sweep now and then drops items expired by engine time. An item's lookup is one atomic Lua script
(single use: HGET+HDEL; replay memory: check and set), the equivalent for a hash field of GETDEL and SET NX, which
would judge expiry by Redis's own clock. Journal entries leave through a background thread in batches, so the token
path pays no round trip for them; a reader of the log first asks every process to send its queue. Any Redis failure raises StoreUnavailable: the
request gets a 503 in its authority's shape, and the pool reconnects once Redis is back.
"""

from __future__ import annotations

import contextvars
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mockidp.redis_changes import ChangeFeed
from mockidp.redis_scripts import APPEND, APPEND_NUMBERED, CLEAR, CONSUME, LOCK_READ, PUT, READ_MANY, SETDEFAULT, SWEEP, TAKE, WRITE_UNLOCK
from mockidp.store import DURABLE, Record, StoreUnavailable

GC_SECONDS = 7 * 86400  # a kind's hash outlives its last write by this: GC only, never what decides expiry
LOCK_MS = 5000  # an update's lock frees itself if its holder dies
LOCK_WAIT = 2.0  # seconds an update waits for another's lock before the request gets a 503
SWEEP_EVERY = 4096  # writes between two sweeps of one kind
LINGER = 0.1  # seconds the journal's sender waits for more entries before one round trip sends them all
TIMEOUT = 2.0  # socket timeouts: a Redis that hangs costs a request this much, then a 503


def parse_url(url: str) -> tuple[str, str]:
    """(redis URL without our parameter, prefix): `redis://host:6379/0?prefix=ci-job-7`."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"a store URL is redis://host:port/db[?prefix=NAME], got {url!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), "") or "mockidp"
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


def _encode(value: Record, expires_at: float | None) -> bytes:
    return (repr(float(expires_at)).encode() if expires_at is not None else b"") + b"|" + orjson.dumps(value)


def _decode(raw: bytes, now: float | None) -> Record | None:
    head, _, body = raw.partition(b"|")
    if now is not None and head and now >= float(head):
        return None
    value: Record = orjson.loads(body)
    return value


class RedisStore:
    shared = True

    def __init__(self, url: str) -> None:
        self.url, self.prefix = parse_url(url)
        # One immediate retry on a broken connection (a pooled one that Redis closed when it restarted: the retry
        # connects afresh), none on a timeout: a Redis that is away or hangs answers this request with a 503 within
        # TIMEOUT, and the pool reconnects on a later request once Redis is back.
        self.redis = redis.Redis.from_url(self.url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, health_check_interval=0,
                                          retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)), retry_on_timeout=False)
        self._scripts = {name: self.redis.register_script(src) for name, src in
                         {"put": PUT, "take": TAKE, "setdefault": SETDEFAULT, "consume": CONSUME, "lock": LOCK_READ,
                          "write": WRITE_UNLOCK, "append": APPEND, "numbered": APPEND_NUMBERED, "clear": CLEAR,
                          "sweep": SWEEP, "read": READ_MANY}.items()}
        self._writes = 0
        self._cursors: dict[str, int] = {}
        self._pending: list[tuple[str, Record, int]] = []  # journal entries not yet sent
        self._cond = threading.Condition()
        self._flusher: threading.Thread | None = None
        self._lost = 0  # log entries dropped while Redis was away
        self._urgent = 0  # readers waiting for the queue: no lingering then
        # A request's view of the kinds begin() read: per store and per context (each request is its own task).
        self._scope: contextvars.ContextVar[dict[str, dict[str, Record]] | None] = contextvars.ContextVar(f"mockidp-store-{id(self)}", default=None)
        # The watched kinds' last read, reused by begin() until a change is announced (`_generation` moves): see watch().
        self._watched: set[str] = set()
        self._numbered: set[str] = set()
        self._view: tuple[int, tuple[str, ...], list[Any], dict[str, dict[str, Record]] | None] | None = None
        self.changes = ChangeFeed(self.redis, self.prefix, self.flush, self._errors)

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r})"

    def _forget(self, kind: str | None) -> None:
        """A write to a kind ends the request's view of it: what this request reads next comes from Redis."""
        scoped = self._scope.get()
        if scoped is not None:
            if kind is None:
                scoped.clear()
            else:
                scoped.pop(kind, None)

    # --- names ---------------------------------------------------------------------------------------
    def _kv(self, kind: str) -> str:
        return f"{self.prefix}:kv:{kind}"

    def _logkey(self, kind: str) -> str:
        return f"{self.prefix}:log:{kind}"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            raise StoreUnavailable(f"the state store at {self.url} is unavailable ({type(exc).__name__}: {exc})") from exc

    def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        with self._errors():
            return self._scripts[name](keys=keys, args=args)

    def _wrote(self, kind: str, now: float) -> None:
        """Now and then (every SWEEP_EVERY single-use lookups) sweep a slice of this kind's expired items: codes
        never redeemed and used jtis would otherwise stay until their hash's GC_SECONDS (MemoryStore's sweep)."""
        self._forget(kind)
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            self._cursors[kind] = int(self._run("sweep", [self._kv(kind)], [self._cursors.get(kind, 0), repr(now)]))

    # --- the Store protocol ---------------------------------------------------------------------------
    def put(self, kind: str, key: str, value: Record, expires_at: float | None = None) -> None:
        self._run("put", [self._kv(kind), f"{self.prefix}:kinds"], [key, _encode(value, expires_at), GC_SECONDS, kind])
        self._forget(kind)
        self._changed(kind)

    def get(self, kind: str, key: str, now: float) -> Record | None:
        with self._errors():
            raw = cast("bytes | None", self.redis.hget(self._kv(kind), key))
        return None if raw is None else _decode(raw, now)

    def take(self, kind: str, key: str, now: float) -> Record | None:
        raw = self._run("take", [self._kv(kind)], [key])
        self._wrote(kind, now)
        if raw is not None:
            self._changed(kind)
        return None if raw is None else _decode(raw, now)

    def add_once(self, kind: str, key: str, expires_at: float | None, now: float) -> bool:
        won = bool(self._run("setdefault", [self._kv(kind), f"{self.prefix}:kinds"],
                             [key, _encode({}, expires_at), GC_SECONDS, kind, repr(now), 1]))
        self._wrote(kind, now)
        if won:
            self._changed(kind)
        return won

    def update(self, kind: str, key: str, now: float, change: Callable[[Record], Record | None]) -> Record | None:
        """Under a lock, so `change` runs exactly once (callers' changes may note what they saw): read and lock in
        one script, change here, then write and unlock in another; a lock held by another waits up to LOCK_WAIT."""
        lock, token, deadline = f"{self.prefix}:lock:{kind}:{key}", uuid.uuid4().hex, time.monotonic() + LOCK_WAIT
        while True:
            got = self._run("lock", [self._kv(kind), lock], [key, token, LOCK_MS])
            if got != 0:
                break
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"{kind} {key} stayed locked by another process for {LOCK_WAIT} s")
            time.sleep(0.001)
        try:
            value = None if got == -1 else _decode(got, now)
            if value is None:
                return None
            new = change(dict(value))
            head = bytes(got).partition(b"|")[0]
            raw = b"" if new is None else head + b"|" + orjson.dumps(new)
        except BaseException:
            self._run("write", [self._kv(kind), lock], [key, token, "keep", b""])
            raise
        self._run("write", [self._kv(kind), lock], [key, token, "del" if new is None else "set", raw])
        self._forget(kind)
        self._changed(kind)
        return new

    def items(self, kind: str, now: float) -> dict[str, Record]:
        scoped = self._scope.get()
        if scoped is not None and kind in scoped:
            return dict(scoped[kind])
        with self._errors():
            pipe = self.redis.pipeline(transaction=False)
            pipe.hgetall(self._kv(kind))
            pipe.hgetall(f"{self.prefix}:used:{kind}")
            raw, used = pipe.execute()
        return self._items(raw, used, now)

    @staticmethod
    def _items(raw: dict[bytes, bytes], used: dict[bytes, bytes], now: float) -> dict[str, Record]:
        out: dict[str, Record] = {}
        for k, v in raw.items():
            value = _decode(v, now)
            if value is not None:
                if k in used:
                    value["used"] = int(used[k])
                out[k.decode()] = value
        return out

    def begin(self, kinds: list[str], now: float) -> dict[str, dict[str, Record]]:
        """One read of several kinds; items() answers them from it until end() (a request's view of the control
        state: fault and claims plans; consuming one is still atomic in Redis). Watched kinds are read again only
        after a change was announced: a request in the steady state makes no round trip at all."""
        generation, listening, view, key = self.changes.generation, self.changes.listening, self._view, tuple(kinds)
        if view is not None and view[1] == key and self.changes.current(view[0]):
            replies, decoded = view[2], view[3]
        else:
            if not listening:
                self.changes.start()
            keys = [k for kind in kinds for k in (self._kv(kind), f"{self.prefix}:used:{kind}")]
            flat = self._run("read", keys, [])
            replies = [dict(zip(r[::2], r[1::2], strict=True)) for r in flat]
            # Items without an expiry (the usual control state) read the same at any `now`: decoded once.
            timeless = all(v.startswith(b"|") for reply in replies[::2] for v in reply.values())
            decoded = {kind: self._items(replies[2 * i], replies[2 * i + 1], now) for i, kind in enumerate(kinds)} if timeless else None
            if listening and self._watched.issuperset(kinds):
                self._view = (generation, key, replies, decoded)  # stale as soon as the feed's generation moves on
        # The same read while nothing changed (the caller may skip what it did with it last time): read, never change it.
        read = decoded if decoded is not None else {kind: self._items(replies[2 * i], replies[2 * i + 1], now) for i, kind in enumerate(kinds)}
        self._scope.set(dict(read))
        return read

    def end(self) -> None:
        scoped = self._scope.get()
        if scoped is not None:
            scoped.clear()  # in place: a task the request started (a CIBA watcher) shares this dict and reads afresh
        self._scope.set(None)

    def append(self, kind: str, value: Record, maxlen: int) -> None:
        self._run("append", [self._logkey(kind), f"{self.prefix}:kinds"], [orjson.dumps(value), maxlen, kind])

    def log(self, kind: str) -> list[Record]:
        if kind in self._numbered:
            self._announce_flush()  # every process sends its queued entries first: the log is whole when read
        else:
            self.flush()
        with self._errors():
            return [orjson.loads(v) for v in self.redis.lrange(self._logkey(kind), 0, -1)]

    def clear(self, kind: str | None = None) -> None:
        if kind is None or kind in self._numbered:
            self._announce_flush()  # no process's queued entry may land in the log after it was cleared
        else:
            self.flush()
        self._forget(kind)
        if kind is None:
            self._run("clear", [f"{self.prefix}:kinds"], [self.prefix, DURABLE])
        else:
            with self._errors():
                self.redis.delete(self._kv(kind), self._logkey(kind), f"{self.prefix}:used:{kind}")
        self._changed(kind)

    def setdefault(self, kind: str, key: str, value: Record) -> Record:
        raw = self._run("setdefault", [self._kv(kind), f"{self.prefix}:kinds"], [key, _encode(value, None), GC_SECONDS, kind, "", 0])
        self._changed(kind)
        kept = _decode(raw, None)
        assert kept is not None
        return kept

    def consume(self, kind: str, key: str) -> Record | None:
        got = self._run("consume", [self._kv(kind), f"{self.prefix}:used:{kind}"], [key])
        self._forget(kind)
        self._changed(kind)
        if got is None:
            return None
        item = _decode(got[0], None)
        assert item is not None
        item["used"] = int(got[1])
        return item

    def incr(self, kind: str, key: str) -> int:
        with self._errors():
            return int(self.redis.hincrby(f"{self.prefix}:ctr", f"{kind}:{key}", 1))

    # --- the watched kinds: one read, reused until another process announces a change ----------------------
    def watch(self, kinds: list[str], numbered: list[str]) -> None:
        """`kinds` (the control state every request reads: the clock and revisions, the plans) are read by begin()
        once and reused until a change is announced; `numbered` logs (the journal) are whole when read.

        Every write to a watched kind is announced on the prefix's channel (PUBLISH), and the writer waits until
        every subscribed process has acknowledged it (each one's listener thread marks its view stale, sends its
        queued journal entries, then answers): when a control call through A returns, B's next request reads afresh.
        A process that is not subscribed (starting, or Redis away) reads on every request, as before; one that
        hangs is waited for at most redis_changes.ACK_WAIT."""
        self._watched.update(kinds)
        self._numbered.update(numbered)
        self.changes.start()

    def _changed(self, kind: str | None) -> None:
        if kind is None or kind in self._watched:
            self.changes.announce(b"change")

    def _announce_flush(self) -> None:
        self.changes.announce(b"flush")
        self.flush()  # ours, should our listener not be subscribed yet

    # --- the journal's batched writes --------------------------------------------------------------------
    def append_numbered(self, kind: str, value: Record, maxlen: int) -> None:
        """Queued: a background thread sends the queue in one script call, which numbers the entries from the
        log's sequence. The token path pays no round trip; `log()` and `clear()` send what is queued first."""
        entry = dict(value)
        entry.pop("seq", None)
        with self._cond:  # encoded by the sender: a batch's short-lived buffers cost less than one kept per entry
            self._pending.append((kind, entry, maxlen))
            if len(self._pending) > 10 * max(maxlen, 1):  # Redis away for long: keep the newest, as the log would
                self._lost += len(self._pending) - 10 * maxlen
                del self._pending[: len(self._pending) - 10 * maxlen]
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_loop, name="mockidp-journal", daemon=True)
                self._flusher.start()
            elif len(self._pending) == 1:
                self._cond.notify_all()  # the sender waits for a first entry; later ones join its lingering batch

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                # Under load, gather what the next moment brings (one round trip for many entries), unless a
                # reader waits for the queue (flush() notifies).
                self._cond.wait_for(lambda: self._urgent > 0, LINGER)
                batch = list(self._pending)
            try:
                self._send(batch)
            except StoreUnavailable:
                time.sleep(0.2)  # Redis away: the entries wait for it (bounded above)
                continue
            with self._cond:
                del self._pending[: len(batch)]
                self._cond.notify_all()

    def _send(self, batch: list[tuple[str, Record, int]]) -> None:
        by_kind: dict[tuple[str, int], tuple[bytearray, list[int]]] = {}
        for kind, entry, maxlen in batch:
            # One argument for all, the entries joined by newlines (orjson escapes control characters, so no entry
            # holds one); each encoding is freed at once, so its memory serves the next.
            joined, count = by_kind.setdefault((kind, maxlen), (bytearray(), [0]))
            joined += orjson.dumps(entry)
            joined += b"\n"
            count[0] += 1
        for (kind, maxlen), (joined, count) in by_kind.items():  # one EVALSHA per kind (the journal: one in all)
            self._run("numbered", [self._logkey(kind), f"{self.prefix}:seq:{kind}", f"{self.prefix}:kinds"],
                      [maxlen, kind, count[0], bytes(joined)])

    def flush(self, timeout: float = TIMEOUT) -> None:
        """Wait until this process's queued log entries are in Redis (or the timeout passes: Redis is away)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._urgent += 1
            self._cond.notify_all()
            try:
                while self._pending and self._flusher is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._cond.wait(left)
            finally:
                self._urgent -= 1

    def ping(self) -> None:
        with self._errors():
            self.redis.ping()

    def close(self) -> None:
        self.flush()
        self.changes.close()
        self.redis.close()


