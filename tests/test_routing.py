"""The glue's own endpoint router finds exactly what Starlette's Mount/Route tables would (it exists only to be
cheaper), and a reply is always sent, whatever its headers hold."""

from __future__ import annotations

import re
import warnings
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():  # starlette's TestClient warns that it prefers httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from mockidp.app import build_app
from mockidp.engine import Engine

SAMPLE = {"realm": "demo-account", "tenant": "11111111-1111-1111-1111-111111111111"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE.get(m.group(1), "x-" + m.group(1)), path)


def cases(engine: Engine) -> list[tuple[str, str]]:
    out = []
    for authority in engine.authorities.values():
        for ep in authority.endpoints():
            path = authority.prefix + concrete(ep.path)
            out += [(m, path) for m in ("GET", "POST", "PUT", "DELETE", "HEAD")]
            out += [("GET", path + "/"), ("POST", path.rstrip("/") + "/extra")]
    return out


def outcome(client: httpx.Client, engine: Engine, method: str, path: str, host: str | None = None) -> tuple[Any, ...]:
    engine.reset()
    headers = {"host": host} if host else {}
    resp = client.request(method, path, headers=headers, content=b"a=1", follow_redirects=False)
    entries = engine.journal.entries()
    where = (entries[-1]["authority"], entries[-1]["endpoint"]) if entries else None
    return resp.status_code, resp.headers.get("location"), where


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Any:
    engine = Engine(state_dir=tmp_path_factory.mktemp("routing"))
    full = build_app(engine)
    starlette_only = full.app  # type: ignore[attr-defined]  # HostRouting wraps the Starlette app it falls back to
    with TestClient(full, base_url="https://mockidp.local", raise_server_exceptions=False, follow_redirects=False) as a, \
            TestClient(starlette_only, base_url="https://mockidp.local", raise_server_exceptions=False, follow_redirects=False) as b:
        yield engine, a, b


def test_router_finds_what_starlette_finds_for_every_endpoint_and_method(both: Any) -> None:
    engine, fast, starlette = both
    checked = 0
    for method, path in cases(engine):
        assert outcome(fast, engine, method, path) == outcome(starlette, engine, method, path), (method, path)
        checked += 1
    assert checked > 250


def test_real_hostnames_route_to_their_authority_at_the_root(both: Any) -> None:
    engine, fast, _ = both
    status, _, where = outcome(fast, engine, "POST", "/auth/realms/demo-account/protocol/openid-connect/token", host="eu.cc.avayacloud.com")
    assert (status, where) == (400, ("avaya", "token"))  # a=1: no grant_type
    status, _, where = outcome(fast, engine, "GET", "/11111111-1111-1111-1111-111111111111/v2.0/.well-known/openid-configuration", host="login.microsoftonline.com")
    assert (status, where) == (200, ("entra", "discovery"))
    status, _, where = outcome(fast, engine, "GET", "/auth/realms/demo-account/.well-known/openid-configuration", host="EU.CC.AVAYACLOUD.COM:443")
    assert (status, where) == (200, ("avaya", "discovery"))


def test_a_location_outside_latin_1_is_sent_percent_encoded(both: Any) -> None:
    _engine, fast, _ = both
    resp = fast.get("/avaya/auth/realms/demo-account/protocol/openid-connect/logout",  # a post-logout URI demo-spa registers
                    params={"post_logout_redirect_uri": "http://localhost/ŝignedout", "client_id": "demo-spa"})
    assert resp.status_code == 302
    assert resp.headers["location"].startswith("http://localhost/%C5%9Dignedout")
    # Nothing a browser could follow back to: Entra's own signed-out page.
    resp = fast.get("/entra/11111111-1111-1111-1111-111111111111/oauth2/v2.0/logout",
                    params={"post_logout_redirect_uri": "urn:ietf:params:oauth:x"})
    assert resp.status_code == 200 and "signed out" in resp.text


def test_a_client_that_leaves_mid_body_is_journaled_not_a_server_error(both: Any) -> None:
    import asyncio

    engine, _, _ = both
    engine.reset()
    app = build_app(engine)
    path = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "scheme": "https", "server": ("127.0.0.1", 443), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"mockidp.local"), (b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"500")]}
    messages = [{"type": "http.request", "body": b"grant_type=client_cre", "more_body": True}, {"type": "http.disconnect"}]
    sent: list[Any] = []

    async def receive() -> Any:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]  # an ASGI app returns a coroutine
    assert sent == [] and engine.server_errors == []
    entry = engine.journal.entries()[-1]
    assert (entry["endpoint"], entry["status"], entry["error"]) == ("token", 0, "client_disconnected")
