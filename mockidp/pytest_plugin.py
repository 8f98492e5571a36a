"""pytest fixtures: one mockidp server per session (per xdist worker), reset before every test.

Override the settings fixtures in a conftest.py (pytest-httpserver style):

    @pytest.fixture(scope="session")
    def mockidp_world_file():
        return "tests/my_world.toml"

Per test, `@pytest.mark.mockidp(world=..., faults=[...], claims=[...])` loads another world (a file path relative to
the test file, the name of a built-in world such as "avaya", or a dict in world-file shape) and plans faults or claims
before the test runs. `mockidp_world_file` may name a built-in world too.

A server error inside mockidp during a test, or a planned fault that no request consumed, fails that test; so does,
with `strict=True` on the marker or `mockidp_strict = true` in the ini file, any 4xx/5xx answer the test did not plan.

This module imports nothing of mockidp at import time: pytest imports it on every start in a venv where mockidp is
installed, and a session that never uses a fixture should not pay for the engine (mockidp/harness.py holds the rest).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockidp.engine import Engine
    from mockidp.harness import AuthorityHandle as AuthorityHandle  # re-exported (lazily, by __getattr__ below)
    from mockidp.harness import Controls, InProcessMockIdp
    from mockidp.harness import MockIdp as MockIdp
    from mockidp.server import MockIdpServer

def __getattr__(name: str) -> Any:
    """`from mockidp.pytest_plugin import MockIdp` (for type hints) still works; the import happens on first use."""
    if name in ("MockIdp", "AuthorityHandle", "InProcessMockIdp"):
        from mockidp import harness

        return getattr(harness, name)
    raise AttributeError(name)


@pytest.fixture(scope="session")
def mockidp_control_token() -> str | None:
    """A token the session server's control plane (/_mockidp/) requires (`--control-token`); None: none."""
    return None


@pytest.fixture(scope="session")
def mockidp_allowed_hosts() -> tuple[str, ...]:
    """Host names the session server's control plane answers besides loopback (`--allowed-host`)."""
    return ()


@pytest.fixture(scope="session")
def mockidp_world_file() -> str | None:
    """The world file to serve (a path, or a built-in world's name such as "avaya"); None for the default world."""
    return None


@pytest.fixture(scope="session")
def mockidp_tls() -> bool:
    return True


@pytest.fixture(scope="session")
def mockidp_host() -> str:
    return "127.0.0.1"


@pytest.fixture(scope="session")
def mockidp_tls_names() -> list[str]:
    """More hostnames or addresses for the server certificate and the session CA's name constraints."""
    return []


@pytest.fixture(scope="session")
def mockidp_store() -> str | None:
    """The session server's state store: memory (None), or `redis://HOST:PORT/DB?prefix=NAME` (docs/scaling.md), as
    `mockidp serve --store` takes it; by default from MOCKIDP_STORE, like serve."""
    return os.environ.get("MOCKIDP_STORE") or None


@pytest.fixture(scope="session")
def mockidp_server(mockidp_world_file: str | None, mockidp_tls: bool, mockidp_host: str, mockidp_tls_names: list[str],
                   tmp_path_factory: pytest.TempPathFactory, mockidp_control_token: str | None,
                   mockidp_allowed_hosts: tuple[str, ...], mockidp_store: str | None) -> Iterator[MockIdpServer]:
    """The session's server (one per xdist worker: each worker has its own session, and its own CA)."""
    from mockidp.engine import Engine
    from mockidp.server import MockIdpServer
    from mockidp.workers import open_store
    from mockidp.world import load_world

    state_dir = Path(tmp_path_factory.mktemp("mockidp-state"))
    engine = Engine(load_world(mockidp_world_file), state_dir=state_dir, store=open_store(mockidp_store))
    with MockIdpServer(engine, host=mockidp_host, tls=mockidp_tls, state_dir=state_dir, tls_names=mockidp_tls_names,
                       control_token=mockidp_control_token, allowed_hosts=mockidp_allowed_hosts) as server:
        yield server


def _strict_setting(request: pytest.FixtureRequest) -> bool:
    value = request.config.getini("mockidp_strict")
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def _run_checked(request: pytest.FixtureRequest, handle: Controls) -> Iterator[None]:
    """One test's life for either handle: reset, the marker (checked: a typo fails at once, naming the valid keys),
    the test, then the teardown checks (server errors, unused faults, and under strict mode unplanned errors)."""
    from mockidp.harness import HarnessError

    handle.engine.reset()
    marker = request.node.get_closest_marker("mockidp")
    strict: bool | None = None
    if marker is not None:
        try:
            strict = handle.apply_marker(marker.args, dict(marker.kwargs), request.node.nodeid, Path(request.node.path).parent)
        except HarnessError as exc:
            handle.engine.reset()
            pytest.fail(str(exc), pytrace=False)
    if strict is None:
        strict = _strict_setting(request)
    yield
    problems = handle.teardown_problems(strict)
    handle.engine.reset()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def mockidp(request: pytest.FixtureRequest, mockidp_server: MockIdpServer) -> Iterator[MockIdp]:
    """The session's mockidp, reset to its loaded world for this test."""
    from mockidp.harness import MockIdp

    handle = MockIdp(mockidp_server)
    for _ in _run_checked(request, handle):
        yield handle


@pytest.fixture(scope="session")
def mockidp_inprocess_engine(mockidp_world_file: str | None, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    from mockidp.engine import Engine
    from mockidp.world import load_world

    return Engine(load_world(mockidp_world_file), state_dir=Path(tmp_path_factory.mktemp("mockidp-inprocess")), base_url="https://mockidp.local")


@pytest.fixture
def mockidp_asgi(request: pytest.FixtureRequest, mockidp_inprocess_engine: Engine) -> Iterator[InProcessMockIdp]:
    """In-process mode: an httpx.Client over the ASGI app, no socket at all (base URL https://mockidp.local), with
    the `mockidp` handle's controls (`.control`, `.clock`, `.faults`, `add_fault()`, `journal()`, ...), the marker
    and the same teardown checks; `.transport` / `.async_transport()` for the test's own httpx clients."""
    from mockidp.harness import InProcessMockIdp

    with InProcessMockIdp(mockidp_inprocess_engine) as client:
        for _ in _run_checked(request, client):
            yield client


@pytest.fixture
def mockidp_asgi_transport(mockidp_asgi: InProcessMockIdp) -> Any:
    """In-process mode for async code: `httpx.AsyncClient(transport=mockidp_asgi_transport, base_url="https://mockidp.local")`
    (the app of `mockidp_asgi`: the same marker, controls and teardown checks)."""
    return mockidp_asgi.async_transport()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("mockidp_strict", "fail a test on any 4xx/5xx answer of mockidp it did not plan (a fault, or "
                  "mockidp.allow_errors(...)); the marker's strict= overrides it per test", type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mockidp(world=None, faults=(), claims=(), strict=None): load a world (file path relative to the test file, a built-in world's name, or a dict), plan faults/claims for one test, and (strict=True) fail it on any unplanned 4xx/5xx answer")
