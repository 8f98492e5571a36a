"""The server over real sockets: HTTPS with the local CA, routing, host impersonation, journal, faults, errors."""

from __future__ import annotations

import ssl
import time

import httpx
import pytest

from mockidp.faults import Fault

TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
CC = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}


def test_healthz_over_https_with_the_printed_ca(mockidp) -> None:
    assert mockidp.url.startswith("https://127.0.0.1:")
    response = httpx.get(mockidp.url + "/healthz", verify=ssl.create_default_context(cafile=mockidp.ca_bundle))
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    with pytest.raises(httpx.ConnectError):  # a client that does not trust the CA refuses the server
        httpx.get(mockidp.url + "/healthz", verify=True)


def test_certificate_covers_real_hostnames(mockidp) -> None:
    from cryptography import x509

    pem = (mockidp.server.tls_files.server_pem).read_bytes()
    cert = x509.load_pem_x509_certificates(pem)[0]
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(names.get_values_for_type(x509.DNSName))
    ips = {str(i) for i in names.get_values_for_type(x509.IPAddress)}
    assert {"localhost", "login.microsoftonline.com", "login.microsoft.com", "api.lumen.com", "sandbox.opengateway.telefonica.com", "*.cc.avayacloud.com", "*.b2clogin.com"} <= dns
    assert {"127.0.0.1", "::1"} <= ips


def test_unknown_path_is_json_404(http) -> None:
    response = http.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert http.delete("/healthz").status_code == 405


def test_world_endpoint_lists_authorities_and_secrets(http) -> None:
    world = http.get("/_mockidp/world").json()
    assert set(world["authorities"]) == {"avaya", "entra", "b2c", "lumen", "pfw", "opengateway", "workload"}
    assert world["avaya"]["realms"][0]["clients"][0]["secret"] == "demo-client-secret"
    issuers = [i["issuer"] for a in world["authorities"].values() for i in a["issuers"]]
    assert len(issuers) == len(set(issuers))


@pytest.mark.parametrize(
    ("host", "path", "issuer"),
    [
        ("login.microsoftonline.com", "/11111111-1111-1111-1111-111111111111/v2.0/.well-known/openid-configuration", "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0"),
        ("eu1.cc.avayacloud.com", "/auth/realms/demo-account/.well-known/openid-configuration", "https://eu1.cc.avayacloud.com/auth/realms/demo-account"),
        ("sandbox.opengateway.telefonica.com", "/apigateway/.well-known/openid-configuration", "https://sandbox.opengateway.telefonica.com/apigateway"),
    ],
)
def test_real_hostnames_are_served_at_the_root(http, host: str, path: str, issuer: str) -> None:
    response = http.get(path, headers={"host": host})
    assert response.status_code == 200, response.text
    assert response.json()["issuer"] == issuer


@pytest.mark.parametrize("host", ["login.windows.net", "login.microsoft.com"])
def test_entras_other_hosts_serve_its_tenants_with_their_own_endpoints(http, host: str) -> None:
    """Entra's aliases (its instance discovery lists them): a client configured with one keeps talking to it."""
    response = http.get("/11111111-1111-1111-1111-111111111111/v2.0/.well-known/openid-configuration", headers={"host": host})
    assert response.status_code == 200, response.text
    assert response.json()["token_endpoint"] == f"https://{host}/11111111-1111-1111-1111-111111111111/oauth2/v2.0/token"


def test_issuer_follows_forwarded_headers(http) -> None:
    response = http.get("/avaya/auth/realms/demo-account/.well-known/openid-configuration", headers={"x-forwarded-proto": "https", "x-forwarded-host": "idp.example.test:9443"})
    assert response.json()["issuer"] == "https://idp.example.test:9443/avaya/auth/realms/demo-account"


