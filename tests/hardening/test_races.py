"""Single use under races: 50 threads redeem the same code, refresh token or client assertion at the same moment,
each with its own httpx client over a real socket. Exactly one wins; the 49 others get the authority's error.
Every race runs twice: against the session's server (one event loop) and against a server with two event loops on
two threads (`MockIdpServer(threads=2)`), where handlers truly run at the same time."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from mockidp.engine import PACKAGE_KEYS
from mockidp.pytest_plugin import MockIdp

KEYS = PACKAGE_KEYS  # the development keys, package data (mockidp/data/keys)
RACERS = 50
AVAYA = "/avaya/auth/realms/demo-account/protocol/openid-connect"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(params=["one event loop", "two event loops"])
def mockidp(request: pytest.FixtureRequest, mockidp: Any) -> Any:
    if request.param == "one event loop":
        yield mockidp
        return
    server = request.getfixturevalue("two_loop_server")
    server.engine.reset()
    yield MockIdp(server)
    assert not server.engine.server_errors, server.engine.server_errors[0]
    assert all(server.requests_per_loop), f"one loop served nothing: {server.requests_per_loop}"


def race(mockidp: Any, method: str, url: str, **kwargs: Any) -> list[httpx.Response]:
    """RACERS clients connect first, wait at a barrier, then send the same request together."""
    clients = [mockidp.http(timeout=30) for _ in range(RACERS)]
    for c in clients:
        c.get("/healthz")  # open the connection (TLS handshake) before the start line
    barrier = threading.Barrier(RACERS)
    out: list[httpx.Response | BaseException] = [None] * RACERS  # type: ignore[list-item]

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = clients[i].request(method, url, **kwargs)
        except BaseException as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in clients:
        c.close()
    errors = [r for r in out if not isinstance(r, httpx.Response)]
    assert not errors, errors[:3]
    return out  # type: ignore[return-value]


def one_winner(responses: list[httpx.Response], loser_status: int, loser_error: str, error_of: Callable[[dict[str, Any]], str] = lambda b: b.get("error", "")) -> None:
    outcome = Counter((r.status_code, error_of(r.json()) if r.status_code != 200 else "") for r in responses)
    assert outcome == Counter({(200, ""): 1, (loser_status, loser_error): RACERS - 1}), outcome


def test_authorization_code_is_redeemed_once(mockidp: Any) -> None:
    with mockidp.http() as http:
        resp = http.post(AVAYA + "/auth", data={"response_type": "code", "client_id": "demo-spa", "redirect_uri": "http://127.0.0.1/cb",
                                                 "scope": "openid", "state": "s", "demo_user": "demo-agent"})
    assert resp.status_code == 302, resp.text
    code = parse_qs(urlsplit(resp.headers["location"]).query)["code"][0]
    responses = race(mockidp, "POST", AVAYA + "/token", data={"grant_type": "authorization_code", "client_id": "demo-spa", "code": code, "redirect_uri": "http://127.0.0.1/cb"})
    one_winner(responses, 400, "invalid_grant")


def test_refresh_token_is_redeemed_once(mockidp: Any) -> None:
    creds = {"client_id": "demo-client", "client_secret": "demo-client-secret"}

    def revoke(world: Any) -> None:  # single use is the realm's revoke_refresh_token (Keycloak's default: off)
        world.avaya.realms[0].revoke_refresh_token = True

    mockidp.engine.change_world("avaya", revoke)
    with mockidp.http() as http:
        refresh = http.post(AVAYA + "/token", data={"grant_type": "client_credentials", **creds}).json()["refresh_token"]
    responses = race(mockidp, "POST", AVAYA + "/token", data={"grant_type": "refresh_token", "refresh_token": refresh, **creds})
    one_winner(responses, 400, "invalid_grant")


def assertion(key_name: str, client_id: str, audience: str, now: float, header: dict[str, Any] | None = None) -> str:
    key = RSAKey.import_key((KEYS / f"{key_name}.key.pem").read_bytes())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": int(now), "nbf": int(now), "exp": int(now) + 60, "jti": str(uuid.uuid4())}
    return jwt.encode({"alg": "RS256", "typ": "JWT", **(header or {})}, claims, key, algorithms=["RS256"])


def test_avaya_client_assertion_jti_is_used_once(mockidp: Any) -> None:
    token = assertion("avaya-demo-jwt-client", "demo-jwt-client", mockidp.url + AVAYA + "/token", mockidp.engine.clock.now())
    responses = race(mockidp, "POST", AVAYA + "/token", data={"grant_type": "client_credentials", "client_id": "demo-jwt-client", "client_assertion_type": JWT_BEARER, "client_assertion": token})
    one_winner(responses, 401, "unauthorized_client")


def test_entra_client_assertion_jti_is_used_once(mockidp: Any) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from mockidp.keys import thumbprints

    tenant = "11111111-1111-1111-1111-111111111111"
    url = f"/entra/{tenant}/oauth2/v2.0/token"
    cert = x509.load_pem_x509_certificate((KEYS / "entra-demo-cert-app.crt.pem").read_bytes())
    x5t, _ = thumbprints(cert.public_bytes(serialization.Encoding.DER))
    app = "33333333-3333-3333-3333-333333333333"
    token = assertion("entra-demo-cert-app", app, mockidp.url + url, mockidp.engine.clock.now(), {"x5t": x5t})
    responses = race(mockidp, "POST", url, data={"grant_type": "client_credentials", "client_id": app, "scope": "api://fivedegrees-demo-api/.default",
                                                   "client_assertion_type": JWT_BEARER, "client_assertion": token})
    one_winner(responses, 401, "invalid_client")


def test_ciba_auth_req_id_is_redeemed_once(mockidp: Any) -> None:
    creds = ("demo-app-id", "demo-app-secret")
    with mockidp.http() as http:
        started = http.post("/opengateway/apigateway/bc-authorize", auth=creds, data={
            "login_hint": "ipport:80.90.34.2:16790", "purpose": "dpv:FraudPreventionAndDetection#sim-swap", "scope": "openid dpv:FraudPreventionAndDetection#sim-swap"})
    assert started.status_code == 200, f"bc-authorize with the default world's app did not start a request: {started.text[:200]}"
    auth_req_id = started.json()["auth_req_id"]
    responses = race(mockidp, "POST", "/opengateway/apigateway/token", auth=creds, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": auth_req_id})
    winners = [r for r in responses if r.status_code == 200]
    losers = Counter((r.status_code, r.json().get("error")) for r in responses if r.status_code != 200)
    assert len(winners) == 1, (len(winners), losers)
    assert len(losers) == 1 and next(iter(losers))[0] == 400, losers
