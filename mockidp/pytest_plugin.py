"""pytest fixtures: one mockidp server per session (per xdist worker), reset before every test.

Override the settings fixtures in a conftest.py (pytest-httpserver style):

    @pytest.fixture(scope="session")
    def mockidp_world_file():
        return "tests/my_world.toml"

Per test, `@pytest.mark.mockidp(world=..., faults=[...], claims=[...])` loads another world (a file path relative to
the test file, the name of a built-in world such as "avaya", or a dict in world-file shape) and plans faults or claims
before the test runs. `mockidp_world_file` may name a built-in world too.

A server error inside mockidp during a test, or a planned fault that no request consumed, fails that test.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mockidp.control.surface import Control
from mockidp.engine import Engine
from mockidp.server import MockIdpServer
from mockidp.tls import trust_bundle
from mockidp.world import load_world, parse_world


@dataclass(frozen=True)
class AuthorityHandle:
    """The URLs a client of one issuer of an authority needs, and shortcuts to its controls."""

    name: str
    issuer_id: str
    base_url: str
    issuer: str
    jwks_url: str
    discovery_url: str | None
    token_url: str | None
    idp: MockIdp

    def mint(self, claims: dict[str, Any] | None = None, variant: str = "valid") -> str:
        """A token of this issuer with these claims, or a deliberately bad variant (see Control.forge)."""
        return self.idp.control.forge(self.name, claims, self.issuer_id, variant, base=self.base_url)

    def rotate_key(self) -> dict[str, Any]:
        return self.idp.control.rotate_key(self.name, self.issuer_id)

    def retire_keys(self, kid: str | None = None) -> dict[str, Any]:
        return self.idp.control.retire_keys(self.name, self.issuer_id, kid)

    def issuer_for(self, issuer_id: str) -> AuthorityHandle:
        return self.idp.handle(self.name, issuer_id)


class MockIdp:
    """What a test gets: URLs, the CA bundle, ready HTTP clients, and the control surface."""

    def __init__(self, server: MockIdpServer) -> None:
        self.server = server
        self.engine: Engine = server.engine
        self.control = Control(self.engine)

    # --- where it is ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ca_bundle(self) -> str | bool:
        """What to pass as `verify=` (requests, python-keycloak, msal): the CA bundle path, or True without TLS."""
        return str(self.server.ca_bundle) if self.server.ca_bundle else True

    @property
    def ssl_context(self) -> ssl.SSLContext | bool:
        """What to pass as `verify=` to httpx / authlib's httpx clients."""
        return ssl.create_default_context(cafile=str(self.server.ca_bundle)) if self.server.ca_bundle else True

    def base(self, authority: str) -> str:
        return self.url + self.engine.authority(authority).prefix

    def authority(self, name: str) -> Any:
        """The authority object itself (its registries, its `mint`)."""
        return self.engine.authority(name)

    def handle(self, authority: str, issuer_id: str | None = None) -> AuthorityHandle:
        auth = self.engine.authority(authority)
        issuers = auth.issuers()
        issuer = next((i for i in issuers if i.id == issuer_id), None) if issuer_id else issuers[0]
        if issuer is None:
            raise KeyError(f"{authority} has no issuer {issuer_id!r}; known: {', '.join(i.id for i in issuers)}")
        base = self.base(authority)
        return AuthorityHandle(
            name=authority, issuer_id=issuer.id, base_url=base, issuer=issuer.url(base), jwks_url=base + issuer.jwks_path,
            discovery_url=base + issuer.discovery_path if issuer.discovery_path else None,
            token_url=base + issuer.token_path if issuer.token_path else None, idp=self,
        )

    def __getattr__(self, name: str) -> AuthorityHandle:
        """`mockidp.avaya`, `mockidp.entra`, ...: the handle of the authority's first issuer."""
        engine = self.__dict__.get("engine")
        if engine is not None and name in engine.authorities:
            return self.handle(name)
        raise AttributeError(name)

    # --- clients that trust it ----------------------------------------------------------------------
    @property
    def control_token(self) -> str | None:
        """The control plane's token (the `mockidp_control_token` fixture), or None when it needs none."""
        return self.server.control.token

    def http(self, **kwargs: Any) -> Any:
        """An httpx.Client that trusts the server's CA, based at the server URL; it sends the control token (when
        there is one) to /_mockidp/ and nowhere else."""
        import httpx

        if self.control_token:
            kwargs.setdefault("auth", _httpx_control_auth(self.control_token))
        return httpx.Client(base_url=self.url, verify=self.ssl_context, **kwargs)

    def requests_session(self) -> Any:
        import requests

        session = requests.Session()
        session.verify = self.ca_bundle
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify: don't let the environment win.
        session.trust_env = False
        if self.control_token:
            session.auth = _requests_control_auth(self.control_token)
        return session

    def trust(self, monkeypatch: pytest.MonkeyPatch) -> Path:
        """Make every client of this test trust mockidp, whatever the environment said: writes a bundle of mockidp's
        CA and the system's CAs and points REQUESTS_CA_BUNDLE, SSL_CERT_FILE and CURL_CA_BUNDLE at it (monkeypatch
        restores them at teardown). Many CI images set REQUESTS_CA_BUNDLE, and requests lets it override
        `Session.verify`; the system's CAs stay in so that other HTTPS calls of the test keep working."""
        if self.server.ca_bundle is None:
            raise RuntimeError("mockidp serves plain HTTP (mockidp_tls is False): there is no CA to trust")
        bundle = trust_bundle(self.server.ca_bundle, self.server.state_dir / "trust")
        for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
            monkeypatch.setenv(name, str(bundle))
        return bundle

    def federated_token_file(self, path: Path | str, issuer: str = "kubernetes", claims: dict[str, Any] | None = None) -> Path:
        """Write a token of the `workload` authority's issuer (`kubernetes`, `github`), `claims` over its defaults, to
        `path`: the file a client reads from AZURE_FEDERATED_TOKEN_FILE (workload identity federation). Returns it."""
        target = Path(path)
        target.write_text(self.control.forge("workload", claims, issuer))
        return target

    # --- controls -------------------------------------------------------------------------------------
    @property
    def clock(self) -> Any:
        return self.engine.clock

    @property
    def faults(self) -> Any:
        return self.engine.faults

    @property
    def journal(self) -> Any:
        return self.engine.journal

    def add_fault(self, **fields: Any) -> Any:
        return self.control.add_fault(**fields)

    def add_claims(self, claims: dict[str, Any], authority: str = "*", client_id: str = "*", times: int | None = 1) -> Any:
        return self.control.add_claims(claims, authority, client_id, times)

    def advance(self, seconds: float) -> None:
        self.engine.clock.advance(seconds)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """Journal entries matching authority=, endpoint=, client_id=, status=, ..."""
        return self.engine.journal.entries(**filters)

    def assert_requested(self, times: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Assert the client made such requests (at least one, or exactly `times`); returns them."""
        found = self.requests(**filters)
        described = ", ".join(f"{k}={v!r}" for k, v in filters.items())
        if times is None:
            assert found, f"mockidp received no request with {described}; it received: {[(e['authority'], e['endpoint'], e['status']) for e in self.requests()]}"
        else:
            assert len(found) == times, f"mockidp received {len(found)} request(s) with {described}, expected {times}"
        return found

    def reset(self) -> None:
        self.engine.reset()


def _is_control(path: str) -> bool:
    return path == "/_mockidp" or path.startswith("/_mockidp/")


def _httpx_control_auth(token: str) -> Any:
    """httpx auth: `Authorization: Bearer <control token>` on /_mockidp/ requests only; a request's own `auth=`
    (an authority's Basic credentials) replaces it as usual."""
    import httpx

    class ControlAuth(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
            if _is_control(request.url.path):
                request.headers["authorization"] = f"Bearer {token}"
            yield request

    return ControlAuth()


def _requests_control_auth(token: str) -> Any:
    import requests

    class ControlAuth(requests.auth.AuthBase):
        def __call__(self, request: Any) -> Any:
            from urllib.parse import urlsplit

            if _is_control(urlsplit(request.url).path):
                request.headers["Authorization"] = f"Bearer {token}"
            return request

    return ControlAuth()


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
    from mockidp.workers import open_store

    state_dir = Path(tmp_path_factory.mktemp("mockidp-state"))
    engine = Engine(load_world(mockidp_world_file), state_dir=state_dir, store=open_store(mockidp_store))
    with MockIdpServer(engine, host=mockidp_host, tls=mockidp_tls, state_dir=state_dir, tls_names=mockidp_tls_names,
                       control_token=mockidp_control_token, allowed_hosts=mockidp_allowed_hosts) as server:
        yield server


def _apply_marker(request: pytest.FixtureRequest, idp: MockIdp) -> None:
    marker = request.node.get_closest_marker("mockidp")
    if marker is None:
        return
    world = marker.kwargs.get("world")
    if world is not None:
        idp.engine.use_world(parse_world(world, f"@mockidp marker of {request.node.nodeid}") if isinstance(world, dict) else load_world(world, relative_to=Path(request.node.path).parent))
    for fault in marker.kwargs.get("faults", ()):
        idp.control.add_fault(**fault)
    for plan in marker.kwargs.get("claims", ()):
        idp.control.add_claims(**plan)


@pytest.fixture
def mockidp(request: pytest.FixtureRequest, mockidp_server: MockIdpServer) -> Iterator[MockIdp]:
    """The session's mockidp, reset to its loaded world for this test."""
    mockidp_server.engine.reset()
    handle = MockIdp(mockidp_server)
    _apply_marker(request, handle)
    yield handle
    errors = list(mockidp_server.engine.server_errors)
    unused = mockidp_server.engine.faults.pending()
    mockidp_server.engine.reset()
    if errors:
        pytest.fail("mockidp hit an internal error during this test:\n" + "\n".join(errors), pytrace=False)
    if unused:
        pytest.fail("planned mockidp faults were never consumed: " + ", ".join(f"{f.id} ({f.authority}/{f.endpoint})" for f in unused), pytrace=False)


@pytest.fixture(scope="session")
def mockidp_inprocess_engine(mockidp_world_file: str | None, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(load_world(mockidp_world_file), state_dir=Path(tmp_path_factory.mktemp("mockidp-inprocess")), base_url="https://mockidp.local")


@pytest.fixture
def mockidp_asgi(mockidp_inprocess_engine: Engine) -> Iterator[Any]:
    """In-process mode: an httpx.Client over the ASGI app, no socket at all (base URL https://mockidp.local)."""
    import warnings

    from mockidp.app import build_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette nudges toward httpx2; the httpx-based client is what users have
        from starlette.testclient import TestClient

    mockidp_inprocess_engine.reset()
    with TestClient(build_app(mockidp_inprocess_engine), base_url="https://mockidp.local", raise_server_exceptions=False) as client:
        client.engine = mockidp_inprocess_engine
        client.control = Control(mockidp_inprocess_engine)
        yield client
    errors = list(mockidp_inprocess_engine.server_errors)
    mockidp_inprocess_engine.reset()
    if errors:
        pytest.fail("mockidp hit an internal error during this test:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def mockidp_asgi_transport(mockidp_inprocess_engine: Engine) -> Iterator[Any]:
    """In-process mode for async code: `httpx.AsyncClient(transport=mockidp_asgi_transport, base_url="https://mockidp.local")`."""
    import httpx

    from mockidp.app import build_app

    mockidp_inprocess_engine.reset()
    yield httpx.ASGITransport(app=build_app(mockidp_inprocess_engine))
    mockidp_inprocess_engine.reset()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mockidp(world=None, faults=(), claims=()): load a world (file path relative to the test file, a built-in world's name, or a dict) and plan faults/claims for one test")
