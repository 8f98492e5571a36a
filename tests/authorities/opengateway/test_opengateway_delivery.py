"""CIBA ping and push delivery: pytest-httpserver plays the client's notification endpoint (plain HTTP on loopback,
which the world accepts for tests only)."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug import Response

from mockidp.control.surface import ControlError
from mockidp.tokens import verify

SIM_SWAP = "dpv:FraudPreventionAndDetection#sim-swap"
CIBA = "urn:openid:params:grant-type:ciba"


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Delivery is asynchronous: wait (briefly, by polling the condition) until it has happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.01)
    raise AssertionError("the condition never became true")


@pytest.fixture
def register(mockidp, httpserver):
    def add(mode: str, client_id: str = "notified-app", path: str = "/notify", **extra: Any) -> str:
        mockidp.control.world_add("opengateway/apps", {
            "client_id": client_id, "secret": "notified-secret", "purposes": [SIM_SWAP], "delivery_mode": mode,
            "notification_endpoint": httpserver.url_for(path), **extra})
        return client_id
    return add


def authorize(http, mockidp, login_hint: str, client_id: str = "notified-app", token: str = "cnt-123") -> str:
    resp = http.post(mockidp.base("opengateway") + "/apigateway/bc-authorize", auth=(client_id, "notified-secret"),
                     data={"login_hint": login_hint, "purpose": SIM_SWAP, "client_notification_token": token})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["auth_req_id"])


def token_request(http, mockidp, auth_req_id: str, client_id: str = "notified-app"):
    return http.post(mockidp.base("opengateway") + "/apigateway/token", auth=(client_id, "notified-secret"),
                     data={"grant_type": CIBA, "auth_req_id": auth_req_id})


def test_ping_posts_the_auth_req_id_with_the_notification_token_then_the_client_redeems(mockidp, http, httpserver, register) -> None:
    httpserver.expect_request("/notify", method="POST").respond_with_data("", status=204)
    register("ping")
    auth_req_id = authorize(http, mockidp, "ipport:80.90.34.2:16790")  # consents at once
    eventually(lambda: httpserver.log)
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == "Bearer cnt-123"
    assert request.headers["Content-Type"] == "application/json"
    assert request.get_json() == {"auth_req_id": auth_req_id}
    resp = token_request(http, mockidp, auth_req_id)
    assert resp.status_code == 200 and resp.json()["access_token"]
    entries = eventually(lambda: mockidp.journal.entries(endpoint="ping-notification"))  # journalled once answered
    assert [(e["status"], e["error"]) for e in entries] == [(204, None)]


def test_ping_waits_for_a_runtime_approval(mockidp, http, httpserver, register) -> None:
    httpserver.expect_request("/notify", method="POST").respond_with_data("", status=204)
    register("ping")
    og = mockidp.engine.authorities["opengateway"]
    og.decide_future("tel:+34655555555", "never")
    auth_req_id = authorize(http, mockidp, "tel:+34655555555")
    assert token_request(http, mockidp, auth_req_id).json()["error"] == "authorization_pending"
    assert not httpserver.log
    og.approve(auth_req_id)
    eventually(lambda: httpserver.log)
    assert token_request(http, mockidp, auth_req_id).status_code == 200


def test_ping_follows_a_world_rule_in_seconds_when_the_clock_moves(mockidp, http, httpserver, register) -> None:
    httpserver.expect_request("/notify", method="POST").respond_with_data("", status=204)
    register("ping")
    mockidp.control.world_add("opengateway/subscribers", {"login_hint": "tel:+34611111111", "after_seconds": 30})
    auth_req_id = authorize(http, mockidp, "tel:+34611111111")
    assert token_request(http, mockidp, auth_req_id).json()["error"] == "authorization_pending"
    mockidp.clock.advance(30)
    eventually(lambda: httpserver.log)
    assert token_request(http, mockidp, auth_req_id).status_code == 200


def test_ping_on_denial_then_the_token_endpoint_says_access_denied(mockidp, http, httpserver, register) -> None:
    httpserver.expect_request("/notify", method="POST").respond_with_data("", status=204)
    register("ping")
    auth_req_id = authorize(http, mockidp, "tel:+34666666666")
    eventually(lambda: httpserver.log)
    assert token_request(http, mockidp, auth_req_id).json()["error"] == "access_denied"


def test_push_delivers_the_tokens_with_auth_req_id_and_at_hash_in_the_id_token(mockidp, http, httpserver, register) -> None:
    httpserver.expect_request("/notify", method="POST").respond_with_data("", status=204)
    register("push")
    auth_req_id = authorize(http, mockidp, "tel:+34655555555", token="push-token")
    eventually(lambda: httpserver.log)
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == "Bearer push-token"
    body = request.get_json()
    assert body["auth_req_id"] == auth_req_id and body["token_type"] == "Bearer" and body["expires_in"] == 3600
    keyset = mockidp.engine.authorities["opengateway"].issuers()[0].keyset
    _, id_claims = verify(body["id_token"], keyset, now=mockidp.clock.now())
    assert id_claims["urn:openid:params:jwt:claim:auth_req_id"] == auth_req_id
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert id_claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert id_claims["aud"] == "notified-app"
    # The pushed token is the API's key, and a push client does not poll.
    check = http.post(mockidp.base("opengateway") + "/sim-swap/v0/check", json={}, headers={"authorization": "Bearer " + body["access_token"]})
    assert check.json() == {"swapped": False}
    resp = token_request(http, mockidp, auth_req_id)
    assert (resp.status_code, resp.json()["error"]) == (400, "unauthorized_client")
    assert eventually(lambda: mockidp.journal.entries(endpoint="push-notification"))[0]["issued"]


@pytest.mark.parametrize(("login_hint", "advance", "error"), [("tel:+34666666666", 0, "access_denied"), ("ipport:80.90.34.2", None, "expired_token")])
def test_push_errors_carry_the_auth_req_id(mockidp, http, httpserver, register, login_hint: str, advance: int | None, error: str) -> None:
    httpserver.expect_request("/notify", method="POST").respond_with_data("", status=204)
    register("push")
    if advance is None:
        mockidp.engine.authorities["opengateway"].decide_future(login_hint, "never")
    auth_req_id = authorize(http, mockidp, login_hint)
    if advance is None:
        mockidp.clock.advance(120)
    eventually(lambda: httpserver.log)
    body = httpserver.log[0][0].get_json()
    assert body["error"] == error and body["auth_req_id"] == auth_req_id and body["error_description"]


def test_a_failing_notification_endpoint_is_retried_a_bounded_number_of_times_and_journalled(mockidp, http, httpserver, register) -> None:
    httpserver.expect_request("/notify", method="POST").respond_with_response(Response("down", status=503))
    register("ping")
    auth_req_id = authorize(http, mockidp, "ipport:80.90.34.2:16790")
    entries = eventually(lambda: (e := mockidp.journal.entries(endpoint="ping-notification")) and len(e) == 3 and e)
    assert [(e["status"], e["error"], e["params"]["attempt"]) for e in entries] == [(503, "notification_failed", str(n)) for n in (1, 2, 3)]
    assert all(e["params"]["auth_req_id"] == auth_req_id for e in entries)
    time.sleep(0.5)
    assert len(httpserver.log) == 3  # and no more
    assert token_request(http, mockidp, auth_req_id).status_code == 200  # the client can still poll for it


def test_an_unreachable_notification_endpoint_is_journalled_without_status(mockidp, http) -> None:
    mockidp.control.world_add("opengateway/apps", {"client_id": "notified-app", "secret": "notified-secret", "purposes": [SIM_SWAP],
                                                   "delivery_mode": "ping", "notification_endpoint": "http://127.0.0.1:9/closed"})
    world = mockidp.engine.changing_world()
    world.opengateway.notification_attempts = 2
    mockidp.engine.world_changed()
    authorize(http, mockidp, "ipport:80.90.34.2:16790")
    entries = eventually(lambda: (e := mockidp.journal.entries(endpoint="ping-notification")) and len(e) == 2 and e)
    assert [e["status"] for e in entries] == [0, 0] and "notification failed" in entries[0]["params"]["detail"]


def test_ping_and_push_require_a_client_notification_token(mockidp, http, register) -> None:
    register("ping")
    url = mockidp.base("opengateway") + "/apigateway/bc-authorize"
    for data in ({}, {"client_notification_token": "has space"}, {"client_notification_token": "x" * 1025}):
        resp = http.post(url, auth=("notified-app", "notified-secret"), data={"login_hint": "tel:+34655555555", "purpose": SIM_SWAP, **data})
        assert (resp.status_code, resp.json()["error"]) == (400, "invalid_request"), data
        assert "client_notification_token" in resp.json()["error_description"]


@pytest.mark.parametrize("endpoint", ["http://client.example.com/notify", "ftp://127.0.0.1/notify", "not a url"])
def test_notification_endpoints_must_be_https_except_on_loopback(mockidp, endpoint: str) -> None:
    with pytest.raises(ControlError, match="notification_endpoint"):
        mockidp.control.world_add("opengateway/apps", {"client_id": "x", "secret": "y", "delivery_mode": "ping", "notification_endpoint": endpoint})
    mockidp.control.world_add("opengateway/apps", {"client_id": "x", "secret": "y", "delivery_mode": "ping", "notification_endpoint": "https://client.example.com/n"})
