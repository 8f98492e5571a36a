"""What the pytest fixtures hand a test: the `mockidp` handle (socket mode) and the in-process client (`mockidp_asgi`),
with one set of controls and one set of teardown checks for both. Kept out of `pytest_plugin.py` so that a pytest
start that never uses a fixture does not import the engine (issue 22: the plugin is imported on every pytest start
in a venv where mockidp is installed)."""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mockidp.control.surface import Control
from mockidp.engine import Engine
from mockidp.journal import Journal
from mockidp.server import MockIdpServer
from mockidp.tls import trust_bundle
from mockidp.world import load_world, parse_world
from mockidp.world_edit import ControlError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette nudges toward httpx2; the httpx-based client is what users have
    from starlette.testclient import TestClient

MARKER_KEYS = ("world", "faults", "claims", "strict")
SHOWN = 20  # requests listed in a failure message, newest last


class HarnessError(Exception):
    """A test's own mistake in using the harness (a marker key, a fault's endpoint): the plugin fails the test with
    this message alone, no traceback."""


def describe(entries: Iterable[dict[str, Any]], limit: int = SHOWN) -> str:
    """Journal entries as lines (authority, endpoint, status, client, error), newest last, as respx lists calls."""
    rows = list(entries)
    lines = [f"  {e['authority']} {e['endpoint']} {e['status']}" + (f" client={e['client_id']}" if e.get("client_id") else "")
             + (f" error={e['error']}" if e.get("error") else "") + (f" (fault {e['fault']})" if e.get("fault") else "")
             + f"  {e['method']} {e['path']}" for e in rows[-limit:]]
    if len(rows) > limit:
        lines.insert(0, f"  ... {len(rows) - limit} older request(s) not shown")
    return "\n".join(lines) if lines else "  (no request at all)"


class JournalView:
    """`mockidp.journal(**filters)` lists entries (the clearer name for `requests()`, which reads like the
    `requests` library); attribute access still reaches the `Journal` itself (`mockidp.journal.entries(...)`)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def __call__(self, **filters: Any) -> list[dict[str, Any]]:
        return self._journal.entries(**filters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_journal":
            object.__setattr__(self, name, value)
        else:
            setattr(self._journal, name, value)  # `mockidp.journal.maxlen = 3` changes the journal itself


class Controls:
    """The controls both handles offer; `engine` and `control` are set by the subclass."""

    engine: Engine
    control: Control
    _allowed: list[dict[str, Any]]

    @property
    def clock(self) -> Any:
        return self.engine.clock

    @property
    def faults(self) -> Any:
        return self.engine.faults

    @property
    def journal(self) -> JournalView:
        return JournalView(self.engine.journal)

    def add_fault(self, **fields: Any) -> Any:
        return self.control.add_fault(**fields)

    def add_claims(self, claims: dict[str, Any], authority: str = "*", client_id: str = "*", times: int | None = 1) -> Any:
        return self.control.add_claims(claims, authority, client_id, times)

    def advance(self, seconds: float) -> None:
        self.control.advance(seconds)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """Journal entries matching authority=, endpoint=, client_id=, status=, ... (also `journal(...)`)."""
        return self.engine.journal.entries(**filters)

    def assert_requested(self, times: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Assert the client made such requests (at least one, or exactly `times`); returns them. A failure lists
        every request mockidp did see, newest last."""
        found = self.requests(**filters)
        described = ", ".join(f"{k}={v!r}" for k, v in filters.items()) or "any filter"
        if (not found) if times is None else len(found) != times:
            wanted = "at least one" if times is None else f"exactly {times}"
            raise AssertionError(f"mockidp received {len(found)} request(s) with {described}, expected {wanted}; "
                                 f"the requests it did receive (newest last):\n{describe(self.requests())}")
        return found

    def allow_errors(self, **filters: Any) -> None:
        """Under strict mode: 4xx/5xx answers matching these journal filters (status=401, endpoint="token", ...) are
        ones this test means to provoke."""
        self._allowed.append(filters)

    def reset(self) -> None:
        self.engine.reset()

    # --- what the fixtures call ----------------------------------------------------------------------------
    def apply_marker(self, args: tuple[Any, ...], kwargs: dict[str, Any], nodeid: str, test_dir: Path) -> bool | None:
        """The marker's world, faults and claims, checked first; returns whether the marker asks for strictness
        (None: it does not say)."""
        if args:
            raise HarnessError(f"@pytest.mark.mockidp takes keywords only ({', '.join(MARKER_KEYS)}), got positional {args!r}")
        unknown = sorted(set(kwargs) - set(MARKER_KEYS))
        if unknown:
            raise HarnessError(f"@pytest.mark.mockidp: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(MARKER_KEYS)}")
        for key in ("faults", "claims"):
            items = kwargs.get(key, ())
            if not isinstance(items, (list, tuple)) or not all(isinstance(i, dict) for i in items):
                raise HarnessError(f"@pytest.mark.mockidp: {key}= is a list of dicts (one per planned {key[:-1]})")
        world = kwargs.get("world")
        try:
            if world is not None:
                self.engine.use_world(parse_world(world, f"@mockidp marker of {nodeid}") if isinstance(world, dict) else load_world(world, relative_to=test_dir))
            for fault in kwargs.get("faults", ()):
                self.control.add_fault(**fault)
            for plan in kwargs.get("claims", ()):
                self.control.add_claims(**plan)
        except (ControlError, TypeError) as exc:
            raise HarnessError(f"@pytest.mark.mockidp: {exc}") from exc
        strict = kwargs.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise HarnessError(f"@pytest.mark.mockidp: strict= is True or False, not {strict!r}")
        return strict

    def teardown_problems(self, strict: bool) -> list[str]:
        """Why the test should fail though its body passed: mockidp's own errors, planned faults nobody consumed,
        and (strict) error answers the test did not plan."""
        problems = []
        errors = list(self.engine.server_errors)
        if errors:
            problems.append("mockidp hit an internal error during this test:\n" + "\n".join(errors))
        unused = self.engine.faults.pending()
        if unused:
            problems.append("planned mockidp faults were never consumed: " + ", ".join(f"{f.id} ({f.authority}/{f.endpoint})" for f in unused))
        if strict:
            unplanned = [e for e in self.engine.journal.entries() if e["status"] >= 400 and not e.get("fault")
                         and not any(all(e.get(k) == v for k, v in allowed.items()) for allowed in self._allowed)]
            if unplanned:
                problems.append("strict mockidp: answers of 4xx/5xx this test did not plan (plan them with a fault, "
                                "or allow them with mockidp.allow_errors(...)):\n" + describe(unplanned))
        return problems


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