def test_journal_records_requests_with_secrets_masked(mockidp, http) -> None:
    assert http.post(TOKEN, data=CC).status_code == 200
    assert http.post(TOKEN, data={**CC, "client_secret": "wrong"}).status_code == 401
    entries = mockidp.journal.entries(authority="avaya", endpoint="token")
    assert [(e["status"], e["error"], e["client_id"]) for e in entries] == [(200, None, "demo-client"), (401, "unauthorized_client", "demo-client")]
    assert entries[0]["params"]["client_secret"] == "***"
    assert "demo-client-secret" not in str(entries)
    assert entries[0]["issued"]  # the tokens it issued, for the dashboard
    over_http = http.get("/_mockidp/journal", params={"endpoint": "token"}).json()
    assert len(over_http) == 2


def test_journal_is_bounded(mockidp, http) -> None:
    journal = mockidp.journal
    old, journal.maxlen = journal.maxlen, 3
    try:
        for _ in range(5):
            http.get("/healthz")
            http.get("/avaya/auth/realms/demo-account")
        assert len(journal.entries()) == 3
    finally:
        journal.maxlen = old


def test_fault_status_body_then_normal(mockidp, http) -> None:
    mockidp.faults.add(Fault(authority="avaya", endpoint="token", status=503, body={"oops": True}, times=2, retry_after=7))
    first, second, third = (http.post(TOKEN, data=CC) for _ in range(3))
    assert (first.status_code, first.json(), first.headers["retry-after"]) == (503, {"oops": True}, "7")
    assert second.status_code == 503
    assert third.status_code == 200


