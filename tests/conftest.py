"""The suite uses mockidp's own pytest plugin (installed as a pytest11 entry point): one HTTPS server per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mockidp.engine import PACKAGE_KEYS, Engine
from mockidp.server import MockIdpServer

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
# Test modules share a few helpers by module name (`from test_cli import start`); the tests mirror the package's
# folders, so every folder of tests/ is importable whatever subset of the suite runs.
sys.path[:0] = [str(d) for d in sorted(Path(__file__).parent.rglob("*")) if d.is_dir() and d.name != "__pycache__" and str(d) not in sys.path]
KEYS = PACKAGE_KEYS  # the development keys, package data (mockidp/data/keys)


@pytest.fixture
def http(mockidp):
    with mockidp.http() as client:
        yield client


@pytest.fixture(scope="session")
def two_loop_server(tmp_path_factory: pytest.TempPathFactory):
    """A second server with two event loops on two threads (`MockIdpServer(threads=2)`), for tests that need
    handlers running at the same time. Tests reset its engine themselves."""
    state = tmp_path_factory.mktemp("two-loops")
    with MockIdpServer(Engine(state_dir=state), state_dir=state, threads=2) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """A real redis-server for the session (tests/redis_server.py); each user takes its own key prefix."""
    from redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()
