"""The control plane (/_mockidp/) answers only the test that owns it (issue 16): no file read on a caller's word,
all-or-nothing world changes, no cross-origin or DNS-rebound changes, bounded JSON, bounded key sets, and an
optional token. Everything over real HTTP(S) on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from mockidp.cli import parser
from mockidp.control.guard import ControlSettings
from mockidp.engine import Engine
from mockidp.keys import MAX_PUBLISHED, generate_private_key, self_signed_certificate
from mockidp.server import MockIdpServer

JSON = {"content-type": "application/json"}
CLIENTS = "/_mockidp/world/avaya/realms/demo-account/clients"
APPS = "/_mockidp/world/entra/tenants/11111111-1111-1111-1111-111111111111/apps"
CERTS = "/avaya/auth/realms/demo-account/protocol/openid-connect/certs"
TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
CC = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}
CONTROL_TOKEN = "test-control-token-0123456789"


def world(http: httpx.Client) -> bytes:
    response = http.get("/_mockidp/world")
    assert response.status_code == 200
    return response.content


def pem_certificate() -> str:
    key = generate_private_key("RS256")
    return self_signed_certificate(key, "inline-client").public_bytes(serialization.Encoding.PEM).decode()


# --- row 1: inline key material only, all-or-nothing changes --------------------------------------------------

def file_paths(mockidp: Any) -> list[str]:
    ca_key = Path(mockidp.server.state_dir) / "ca-issuer" / "issuer.key.pem"
    assert ca_key.is_file()  # the one file a remote caller must never get
    return ["/etc/passwd", "/proc/self/environ", str(ca_key), "keys/avaya-demo-jwt-client.crt.pem", "/no/such/file.pem", "../../etc/hostname"]


def test_a_remote_caller_never_has_a_file_read(mockidp, http) -> None:
    before = world(http)
    ca_key = (Path(mockidp.server.state_dir) / "ca-issuer" / "issuer.key.pem").read_text()
    for path in file_paths(mockidp):
        for url, item in ((CLIENTS, {"client_id": "x", "certificate": path}), (APPS, {"app_id": "x-app", "certificates": [path]})):
            refused = http.post(url, json=item)
            assert refused.status_code == 400, (path, refused.text)
            text = refused.json()["error_description"]
            assert "inline" in text, text  # the same answer whether the file exists or not: no oracle either
            assert "root:" not in text and "PRIVATE KEY" not in text and ca_key[40:80] not in text
            assert world(http) == before, f"{path}: a refused change left something behind"
    assert http.get(CLIENTS + "/x").status_code == 404
    # ... and later changes are not poisoned by it
    assert http.post(CLIENTS, json={"client_id": "after", "secret": "s"}).status_code == 201


def test_inline_pem_is_taken_and_bad_pem_refused_without_trace(mockidp, http) -> None:
    pem = pem_certificate()
    added = http.post(CLIENTS, json={"client_id": "inline-jwt", "certificate": pem})
    assert added.status_code == 201, added.text
    assert http.get(CLIENTS + "/inline-jwt").json()["certificate"] == pem
    assert http.post(APPS, json={"app_id": "56565656-5656-5656-5656-565656565656", "certificates": [pem]}).status_code == 201
    before = world(http)
    garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    for url, item in ((CLIENTS, {"client_id": "bad-pem", "certificate": garbage}), (APPS, {"app_id": "bad-pem", "certificates": [garbage]})):
        refused = http.post(url, json=item)
        assert refused.status_code == 400 and "not a PEM X.509 certificate" in refused.json()["error_description"], refused.text
        assert world(http) == before


def test_a_change_no_authority_can_load_leaves_the_world_byte_for_byte(mockidp, http) -> None:
    before = world(http)
    # passes the world schema (jwks is a table), fails when the realm loads its client keys
    refused = http.post(CLIENTS, json={"client_id": "bad-jwks", "jwks": {"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]}})
    assert refused.status_code == 400, refused.text
    assert world(http) == before
    assert http.get(CLIENTS + "/bad-jwks").status_code == 404
    assert http.post(TOKEN, data=CC).status_code == 200  # the realm still serves
    # a removal that breaks a cross-reference is refused too (an APIM API names the tenant)
    tenant = "/_mockidp/world/entra/tenants/11111111-1111-1111-1111-111111111111"
    if http.get("/_mockidp/world/entra/apim").json():
        assert http.delete(tenant, headers=JSON).status_code == 400
        assert world(http) == before


def test_world_files_keep_their_paths_and_never_quote_a_file(tmp_path: Path) -> None:
    from mockidp.world import WorldError, load_world

    (tmp_path / "client.crt.pem").write_text(pem_certificate())
    realm = "[[avaya.realms]]\naccount_id = 'r'\n[[avaya.realms.clients]]\nclient_id = 'c'\ncertificate = '{}'\n"
    (tmp_path / "ok.toml").write_text(realm.format("client.crt.pem"))
    assert load_world(tmp_path / "ok.toml").avaya.realms[0].clients[0].certificate.startswith("-----BEGIN CERTIFICATE-----")
    (tmp_path / "bad.toml").write_text(realm.format("/etc/passwd"))
    with pytest.raises(WorldError) as info:
        load_world(tmp_path / "bad.toml")
    assert "not a PEM X.509 certificate" in str(info.value) and "root:" not in str(info.value)


# --- rows 2 and 3: Host, Origin, Content-Type, no CORS --------------------------------------------------------

@pytest.mark.parametrize("host", ["attacker.rebind.example", "attacker.rebind.example:8443", "localhost.evil.example", "127.0.0.1.nip.io", ""])
def test_a_rebound_host_gets_421_and_no_secret(http, host: str) -> None:
    for path in ("/_mockidp/world", "/_mockidp/", "/_mockidp/journal"):
        response = http.get(path, headers={"host": host})
        assert response.status_code == 421, (path, response.text)
        assert "demo-client-secret" not in response.text and response.json()["error"] == "invalid_request"
    assert http.post("/_mockidp/time", json={"advance": 999}, headers={"host": host}).status_code == 421


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:1234", "app.localhost:9", "127.0.0.1", "127.8.9.10:443", "[::1]:8443", "eu1.cc.avayacloud.com", "login.microsoftonline.com"])
def test_loopback_names_and_real_hostnames_are_served(http, host: str) -> None:
    assert http.get("/_mockidp/world", headers={"host": host}).status_code == 200


@pytest.mark.mockidp(world={"server": {"base_url": "https://idp.example.test", "hostnames": ["*.corp.test"]}})
def test_the_worlds_own_names_are_served(http) -> None:
    for host in ("idp.example.test", "a.corp.test:8443"):
        assert http.get("/_mockidp/world", headers={"host": host}).status_code == 200, host
    assert http.get("/_mockidp/world", headers={"host": "a.b.corp.test"}).status_code == 421  # a wildcard is one label
    # the base URL's origin is the server's own, whatever the Host the proxy in front of it sends
    assert http.post("/_mockidp/time", json={"advance": 1}, headers={"origin": "https://idp.example.test"}).status_code == 200


def test_authority_endpoints_take_any_host(http) -> None:
    assert http.post(TOKEN, data=CC, headers={"host": "attacker.rebind.example"}).status_code == 200


def test_a_state_change_must_say_it_is_json(mockidp, http) -> None:
    now = mockidp.clock.describe()["now"]
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"content-type": ctype} if ctype else {}
        for url, body in (("/_mockidp/faults", b'{"authority":"avaya","endpoint":"token","status":503}'), ("/_mockidp/time", b'{"advance":3600}'),
                          (CLIENTS, b'{"client_id":"csrf","secret":"s"}'), ("/_mockidp/ciba/subscribers", b'{"login_hint":"tel:+34655555555","decision":"deny"}'),
                          ("/_mockidp/reset", b""), ("/_mockidp/keys/avaya/rotate", b"")):
            refused = http.post(url, content=body, headers=headers)
            assert refused.status_code == 415, (url, ctype, refused.text)
            assert "application/json" in refused.json()["error_description"]
        assert http.delete("/_mockidp/journal", headers=headers).status_code == 415
    assert mockidp.faults.pending() == [] and abs(mockidp.clock.describe()["now"] - now) < 60
    assert http.get(CLIENTS + "/csrf").status_code == 404
    assert len(http.get(CERTS).json()["keys"]) == 1
    assert http.post("/_mockidp/time", json={"advance": 10}, headers={"content-type": "application/json; charset=utf-8"}).status_code == 200


def test_a_foreign_origin_is_refused_and_the_own_one_taken(mockidp, http) -> None:
    plan = {"authority": "avaya", "endpoint": "token", "status": 503}
    for origin in ("http://localhost:3000", "null", "https://attacker.example", mockidp.url.replace("127.0.0.1", "localhost")):
        refused = http.post("/_mockidp/faults", json=plan, headers={"origin": origin})
        assert refused.status_code == 403, (origin, refused.text)
        assert http.get("/_mockidp/world", headers={"origin": origin}).status_code == 403
    assert mockidp.faults.pending() == []
    assert http.post("/_mockidp/faults", json=plan, headers={"origin": mockidp.url}).status_code == 201
    assert http.post(TOKEN, data=CC).status_code == 503


def test_no_cors_preflight_is_ever_granted(mockidp, http) -> None:
    for origin in ("https://attacker.example", mockidp.url):
        preflight = http.options("/_mockidp/faults", headers={"origin": origin, "access-control-request-method": "POST",
                                                               "access-control-request-headers": "content-type"})
        assert preflight.status_code >= 400
        assert not [h for h in preflight.headers if h.lower().startswith("access-control-")], preflight.headers


def test_the_in_process_mode_still_controls(mockidp_asgi) -> None:
    assert mockidp_asgi.get("/_mockidp/world").status_code == 200
    assert mockidp_asgi.post("/_mockidp/time", json={"advance": 5}).status_code == 200
    assert mockidp_asgi.post("/_mockidp/reset", json={}).status_code == 204
    assert mockidp_asgi.get("/_mockidp/world", headers={"host": "attacker.rebind.example"}).status_code == 421


# --- the control token and --allowed-host -------------------------------------------------------------------

@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockIdpServer]:
    state = tmp_path_factory.mktemp("guarded")
    with MockIdpServer(Engine(state_dir=state), state_dir=state, tls=False, allowed_hosts=["mockidp-svc"], control_token=CONTROL_TOKEN) as server:
        yield server


def test_the_token_is_required_compared_and_turned_into_a_cookie(guarded_server: MockIdpServer) -> None:
    with httpx.Client(base_url=guarded_server.url) as client:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {CONTROL_TOKEN}"}, {"cookie": "mockidp_control=wrong"}):
            refused = client.get("/_mockidp/world", headers=headers)
            assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer"), refused.text
        bearer = {"authorization": f"Bearer {CONTROL_TOKEN}"}
        assert client.get("/_mockidp/world", headers=bearer).status_code == 200
        assert client.post("/_mockidp/time", json={"advance": 1}).status_code == 401
        assert client.post("/_mockidp/time", json={"advance": 1}, headers=bearer).status_code == 200
        # the authorities and the health check never need it
        assert client.post(TOKEN, data=CC).status_code == 200 and client.get("/healthz").status_code == 200
        # the dashboard link: a wrong token sets nothing, the right one an HttpOnly SameSite=Strict cookie
        assert client.get("/_mockidp/?token=wrong").status_code == 401
        entered = client.get(f"/_mockidp/?token={CONTROL_TOKEN}")
        assert entered.status_code == 303 and entered.headers["location"] == "/_mockidp/"
        cookie = entered.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/_mockidp" in cookie
        assert client.get("/_mockidp/").status_code == 200  # the client kept the cookie
        assert client.get("/_mockidp/world", headers={"host": "mockidp-svc:8080"}).status_code == 200  # --allowed-host
        assert client.get("/_mockidp/world", headers={"host": "other-svc"}).status_code == 421


def test_flags_and_environment_name_hosts_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    args = parser().parse_args(["serve", "--allowed-host", "mockidp", "--allowed-host", "idp.test", "--control-token", CONTROL_TOKEN])
    assert args.allowed_host == ["mockidp", "idp.test"] and args.control_token == CONTROL_TOKEN
    monkeypatch.setenv("MOCKIDP_ALLOWED_HOSTS", "a.test, b.test,")
    monkeypatch.setenv("MOCKIDP_CONTROL_TOKEN", CONTROL_TOKEN)
    assert ControlSettings.from_env(["mockidp"]) == ControlSettings(("mockidp", "a.test", "b.test"), CONTROL_TOKEN)
    with pytest.raises(ValueError, match="control token"):
        ControlSettings(token="short")


def test_the_plugin_handle_passes_the_token(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(f"""
        import pytest

        @pytest.fixture(scope="session")
        def mockidp_control_token():
            return "{CONTROL_TOKEN}"
        """)
    pytester.makepyfile("""
        import httpx

        def test_handle(mockidp):
            with mockidp.http() as client:
                assert client.post("/_mockidp/time", json={"advance": 5}).status_code == 200
                # an authority's own credentials replace it, and the token never leaves /_mockidp/
                token = client.post("/avaya/auth/realms/demo-account/protocol/openid-connect/token",
                                    data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"})
                assert token.status_code == 200
            assert "authorization" not in mockidp.requests(endpoint="token")[0]["headers"]
            session = mockidp.requests_session()
            assert session.get(mockidp.url + "/_mockidp/world").status_code == 200
            with httpx.Client(verify=mockidp.ssl_context) as bare:
                assert bare.get(mockidp.url + "/_mockidp/world").status_code == 401
        """)
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)


# --- row 4: bounded JSON, recorded errors --------------------------------------------------------------------

def test_deep_and_huge_json_is_a_400_or_413_never_a_500(mockidp, http) -> None:
    deep = b'{"claims": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    for url in ("/_mockidp/claims", "/_mockidp/faults", CLIENTS, "/_mockidp/time", "/_mockidp/tokens/avaya"):
        refused = http.post(url, content=deep, headers=JSON)
        assert refused.status_code == 400 and "deeper than" in refused.json()["error_description"], (url, refused.text)
    huge = b'{"claims": {"a": "' + b"x" * (1024 * 1024) + b'"}}'
    assert http.post("/_mockidp/claims", content=huge, headers=JSON).status_code == 413
    assert http.post("/_mockidp/time", content=b'{"advance": NaN}', headers=JSON).status_code == 400
    # values a handler would take and the next token (or the fault's sleep) would choke on
    for url, body in (("/_mockidp/time", {"advance": 1e308}), ("/_mockidp/time", {"set": -1e308}), ("/_mockidp/faults", {"delay": 1e308})):
        assert http.post(url, json=body).status_code == 400, (url, body)
    assert http.post(TOKEN, data=CC).status_code == 200
    assert mockidp.engine.server_errors == [] and mockidp.engine.claims.pending() == []


def test_an_error_escaping_a_control_handler_is_recorded(mockidp, http, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("a bug in a control handler")

    monkeypatch.setattr(mockidp.engine.clock, "describe", broken)  # stands in for any bug of ours
    response = http.get("/_mockidp/time")
    assert response.status_code == 500 and response.json()["error"] == "server_error"
    assert "Traceback" not in response.text
    recorded = http.get("/_mockidp/server-errors").json()
    assert any("a bug in a control handler" in e for e in recorded)
    mockidp.engine.server_errors.clear()  # seen: the plugin's teardown check would otherwise fail this test


# --- row 9: bounded key sets, key generation off the event loop ----------------------------------------------

def test_rotation_keeps_a_bounded_jwks(mockidp, http) -> None:
    first = http.get(CERTS).json()["keys"][0]["kid"]
    actives = [http.post("/_mockidp/keys/avaya/rotate", json={}).json()["active"] for _ in range(MAX_PUBLISHED + 3)]
    kids = [k["kid"] for k in http.get(CERTS).json()["keys"]]
    assert len(kids) == MAX_PUBLISHED and first not in kids
    assert set(kids) == set(actives[-MAX_PUBLISHED:])  # the oldest are the ones retired
    import jwt

    token = http.post(TOKEN, data=CC).json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == actives[-1]


def test_healthz_stays_fast_while_keys_are_generated(mockidp) -> None:
    done = threading.Event()
    rotations: list[float] = []

    def rotate() -> None:
        with mockidp.http() as client:
            while not done.is_set() and len(rotations) < 16:
                started = time.perf_counter()
                assert client.post("/_mockidp/keys/avaya/rotate", json={}).status_code == 200
                rotations.append(time.perf_counter() - started)
        done.set()

    workers = [threading.Thread(target=rotate) for _ in range(2)]
    for w in workers:
        w.start()
    health: list[float] = []
    with mockidp.http() as client:
        client.get("/healthz")  # the connection is open before timing starts
        while not done.is_set():
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            health.append(time.perf_counter() - started)
    for w in workers:
        w.join()
    assert len(rotations) >= 16 and health
    # While the event loop generated keys, a health check waited for the rest of a generation (the issue: up to
    # 0.8 s), most of them far longer than a quarter of one; on a worker thread none waits for it. A few may still
    # be slow on a machine shared with other test runs (the scheduler), never most.
    typical_rotation = sorted(rotations)[len(rotations) // 2]
    slow = [h for h in health if h > max(0.04, typical_rotation / 4)]
    assert len(health) >= 10 and len(slow) <= len(health) // 10, (typical_rotation, len(health), sorted(health)[-5:])


def test_serve_takes_the_token_from_the_environment_and_prints_the_dashboard_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    import subprocess
    import sys

    from test_cli import start

    monkeypatch.setenv("MOCKIDP_CONTROL_TOKEN", CONTROL_TOKEN)
    monkeypatch.setenv("MOCKIDP_ALLOWED_HOSTS", "mockidp-svc")
    proc, lines = start(["--no-tls", "--allowed-host", "idp-alias"], tmp_path)
    try:
        link = re.search(r"dashboard: (http://127\.0\.0\.1:\d+/_mockidp/\?token=\S+)", "\n".join(lines)).group(1)  # type: ignore[union-attr]
        url = link.split("/_mockidp/")[0]
        with httpx.Client(base_url=url, follow_redirects=True) as client:
            assert client.get("/_mockidp/world").status_code == 401
            assert client.get(link).status_code == 200  # followed the redirect, with the cookie
            for host in ("mockidp-svc", "idp-alias:80"):
                assert client.get("/_mockidp/world", headers={"host": host}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
    monkeypatch.setenv("MOCKIDP_CONTROL_TOKEN", "short")
    refused = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "serve", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "control token" in refused.stderr and "Traceback" not in refused.stderr