def test_fault_named_error_in_authority_shape_and_match(mockidp, http) -> None:
    mockidp.faults.add(Fault(authority="avaya", endpoint="token", error="invalid_grant", match={"client_id": "other"}))
    assert http.post(TOKEN, data=CC).status_code == 200  # does not match demo-client
    response = http.post(TOKEN, data={**CC, "client_id": "other"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    assert mockidp.faults.pending() == []


def test_fault_delay_and_malformed(mockidp, http) -> None:
    mockidp.faults.add(Fault(endpoint="token", delay=0.3, malformed=True))
    started = time.perf_counter()
    response = http.post(TOKEN, data=CC)
    assert time.perf_counter() - started >= 0.3
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_fault_dropped_connection(mockidp, http) -> None:
    mockidp.faults.add(Fault(authority="avaya", endpoint="token", drop=True))
    with pytest.raises(httpx.HTTPError):
        http.post(TOKEN, data=CC)
    assert http.post(TOKEN, data=CC).status_code == 200  # the next request is served normally
    dropped, served = mockidp.journal.entries(endpoint="token")
    assert (dropped["status"], dropped["error"], dropped["fault"]) == (0, "connection_dropped", "fault-1")
    assert served["status"] == 200


def test_faults_over_http_control(mockidp, http) -> None:
    created = http.post("/_mockidp/faults", json={"authority": "avaya", "endpoint": "token", "status": 429, "retry_after": 1})
    assert created.status_code == 201
    assert [f["id"] for f in http.get("/_mockidp/faults").json()] == [created.json()["id"]]
    assert http.post(TOKEN, data=CC).status_code == 429
    assert http.post("/_mockidp/faults", json={"bogus": 1}).status_code == 400
    assert http.post("/_mockidp/faults", json={"authority": "nope"}).status_code == 404


def test_unhandled_exception_is_500_in_authority_shape_and_recorded(mockidp, http, monkeypatch) -> None:
    avaya = mockidp.authority("avaya")

    def boom(*args, **kwargs):
        raise RuntimeError("planned failure")

    monkeypatch.setattr(avaya, "grant_client_credentials", boom)
    response = http.post(TOKEN, data=CC)
    assert response.status_code == 500
    assert response.json() == {"error": "unknown_error", "error_description": "For more on this error consult the server log."}
    assert "Traceback" not in response.text
    assert any("planned failure" in e for e in mockidp.engine.server_errors)
    mockidp.engine.server_errors.clear()  # this test planned it; the fixture fails any test that did not


def test_oversized_and_non_utf8_bodies(http) -> None:
    big = http.post(TOKEN, content=b"a=" + b"x" * (1024 * 1024 + 10), headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413
    assert big.json()["error"] == "invalid_request"
    bad = http.post(TOKEN, content=b"grant_type=\xff\xfe", headers={"content-type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"


def test_time_control_over_http(mockidp, http) -> None:
    before = mockidp.clock.now()
    moved = http.post("/_mockidp/time", json={"advance": 1000}).json()
    assert moved["now"] >= before + 1000
    assert http.post("/_mockidp/time", json={"nonsense": 1}).status_code == 400
    assert http.post("/_mockidp/reset", json={}).status_code == 204
    assert mockidp.clock.now() < before + 100


def test_reset_restores_rotated_keys_and_state(mockidp, http) -> None:
    keyset = mockidp.authority("avaya").realms["demo-account"].keyset
    kid = keyset.active.kid
    keyset.rotate()
    assert len(http.get("/avaya/auth/realms/demo-account/protocol/openid-connect/certs").json()["keys"]) == 2
    mockidp.reset()
    certs = http.get("/avaya/auth/realms/demo-account/protocol/openid-connect/certs").json()["keys"]
    assert [k["kid"] for k in certs] == [kid]


@pytest.mark.mockidp(world={"server": {"base_url": "https://idp.example.test"}, "avaya": {"realms": [{"account_id": "fixed"}]}})
def test_world_can_fix_the_issuer_base(http) -> None:
    discovery = http.get("/avaya/auth/realms/fixed/.well-known/openid-configuration", headers={"x-forwarded-host": "ignored.example"}).json()
    assert discovery["issuer"] == "https://idp.example.test/avaya/auth/realms/fixed"
    assert discovery["token_endpoint"] == "https://idp.example.test/avaya/auth/realms/fixed/protocol/openid-connect/token"


def _raw_tls(mockidp):
    import socket

    context = ssl.create_default_context(cafile=mockidp.ca_bundle)
    raw = socket.create_connection(("127.0.0.1", mockidp.server.port), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _token_request(connection: str = "keep-alive") -> bytes:
    body = "&".join(f"{k}={v}" for k, v in CC.items()).encode()
    head = (f"POST {TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nConnection: {connection}\r\n\r\n")
    return head.encode() + body


def test_a_response_leaves_as_one_tls_record(mockidp) -> None:
    # SSL_read never returns more than one record: a head and a body written apart (uvicorn's way) come back from
    # two reads. One read holding the whole response shows they went out together (server.CorkedTransport).
    with _raw_tls(mockidp) as tls:
        tls.sendall(_token_request())
        first = tls.recv(65536)
    head, _, body = first.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
    assert len(body) == length and b'"access_token"' in body


def test_pipelined_requests_get_their_responses_in_order_and_close_is_honoured(mockidp) -> None:
    with _raw_tls(mockidp) as tls:
        tls.sendall(_token_request() + b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + _token_request("close"))
        received = b""
        while chunk := tls.recv(65536):  # the server closes after the third response: the loop ends
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert received.count(b'"access_token"') == 2 and b'{"status":"ok"}' in received
    assert received.index(b'{"status":"ok"}') < received.rindex(b'"access_token"')


def test_stop_does_not_wait_for_a_request_held_by_a_planned_delay(tmp_path) -> None:
    """A fault's delay (up to 60 s) must not hold a stopping server: the test session's end waits for it."""
    import threading

    from mockidp.engine import Engine
    from mockidp.server import STOP_GRACE, MockIdpServer

    server = MockIdpServer(Engine(state_dir=tmp_path), state_dir=tmp_path, tls=False).start()
    server.engine.faults.add(Fault(endpoint="token", delay=30))
    outcome: list[object] = []

    def held() -> None:
        try:
            outcome.append(httpx.post(server.url + TOKEN, data=CC, timeout=40).status_code)
        except httpx.HTTPError as exc:
            outcome.append(type(exc))

    client = threading.Thread(target=held)
    client.start()
    deadline = time.monotonic() + 10
    while sum(server.requests_per_loop) == 0 and time.monotonic() < deadline:  # the request is in, held
        time.sleep(0.02)
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < STOP_GRACE + 3
    client.join(5)
    assert outcome and outcome[0] != 200  # the held request was cut, not answered after the stop