class MockIdp(Controls):
    """What a test gets: URLs, the CA bundle, ready HTTP clients, and the control surface."""

    def __init__(self, server: MockIdpServer) -> None:
        self.server = server
        self.engine: Engine = server.engine
        self.control = Control(self.engine)
        self._allowed = []

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

    def http(self, **kwargs: Any) -> httpx.Client:
        """An httpx.Client that trusts the server's CA, based at the server URL; it sends the control token (when
        there is one) to /_mockidp/ and nowhere else."""
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

    def trust(self, monkeypatch: Any) -> Path:
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


class InProcessMockIdp(TestClient, Controls):
    """`mockidp_asgi`: an httpx.Client over the ASGI app (no socket; base URL https://mockidp.local) with the same
    controls as the `mockidp` handle, and transports for the test's own clients: `transport` (sync,
    `httpx.Client(transport=...)`) and `async_transport()` (`httpx.AsyncClient(transport=...)`)."""

    URL = "https://mockidp.local"

    def __init__(self, engine: Engine) -> None:
        from mockidp.app import build_app

        self.engine = engine
        self.control = Control(engine)
        self._allowed = []
        self.asgi_app = build_app(engine)
        super().__init__(self.asgi_app, base_url=self.URL, raise_server_exceptions=False)

    @property
    def url(self) -> str:
        return self.URL

    def base(self, authority: str) -> str:
        return self.URL + self.engine.authority(authority).prefix

    @property
    def transport(self) -> httpx.BaseTransport:
        """A sync httpx transport into the app (valid while the fixture's test runs)."""
        transport: httpx.BaseTransport = self._transport
        return transport

    def async_transport(self) -> httpx.ASGITransport:
        """An async httpx transport into the app: `httpx.AsyncClient(transport=..., base_url=mockidp_asgi.url)`."""
        return httpx.ASGITransport(app=self.asgi_app)


def _is_control(path: str) -> bool:
    return path == "/_mockidp" or path.startswith("/_mockidp/")


def _httpx_control_auth(token: str) -> httpx.Auth:
    """httpx auth: `Authorization: Bearer <control token>` on /_mockidp/ requests only; a request's own `auth=`
    (an authority's Basic credentials) replaces it as usual."""

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
