"""The state store and the clock: single use, replay memory and expiry all follow engine time."""

from __future__ import annotations

import threading

from mockidp.clock import Clock
from mockidp.store import MemoryStore


def test_take_is_single_use_under_threads() -> None:
    store = MemoryStore()
    store.put("code", "c1", {"v": 1})
    wins: list[object] = []
    barrier = threading.Barrier(20)

    def grab() -> None:
        barrier.wait()
        got = store.take("code", "c1", now=0)
        if got is not None:
            wins.append(got)

    threads = [threading.Thread(target=grab) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins == [{"v": 1}]


def test_expiry_is_judged_by_the_now_given() -> None:
    store = MemoryStore()
    store.put("k", "a", {"x": 1}, expires_at=100)
    assert store.get("k", "a", now=99) == {"x": 1}
    assert store.get("k", "a", now=100) is None
    assert store.items("k", now=100) == {}


def test_add_once_remembers_until_expiry() -> None:
    store = MemoryStore()
    assert store.add_once("jti", "j1", expires_at=50, now=0)
    assert not store.add_once("jti", "j1", expires_at=50, now=10)
    assert store.add_once("jti", "j1", expires_at=90, now=60)


def test_update_is_atomic_and_can_delete() -> None:
    store = MemoryStore()
    store.put("ciba", "r", {"polls": 0}, expires_at=10)
    for _ in range(5):
        store.update("ciba", "r", 0, lambda rec: {**rec, "polls": rec["polls"] + 1})
    assert store.get("ciba", "r", 0) == {"polls": 5}
    assert store.update("ciba", "r", 0, lambda rec: None) is None
    assert store.get("ciba", "r", 0) is None


def test_bounded_log() -> None:
    store = MemoryStore()
    for i in range(10):
        store.append("journal", {"i": i}, maxlen=3)
    assert [e["i"] for e in store.log("journal")] == [7, 8, 9]
    store.clear()
    assert store.log("journal") == []


def test_clock_advance_set_freeze_reset() -> None:
    clock = Clock()
    base = clock.now()
    assert clock.advance(3600) >= base + 3600
    clock.set(1_000_000, frozen=True)
    assert clock.now() == 1_000_000
    clock.advance(5)
    assert clock.now() == 1_000_005
    clock.reset()
    assert abs(clock.now() - base) < 60
