"""Control state on a shared store, in-process: two engines (or key stores) over one Redis prefix stand for two
processes. The cross-process tests (tests/scaling) run the same over HTTP between real `mockidp serve` processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mockidp.claims import PlannedClaims
from mockidp.engine import Engine
from mockidp.keys import KeyStore


@pytest.fixture
def url(redis_server: Any) -> Iterator[str]:
    from mockidp.redis_store import RedisStore

    url = redis_server.url()
    yield url
    RedisStore(url).clear()


def test_a_generated_key_is_one_key_for_every_process_and_rotations_reach_the_others(url: str, tmp_path) -> None:
    from mockidp.redis_store import RedisStore

    one, two = KeyStore([], None, store=RedisStore(url)), KeyStore([], None, store=RedisStore(url))
    first, second = one.keyset("no-committed-key", "ES256"), two.keyset("no-committed-key", "ES256")
    assert first.active.kid == second.active.kid  # the first generated wins; the other's was discarded
    new = first.rotate()
    assert two.store is not None
    two.load_shared(str(two.store.get("control", "keys", 0)["rev"]))  # type: ignore[index]
    assert [k.kid for k in second.published] == [k.kid for k in first.published] and second.active.kid == new.kid
    assert second.active.sign(b"x") and second.find(new.kid) is not None
    first.retire()
    two.load_shared("after-retire")
    assert [k.kid for k in second.published] == [new.kid]
    two.store.clear()  # a reset: the rotations go, the generated key stays
    assert KeyStore([], None, store=RedisStore(url)).keyset("no-committed-key", "ES256").active.kid == first._initial[0].kid


def test_two_engines_share_clock_plans_world_changes_and_server_errors(url: str) -> None:
    from mockidp.workers import open_store

    a, b = Engine(store=open_store(url)), Engine(store=open_store(url))
    a.reset()
    a.clock.set(1_700_000_000, frozen=True)
    a.claims.add(PlannedClaims(claims={"tenant": "t"}, client_id="demo-client"))
    a.world_add("avaya/realms/demo-account/clients", {"client_id": "ci-bot", "secret": "s3"})
    a.record_server_error("Traceback: boom")
    b.begin_request()
    try:
        assert b.clock.now() == 1_700_000_000
        assert b.claims.take_for("avaya", "demo-client") == {"tenant": "t"}
        assert b.claims.take_for("avaya", "demo-client") == {}  # used once, by b
        realm = next(r for r in b.world.avaya.realms if r.account_id == "demo-account")
        assert any(c.client_id == "ci-bot" for c in realm.clients)
        assert list(b.server_errors) == ["Traceback: boom"]
    finally:
        b.end_request()
    assert a.claims.pending() == []
    b.reset()
    a.begin_request()
    try:
        assert a.clock.describe()["frozen"] is False and a.server_errors == []
        assert not any(c.client_id == "ci-bot" for r in a.world.avaya.realms for c in r.clients)
    finally:
        a.end_request()
