"""POST /opengateway/apigateway/token with the CIBA grant: every state of the consent state machine, the token
errors, the runtime controls, Telefonica's 403 variant, races, and many requests kept apart."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

SIM_SWAP = "dpv:FraudPreventionAndDetection#sim-swap"
CIBA = "urn:openid:params:grant-type:ciba"
AUTH = ("demo-app-id", "demo-app-secret")


class Gateway:
    def __init__(self, mockidp: Any, http: httpx.Client) -> None:
        self.mockidp, self.http = mockidp, http
        self.base = mockidp.base("opengateway") + "/apigateway"
        self.og = mockidp.engine.authorities["opengateway"]

    def authorize(self, login_hint: str = "tel:+34655555555", auth: Any = AUTH, purpose: str = SIM_SWAP) -> str:
        resp = self.http.post(self.base + "/bc-authorize", auth=auth, data={"login_hint": login_hint, "purpose": purpose})
        assert resp.status_code == 200, resp.text
        return str(resp.json()["auth_req_id"])

    def token(self, auth_req_id: str, auth: Any = AUTH, http: httpx.Client | None = None) -> httpx.Response:
        return (http or self.http).post(self.base + "/token", auth=auth, data={"grant_type": CIBA, "auth_req_id": auth_req_id})

    def outcome(self, auth_req_id: str, auth: Any = AUTH) -> tuple[int, str]:
        resp = self.token(auth_req_id, auth)
        body = resp.json()
        return resp.status_code, body.get("error", "token")


@pytest.fixture
def gw(mockidp, http) -> Gateway:
    return Gateway(mockidp, http)


def test_pending_then_granted_on_the_second_poll_then_redeemed(gw: Gateway) -> None:
    rid = gw.authorize()
    assert gw.outcome(rid) == (400, "authorization_pending")
    gw.mockidp.clock.advance(2)
    resp = gw.token(rid)
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    assert set(resp.json()) >= {"access_token", "token_type", "expires_in"}
    gw.mockidp.clock.advance(2)
    resp = gw.token(rid)
    assert (resp.status_code, resp.json()["error"]) == (400, "invalid_grant") and "redeemed" in resp.json()["error_description"]


def test_slow_down_adds_five_seconds_per_request(gw: Gateway) -> None:
    gw.og.decide_future("tel:+34655555555", "never")
    rid = gw.authorize()
    assert gw.outcome(rid) == (400, "authorization_pending")
    gw.mockidp.clock.advance(1.9)
    resp = gw.token(rid)
    assert resp.json()["error"] == "slow_down" and "7 s" in resp.json()["error_description"]
    gw.mockidp.clock.advance(6.9)
    assert gw.outcome(rid) == (400, "slow_down")  # 12 s now
    gw.mockidp.clock.advance(12)
    assert gw.outcome(rid) == (400, "authorization_pending")
    assert gw.og.requests()[0]["interval"] == 12


def test_expired_token_after_expires_in_and_long_after(gw: Gateway) -> None:
    gw.og.decide_future("tel:+34655555555", "never")
    rid = gw.authorize()
    gw.mockidp.clock.advance(119)
    assert gw.outcome(rid) == (400, "authorization_pending")
    gw.mockidp.clock.advance(1)
    assert gw.outcome(rid) == (400, "expired_token")
    gw.mockidp.clock.advance(3000)
    assert gw.outcome(rid) == (400, "expired_token")


def test_a_granted_request_not_redeemed_in_time_expires(gw: Gateway) -> None:
    rid = gw.authorize("ipport:80.90.34.2:16790")
    gw.mockidp.clock.advance(120)
    assert gw.outcome(rid) == (400, "expired_token")


def test_denied_is_access_denied_on_every_poll(gw: Gateway) -> None:
    rid = gw.authorize("tel:+34666666666")
    assert gw.outcome(rid) == (400, "access_denied")
    gw.mockidp.clock.advance(2)
    assert gw.outcome(rid) == (400, "access_denied")


def test_invalid_grant_unknown_and_other_clients(mockidp, gw: Gateway) -> None:
    assert gw.outcome("no-such-id") == (400, "invalid_grant")
    rid = gw.authorize()
    other = ("your_app_client_id", "your_app_client_secret")
    resp = gw.token(rid, auth=other)
    assert resp.json()["error"] == "invalid_grant" and "another client" in resp.json()["error_description"]
    assert gw.outcome(rid) == (400, "authorization_pending")  # the other client's attempt did not count as a poll


@pytest.mark.parametrize(("data", "status", "error"), [
    ({"auth_req_id": "x"}, 400, "invalid_request"),
    ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
    ({"grant_type": CIBA}, 400, "invalid_request"),
])
def test_token_request_errors(gw: Gateway, data: dict[str, str], status: int, error: str) -> None:
    resp = gw.http.post(gw.base + "/token", auth=AUTH, data=data)
    assert (resp.status_code, resp.json()["error"]) == (status, error)


def test_token_client_authentication(gw: Gateway) -> None:
    rid = gw.authorize()
    assert gw.outcome(rid, auth=("demo-app-id", "nope")) == (401, "invalid_client")
    assert gw.http.post(gw.base + "/token", data={"grant_type": CIBA, "auth_req_id": rid}).status_code == 401


def test_telefonica_variant_answers_403_while_consent_is_missing(mockidp, gw: Gateway) -> None:
    auth = ("tef-app", "tef-secret")
    mockidp.control.world_add("opengateway/apps", {"client_id": "tef-app", "secret": "tef-secret", "purposes": [SIM_SWAP], "consent_403": True})
    rid = gw.authorize(auth=auth)
    assert gw.outcome(rid, auth) == (403, "authorization_pending")
    assert gw.outcome(rid, auth) == (403, "slow_down")
    assert gw.outcome(gw.authorize("tel:+34666666666", auth=auth), auth) == (403, "access_denied")
    gw.mockidp.clock.advance(7)
    assert gw.outcome(rid, auth) == (200, "token")
    assert gw.outcome(rid, auth) == (400, "invalid_grant")


# --- runtime consent ----------------------------------------------------------------------------------------

def test_approve_deny_expire_one_request_and_list_the_pending(gw: Gateway) -> None:
    gw.og.decide_future("tel:+34655555555", "never")
    a, b, c = gw.authorize(), gw.authorize(), gw.authorize()
    pending = gw.og.pending_requests()
    assert [r["auth_req_id"] for r in pending] == [a, b, c]
    assert {(r["client_id"], r["login_hint"], r["purpose"], r["state"]) for r in pending} == {("demo-app-id", "tel:+34655555555", SIM_SWAP, "pending")}
    gw.og.approve(a)
    gw.og.deny(b)
    gw.og.expire(c)
    assert [gw.outcome(x)[1] for x in (a, b, c)] == ["token", "access_denied", "expired_token"]
    assert gw.og.pending_requests() == []
    with pytest.raises(ValueError, match="not pending"):
        gw.og.approve(b)
    with pytest.raises(KeyError):
        gw.og.deny("no-such-id")


@pytest.mark.parametrize(("decision", "outcome"), [("grant", "token"), ("deny", "access_denied"), ("expire", "expired_token"), ("never", "authorization_pending")])
def test_every_future_request_of_a_subscriber(gw: Gateway, decision: str, outcome: str) -> None:
    before = gw.authorize("tel:+34666666666")  # world rule: deny
    gw.og.decide_future("phone_number:+34666666666", decision)  # any hint naming the subscriber
    assert gw.outcome(gw.authorize("tel:+34666666666"))[1] == outcome
    assert gw.outcome(before)[1] == "access_denied"  # only future requests
    gw.og.decide_future("tel:+34666666666", None)
    gw.mockidp.clock.advance(2)
    assert gw.outcome(gw.authorize("tel:+34666666666"))[1] == "access_denied"


def test_decide_future_refuses_bad_input(gw: Gateway) -> None:
    with pytest.raises(KeyError):
        gw.og.decide_future("tel:+34699999999", "grant")
    with pytest.raises(ValueError):
        gw.og.decide_future("tel:oops", "grant")
    with pytest.raises(ValueError):
        gw.og.decide_future("tel:+34655555555", "maybe")  # type: ignore[arg-type]


def test_world_rules_in_seconds_and_per_purpose(mockidp, gw: Gateway) -> None:
    mockidp.control.world_add("opengateway/apps", {"client_id": "demo-app-id", "secret": "demo-app-secret",
                                                   "purposes": [SIM_SWAP, "dpv:RequestedServiceProvision#qod"]})
    mockidp.control.world_add("opengateway/subscribers", {
        "login_hint": "tel:+34633333333", "consent": "grant", "after_seconds": 10,
        "rules": [{"purpose": "dpv:RequestedServiceProvision#*", "consent": "deny", "after_polls": 2}]})
    swap, qod = gw.authorize("tel:+34633333333"), gw.authorize("tel:+34633333333", purpose="dpv:RequestedServiceProvision#qod")
    assert gw.outcome(swap)[1] == "authorization_pending" and gw.outcome(qod)[1] == "authorization_pending"
    gw.mockidp.clock.advance(10)
    assert gw.outcome(swap)[1] == "token" and gw.outcome(qod)[1] == "access_denied"


def test_a_reset_forgets_requests_and_runtime_rules(mockidp, gw: Gateway) -> None:
    gw.og.decide_future("tel:+34666666666", "grant")
    rid = gw.authorize()
    mockidp.engine.reset()
    assert gw.outcome(rid) == (400, "invalid_grant")
    assert gw.outcome(gw.authorize("tel:+34666666666"))[1] == "access_denied"


# --- concurrency ----------------------------------------------------------------------------------------------

def test_fifty_racing_polls_on_one_granted_request_have_exactly_one_winner(mockidp, gw: Gateway) -> None:
    rid = gw.authorize("ipport:80.90.34.2:16790")  # granted at once
    with ThreadPoolExecutor(max_workers=50) as pool, mockidp.http() as other:
        results = list(pool.map(lambda i: gw.token(rid, http=other if i % 2 else None).status_code, range(50)))
    assert results.count(200) == 1
    assert sorted(set(results)) == [200, 400]
    issued = [e for e in mockidp.journal.entries(endpoint="token") if e["status"] == 200]
    assert len(issued) == 1


def test_many_requests_for_many_subscribers_keep_their_states_apart(mockidp, gw: Gateway) -> None:
    plan = {"grant": "token", "deny": "access_denied", "expire": "expired_token", "never": "authorization_pending"}
    hints = {}
    for i, decision in enumerate(list(plan) * 5):
        hint = f"tel:+3464{i:07d}"
        mockidp.control.world_add("opengateway/subscribers", {"login_hint": hint})
        gw.og.decide_future(hint, decision)
        hints[hint] = decision
    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = dict(zip(hints, pool.map(lambda h: [gw.authorize(h) for _ in range(3)], hints), strict=False))
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = dict(zip(ids, pool.map(lambda h: [gw.outcome(r)[1] for r in ids[h]], ids), strict=False))
    for hint, decision in hints.items():
        assert outcomes[hint] == [plan[decision]] * 3, hint
    assert len({r for rs in ids.values() for r in rs}) == 60
    assert {r["login_hint"] for r in gw.og.pending_requests()} == {h for h, d in hints.items() if d == "never"}


def test_the_dashboard_lists_pending_requests(gw: Gateway) -> None:
    gw.og.decide_future("tel:+34655555555", "never")
    rid = gw.authorize()
    html = gw.http.get("/_mockidp/dashboard/live").text
    assert f'data-auth-req-id="{rid}"' in html and "tel:+34655555555" in html
    gw.og.approve(rid)
    assert rid not in gw.http.get("/_mockidp/dashboard/live").text
