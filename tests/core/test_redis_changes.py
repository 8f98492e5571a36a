"""The control state's reuse over Redis (mockidp/redis_changes.py): a request in the steady state makes no round trip,
yet a change made through another process is seen by the very next request, because the writer waits until every
subscribed process has acknowledged it. Two RedisStore objects on one prefix stand for two processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

KINDS = ["control", "plan:fault"]


@pytest.fixture
def pair(redis_server: Any) -> Iterator[tuple[Any, Any, Any]]:
    import redis

    from mockidp.redis_store import RedisStore

    url = redis_server.url()
    a, b = RedisStore(url), RedisStore(url)
    for store in (a, b):
        store.watch(KINDS, ["journal"])
    deadline = time.monotonic() + 5
    while not (a.changes.listening and b.changes.listening):
        assert time.monotonic() < deadline, "the listeners did not subscribe"
        time.sleep(0.01)
    raw = redis.Redis(port=redis_server.port)
    yield a, b, raw
    a.clear()
    for store in (a, b):
        store.close()
    raw.close()


def commands(raw: Any) -> int:
    return int(raw.info("stats")["total_commands_processed"])


def listening(store: Any) -> None:
    """Wait until the store's listener has just looked at its subscription (a loaded machine may delay that thread;
    while it is quiet the store reads on every request, which is right, but would spoil a count of commands)."""
    deadline = time.monotonic() + 5
    while time.monotonic() - store.changes.heard > 0.05:
        assert time.monotonic() < deadline, "the listener stays quiet"
        time.sleep(0.005)


def view(store: Any) -> dict[str, dict[str, Any]]:
    try:
        return {kind: dict(items) for kind, items in store.begin(KINDS, 0).items()}
    finally:
        store.end()


def test_a_steady_request_asks_redis_nothing(pair: tuple[Any, Any, Any]) -> None:
    a, b, raw = pair
    b.put("control", "clock", {"offset": 5})
    assert view(a)["control"] == {"clock": {"offset": 5}}  # the first read after a change goes to Redis
    listening(a)
    before = commands(raw)
    for _ in range(100):
        assert view(a)["control"] == {"clock": {"offset": 5}}
    assert commands(raw) - before == 1  # the INFO that counted them: the 100 views were one read, reused


def test_a_change_through_another_process_is_in_the_very_next_view(pair: tuple[Any, Any, Any]) -> None:
    a, b, _ = pair
    view(a)
    for i in range(30):  # no sleep: the writer returned only once a had acknowledged
        b.put("control", "clock", {"offset": i})
        assert view(a)["control"]["clock"] == {"offset": i}
    b.put("plan:fault", "fault-1", {"times": 2, "n": 1})
    assert view(a)["plan:fault"]["fault-1"] == {"times": 2, "n": 1}
    assert b.consume("plan:fault", "fault-1") is not None
    assert view(a)["plan:fault"]["fault-1"]["used"] == 1  # a use counts as a change
    assert b.take("plan:fault", "fault-1", 0) is not None
    assert view(a)["plan:fault"] == {}
    b.clear()
    assert view(a)["control"] == {}


def test_a_write_of_another_kind_keeps_the_view(pair: tuple[Any, Any, Any]) -> None:
    a, b, raw = pair
    view(a)
    b.put("code", "c1", {"v": 1})  # request state, not control state: nobody is told
    listening(a)
    before = commands(raw)
    view(a)
    assert commands(raw) - before == 1


def test_the_journal_is_whole_when_read_and_a_clear_leaves_no_late_entry(pair: tuple[Any, Any, Any]) -> None:
    a, b, _ = pair
    for i in range(10):
        b.append_numbered("journal", {"i": i}, 100)
    assert [e["i"] for e in a.log("journal")] == list(range(10))  # b's queue was sent before a read
    for i in range(5):
        b.append_numbered("journal", {"i": i}, 100)
    a.clear()
    time.sleep(0.1)  # longer than b's sender lingers
    assert a.log("journal") == []


def test_a_process_that_never_acknowledges_holds_a_change_up_at_most_ack_wait(pair: tuple[Any, Any, Any], redis_server: Any) -> None:
    import redis

    from mockidp.redis_changes import ACK_WAIT

    a, b, _ = pair
    hung = redis.Redis(port=redis_server.port).pubsub()
    hung.subscribe(a.changes.channel)  # subscribed, and never answering: a paused process
    try:
        started = time.monotonic()
        b.put("control", "clock", {"offset": 1})
        assert ACK_WAIT <= time.monotonic() - started < ACK_WAIT + 1
        assert view(a)["control"]["clock"] == {"offset": 1}  # the processes that did answer have it
    finally:
        hung.close()
