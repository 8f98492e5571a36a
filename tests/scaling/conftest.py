"""Two `mockidp serve` processes on one real Redis (tests/redis_server.py), started once per module: A and B.
Clients reach the authorities as through one load balancer (X-Forwarded-Host names one public host, so both
replicas' issuers are the same), and each replica's control plane directly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from scaling_helpers import Replica


@pytest.fixture(scope="module")
def replicas(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Replica, Replica]]:
    state = tmp_path_factory.mktemp("replicas")  # one state dir: one CA, as one deployment's replicas share
    store = redis_server.url()
    a = Replica("A", state, store)
    b = Replica("B", state, store)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
def pair(replicas: tuple[Replica, Replica]) -> Iterator[tuple[Replica, Replica]]:
    """A and B, reset (through A: B follows) before and checked for server errors after each test."""
    a, b = replicas
    with a.control() as ctl:
        assert ctl.post("/_mockidp/reset", json={}).status_code in (200, 204)
    yield a, b
    with b.control() as ctl:
        errors = ctl.get("/_mockidp/server-errors").json()
    assert errors == [], errors
