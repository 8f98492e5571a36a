"""The Store contract, run against both backends: MemoryStore and RedisStore on a real redis-server. Two RedisStore
objects on one prefix stand for two processes (each has its own connection pool and journal queue)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mockidp.store import MemoryStore, Store, StoreUnavailable


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    """A factory of store handles on one state: the same MemoryStore, or RedisStores on one fresh prefix."""
    if request.param == "memory":
        memory = MemoryStore()
        yield lambda: memory
        return
    from mockidp.redis_store import RedisStore

    url = request.getfixturevalue("redis_server").url()
    made: list[RedisStore] = []

    def make() -> Store:
        made.append(RedisStore(url))
        return made[-1]

    yield make
    made[0].clear()
    for store in made:
        store.close()


@pytest.fixture
def store(backend: Callable[[], Store]) -> Store:
    return backend()


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    barrier, out = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        barrier.wait()
        out[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_take_is_single_use_across_handles(backend: Callable[[], Store]) -> None:
    a, b = backend(), backend()
    a.put("code", "c1", {"v": 1, "nested": {"list": [], "empty": {}}})
    won = [r for r in race(20, lambda i: (a if i % 2 else b).take("code", "c1", now=0)) if r is not None]
    assert won == [{"v": 1, "nested": {"list": [], "empty": {}}}]


def test_expiry_is_judged_by_the_now_given(store: Store) -> None:
    store.put("k", "a", {"x": 1}, expires_at=100)
    assert store.get("k", "a", now=99) == {"x": 1}
    assert store.get("k", "a", now=100) is None
    assert store.items("k", now=100) == {}
    assert store.take("k", "a", now=150) is None  # expired: nobody wins it


def test_add_once_remembers_until_expiry(backend: Callable[[], Store]) -> None:
    a, b = backend(), backend()
    assert a.add_once("jti", "j1", expires_at=50, now=0)
    assert not b.add_once("jti", "j1", expires_at=50, now=10)
    assert b.add_once("jti", "j1", expires_at=90, now=60)
    assert sum(race(20, lambda i: (a if i % 2 else b).add_once("jti", "j2", 50, 0))) == 1


def test_update_runs_each_change_exactly_once_under_contention(backend: Callable[[], Store]) -> None:
    a, b = backend(), backend()
    a.put("ciba", "r", {"polls": 0, "seen": []}, expires_at=10)
    calls: list[int] = []

    def once(rec: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)  # a change that notes what it saw must be called once per update, never retried
        return {**rec, "polls": rec["polls"] + 1}

    def bump(i: int) -> None:
        for _ in range(5):
            (a if i % 2 else b).update("ciba", "r", 0, once)

    race(10, bump)
    assert a.get("ciba", "r", 0) == {"polls": 50, "seen": []} and len(calls) == 50
    assert a.get("ciba", "r", 11) is None  # the expiry stayed the one it was put with
    assert b.update("ciba", "r", 0, lambda rec: None) is None and a.get("ciba", "r", 0) is None
    assert a.update("ciba", "missing", 0, lambda rec: pytest.fail("no change for a missing item")) is None


def test_an_update_that_raises_changes_nothing_and_frees_the_item(store: Store) -> None:
    store.put("ciba", "r", {"n": 1})

    def boom(rec: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("no")

    with pytest.raises(ValueError):
        store.update("ciba", "r", 0, boom)
    assert store.update("ciba", "r", 0, lambda rec: {"n": 2}) == {"n": 2}


def test_bounded_log(store: Store) -> None:
    for i in range(10):
        store.append("journal", {"i": i}, maxlen=3)
    assert [e["i"] for e in store.log("journal")] == [7, 8, 9]


def test_numbered_log_is_one_sequence_for_every_handle(backend: Callable[[], Store]) -> None:
    a, b = backend(), backend()
    for i in range(6):
        (a if i % 2 else b).append_numbered("journal", {"i": i, "seq": 0, "issued": []}, maxlen=4)
    b.log("journal")  # each handle sends its own queue before it reads
    entries = a.log("journal")
    assert len(entries) == 4 and [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert len({e["seq"] for e in entries}) == 4 and all(e["issued"] == [] for e in entries)
    a.clear()
    a.append_numbered("journal", {"i": 99}, maxlen=4)
    assert [e["seq"] for e in a.log("journal")] == [7]  # the sequence outlives clear(), as one process's always did


def test_consume_uses_a_planned_item_its_times_and_no_more(backend: Callable[[], Store]) -> None:
    a, b = backend(), backend()
    a.put("plan:fault", "f1", {"times": 3, "used": 0, "match": {}, "body": []})
    uses = [r for r in race(12, lambda i: (a if i % 2 else b).consume("plan:fault", "f1")) if r is not None]
    assert sorted(r["used"] for r in uses) == [1, 2, 3] and uses[0]["body"] == [] and a.items("plan:fault", 0) == {}
    a.put("plan:claims", "c1", {"times": None, "used": 0})
    for n in range(1, 4):
        assert (b if n % 2 else a).consume("plan:claims", "c1") == {"times": None, "used": n}
    assert a.items("plan:claims", 0) == {"c1": {"times": None, "used": 3}}
    assert a.consume("plan:claims", "missing") is None


def test_setdefault_keeps_the_first_value_and_clear_keeps_durable_kinds(backend: Callable[[], Store]) -> None:
    a, b = backend(), backend()
    assert a.setdefault("durable:keys", "k", {"v": 1}) == {"v": 1}
    assert b.setdefault("durable:keys", "k", {"v": 2}) == {"v": 1}
    a.put("code", "c", {})
    assert [a.incr("plan", "fault"), b.incr("plan", "fault")] == [1, 2]
    b.clear()
    assert a.get("code", "c", 0) is None and a.get("durable:keys", "k", 0) == {"v": 1} and a.incr("plan", "fault") == 1


def test_clear_one_kind(store: Store) -> None:
    store.put("a", "1", {})
    store.put("b", "1", {})
    store.append("a", {"x": 1}, 10)
    store.clear("a")
    assert store.items("a", 0) == {} and store.log("a") == [] and store.items("b", 0) == {"1": {}}


def test_begin_reads_several_kinds_once_and_a_write_ends_that_view(backend: Callable[[], Store]) -> None:
    a, b = backend(), backend()
    a.put("control", "clock", {"offset": 5})
    a.put("plan:fault", "f", {"times": 1, "used": 0})
    assert a.begin(["control", "plan:fault"], 0) == {"control": {"clock": {"offset": 5}}, "plan:fault": {"f": {"times": 1, "used": 0}}}
    try:
        b.put("control", "clock", {"offset": 9})
        if a.shared:  # within the request, a's view is the one it read...
            assert a.items("control", 0) == {"clock": {"offset": 5}}
        a.consume("plan:fault", "f")  # ...until it writes that kind
        assert a.items("plan:fault", 0) == {}
    finally:
        a.end()
    assert a.items("control", 0) == {"clock": {"offset": 9}}


def test_redis_prefixes_keep_parallel_users_apart(redis_server) -> None:
    from mockidp.redis_store import RedisStore

    one, two = RedisStore(redis_server.url("job-1")), RedisStore(redis_server.url("job-2"))
    one.put("code", "c", {"job": 1})
    assert two.get("code", "c", 0) is None
    two.clear()
    assert one.take("code", "c", 0) == {"job": 1}


def test_a_redis_that_is_away_raises_store_unavailable_quickly(tmp_path) -> None:
    from redis_server import free_port

    from mockidp.redis_store import RedisStore

    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreUnavailable, match="unavailable"):
        store.get("code", "c", 0)
    store.append_numbered("journal", {"i": 1}, 10)  # queued, never raising on the token path
    store.flush(timeout=0.3)


def test_store_urls() -> None:
    from mockidp.redis_store import parse_url
    from mockidp.workers import open_store

    assert parse_url("redis://h:1/2?prefix=ci-7&db=2") == ("redis://h:1/2?db=2", "ci-7")
    assert parse_url("redis://h:1/0") == ("redis://h:1/0", "mockidp")
    assert isinstance(open_store(None), MemoryStore) and isinstance(open_store("memory"), MemoryStore)
    with pytest.raises(ValueError, match="memory or redis://"):
        open_store("postgres://x")
