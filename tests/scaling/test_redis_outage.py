"""A Redis that goes away mid-run: requests get their authority's 503 (`temporarily_unavailable` in the vendor's
shape) within the store's socket timeout, never a 500 or a hang; the same process serves again once Redis is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis_server import RedisServer
from scaling_helpers import AVAYA, Replica, eventually

CLIENT = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}
ENTRA = "/entra/11111111-1111-1111-1111-111111111111/oauth2/v2.0/token"
ENTRA_CLIENT = {"grant_type": "client_credentials", "client_id": "22222222-2222-2222-2222-222222222222", "client_secret": "demo-app-secret",
                "scope": "api://fivedegrees-demo-api/.default"}


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, Replica]]:
    redis = RedisServer(tmp_path_factory.mktemp("redis-outage")).start()  # its own: this module stops it
    replica = Replica("A", tmp_path_factory.mktemp("outage-state"), redis.url())
    yield redis, replica
    replica.stop()
    redis.stop()


def post(replica: Replica, path: str, data: dict[str, str]) -> Any:
    with replica.http() as http:
        return http.post(path, data=data)


def test_requests_get_503_while_redis_is_away_and_succeed_once_it_is_back(outage: tuple[RedisServer, Replica]) -> None:
    redis, a = outage
    assert post(a, AVAYA + "/token", CLIENT).status_code == 200
    assert post(a, ENTRA, ENTRA_CLIENT).status_code == 200
    redis.stop()
    started = time.monotonic()
    avaya = post(a, AVAYA + "/token", CLIENT)
    assert avaya.status_code == 503 and avaya.json()["error"] == "temporarily_unavailable", avaya.text
    assert avaya.headers["retry-after"] == "1"
    entra = post(a, ENTRA, ENTRA_CLIENT)
    assert entra.status_code == 503 and entra.json()["error"] == "temporarily_unavailable", entra.text
    assert "AADSTS" in entra.json().get("error_description", "") or "error_codes" in entra.json()  # Entra's own shape
    with a.control() as ctl:
        health, world = ctl.get("/healthz"), ctl.get("/_mockidp/faults")
    assert health.status_code == 503 and world.status_code == 503 and world.json()["error"] == "temporarily_unavailable"
    assert time.monotonic() - started < 10  # no hang: each answer within the store's socket timeout
    redis.start()
    assert post(a, AVAYA + "/token", CLIENT).status_code == 200  # the first request after it came back
    with a.control() as ctl:
        assert ctl.get("/healthz").status_code == 200
        assert ctl.get("/_mockidp/server-errors").json() == []  # a store outage is no internal error
        eventually(lambda: [e for e in ctl.get("/_mockidp/journal").json() if e["status"] == 200] or None)
