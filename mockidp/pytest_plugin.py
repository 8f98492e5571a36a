"""pytest fixtures: one mockidp server per session (per xdist worker), reset before every test.

Override the settings fixtures in a conftest.py (pytest-httpserver style):
    @pytest.fixture(scope="session")
    def mockidp_world_file(): return "tests/my_world.toml"

A server error inside mockidp during a test, or a planned fault that no request consumed, fails that test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockidp.engine import Engine
from mockidp.server import MockIdpServer
from mockidp.world import load_world


class MockIdp:
    """What a test gets: URLs, the CA bundle, and the engine's controls."""

    def __init__(self, server: MockIdpServer) -> None:
        self.server = server
        self.engine: Engine = server.engine

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ca_bundle(self) -> str | bool:
        """What to pass as `verify=`: the CA bundle path, or True with --no-tls."""
        return str(self.server.ca_bundle) if self.server.ca_bundle else True

    def base(self, authority: str) -> str:
        return self.url + self.engine.authority(authority).prefix

    def authority(self, name: str) -> Any:
        return self.engine.authority(name)

    @property
    def clock(self) -> Any:
        return self.engine.clock

    @property
    def faults(self) -> Any:
        return self.engine.faults

    @property
    def journal(self) -> Any:
        return self.engine.journal

    def reset(self) -> None:
        self.engine.reset()

    def http(self, **kwargs: Any) -> Any:
        """An httpx.Client that trusts the server's CA, based at the server URL."""
        import httpx

        return httpx.Client(base_url=self.url, verify=self._ssl_context(), **kwargs)

    def requests_session(self) -> Any:
        import requests

        session = requests.Session()
        session.verify = self.ca_bundle
        return session

    def _ssl_context(self) -> Any:
        import ssl

        if self.server.ca_bundle is None:
            return True
        return ssl.create_default_context(cafile=str(self.server.ca_bundle))


@pytest.fixture(scope="session")
def mockidp_world_file() -> str | None:
    """The world file to serve; None for the built-in default world."""
    return None


@pytest.fixture(scope="session")
def mockidp_tls() -> bool:
    return True


@pytest.fixture(scope="session")
def mockidp_host() -> str:
    return "127.0.0.1"


@pytest.fixture(scope="session")
def mockidp_server(mockidp_world_file: str | None, mockidp_tls: bool, mockidp_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockIdpServer]:
    state_dir = Path(tmp_path_factory.mktemp("mockidp-state"))
    engine = Engine(load_world(mockidp_world_file), state_dir=state_dir)
    with MockIdpServer(engine, host=mockidp_host, tls=mockidp_tls, state_dir=state_dir) as server:
        yield server


@pytest.fixture
def mockidp(mockidp_server: MockIdpServer) -> Iterator[MockIdp]:
    """The session's mockidp, reset to its loaded world for this test."""
    mockidp_server.engine.reset()
    handle = MockIdp(mockidp_server)
    yield handle
    errors = list(mockidp_server.engine.server_errors)
    unused = mockidp_server.engine.faults.pending()
    mockidp_server.engine.reset()
    if errors:
        pytest.fail("mockidp hit an internal error during this test:\n" + "\n".join(errors), pytrace=False)
    if unused:
        pytest.fail("planned mockidp faults were never consumed: " + ", ".join(f"{f.id} ({f.authority}/{f.endpoint})" for f in unused), pytrace=False)
