"""A small, spec-faithful CIBA polling client (OpenID Connect CIBA Core 1.0 §7, §10.1, §11) against the Open Gateway
emulation: it waits `interval` seconds between token requests (5 s when the server names none), adds 5 s for this
and every later poll after `slow_down`, keeps polling on `authorization_pending` and stops on anything else.
No Python library the other suites use speaks CIBA, so this is the real client here. It "waits" by moving the
engine clock, so the tests take milliseconds. The seed's own curl lines run through real curl."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

SIM_SWAP = "dpv:FraudPreventionAndDetection#sim-swap"
SEED_AUTH = ("demo-app-id", "demo-app-secret")


class CibaError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status, self.error, self.body = status, body.get("error"), body


class CibaClient:
    """Backchannel authentication, then poll the token endpoint until the subscriber's answer lets it through."""

    def __init__(self, http: httpx.Client, issuer: str, auth: Any, sleep: Callable[[float], Any] = time.sleep) -> None:
        self.http, self.issuer, self.auth, self.sleep = http, issuer, auth, sleep
        self.polls: list[tuple[float, str]] = []  # (seconds waited before the poll, outcome)

    def authorize(self, login_hint: str, purpose: str | None = SIM_SWAP, **params: str) -> dict[str, Any]:
        data = {"login_hint": login_hint, **({"purpose": purpose} if purpose else {}), **params}
        resp = self.http.post(self.issuer + "/bc-authorize", data=data, auth=self.auth, headers={"accept": "application/json"})
        if resp.status_code != 200:
            raise CibaError(resp.status_code, resp.json())
        return resp.json()

    def token_request(self, auth_req_id: str) -> httpx.Response:
        return self.http.post(self.issuer + "/token", auth=self.auth, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": auth_req_id})

    def poll(self, started: dict[str, Any], first_wait: bool = True) -> dict[str, Any]:
        interval = started.get("interval", 5)  # CIBA §7.3: 5 s when absent
        waited, wait = 0.0, interval if first_wait else 0
        while True:
            if waited >= started["expires_in"]:
                raise CibaError(400, {"error": "client_gave_up"})
            self.sleep(wait)
            waited += wait
            resp = self.token_request(started["auth_req_id"])
            body = resp.json()
            self.polls.append((wait, body.get("error", "token")))
            if resp.status_code == 200:
                return body
            if body.get("error") == "slow_down":
                interval += 5  # CIBA §11: for this and all later requests
            elif body.get("error") != "authorization_pending":
                raise CibaError(resp.status_code, body)
            wait = interval

    def run(self, login_hint: str, purpose: str | None = SIM_SWAP, **params: str) -> dict[str, Any]:
        return self.poll(self.authorize(login_hint, purpose, **params))


@pytest.fixture
def client(mockidp, http) -> CibaClient:
    # Frozen: only the client's waits move time, so a slow machine cannot eat into expires_in.
    mockidp.clock.set(mockidp.clock.now(), frozen=True)
    return CibaClient(http, mockidp.base("opengateway") + "/apigateway", SEED_AUTH, sleep=mockidp.clock.advance)


def test_seed_subscriber_consents_on_the_second_poll_and_the_token_opens_sim_swap(mockidp, http, client: CibaClient) -> None:
    token = client.run("tel:+34655555555")
    assert client.polls == [(2, "authorization_pending"), (2, "token")]
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    api = mockidp.base("opengateway") + "/sim-swap/v0"
    headers = {"authorization": f"Bearer {token['access_token']}"}
    assert http.post(api + "/check", json={"phoneNumber": "+34655555555", "maxAge": 240}, headers=headers).json() == {"swapped": False}
    assert http.post(api + "/retrieve-date", json={}, headers=headers).json() == {"latestSimChange": "2024-01-01T00:00:00Z"}


def test_the_client_honours_slow_down_and_the_server_tracks_the_new_interval(mockidp, http, client: CibaClient) -> None:
    og = mockidp.engine.authorities["opengateway"]
    og.decide_future("tel:+34655555555", "never")
    started = client.authorize("tel:+34655555555")
    assert client.token_request(started["auth_req_id"]).json()["error"] == "authorization_pending"
    assert client.token_request(started["auth_req_id"]).json()["error"] == "slow_down"  # at once: faster than 2 s
    mockidp.clock.advance(2)  # the old interval is no longer enough: 2 + 5 s now
    assert client.token_request(started["auth_req_id"]).json()["error"] == "slow_down"
    assert og.requests()[0]["interval"] == 12
    client.polls.clear()
    started["interval"] = 12
    og.approve(started["auth_req_id"])
    assert "access_token" in client.poll(started)
    assert client.polls == [(12, "token")]


def test_a_client_polling_early_is_slowed_down_each_time_and_the_interval_keeps_growing(mockidp, client: CibaClient) -> None:
    client.sleep = lambda s: mockidp.clock.advance(s / 4)  # a clock that runs four times too fast: it polls early
    mockidp.engine.authorities["opengateway"].decide_future("tel:+34655555555", "never")
    started = client.authorize("tel:+34655555555")
    with pytest.raises(CibaError) as err:
        client.poll(started)
    assert err.value.error == "client_gave_up"
    outcomes = [o for _, o in client.polls]
    assert outcomes[0] == "authorization_pending" and "slow_down" in outcomes
    assert mockidp.engine.authorities["opengateway"].requests()[0]["interval"] == 2 + 5 * outcomes.count("slow_down")
    assert client.polls[-1][0] == 2 + 5 * (outcomes.count("slow_down") - 1)  # the client widened every later wait too


def test_denial_ends_the_poll_with_access_denied(client: CibaClient) -> None:
    with pytest.raises(CibaError) as err:
        client.run("tel:+34666666666")
    assert (err.value.status, err.value.error) == (400, "access_denied")
    assert client.polls == [(2, "access_denied")]


def test_no_answer_ends_with_expired_token(mockidp, client: CibaClient) -> None:
    mockidp.engine.authorities["opengateway"].decide_future("tel:+34655555555", "never")
    started = client.authorize("tel:+34655555555")
    started["expires_in"] = 10_000  # a patient client: it keeps polling, and hears expired_token from the server
    with pytest.raises(CibaError) as err:
        client.poll(started)
    assert err.value.error == "expired_token"
    assert sum(w for w, _ in client.polls) >= 120


def test_camara_scope_form_with_openid_returns_an_id_token(mockidp, client: CibaClient) -> None:
    token = client.run("ipport:80.90.34.2:16790", purpose=None, scope="openid dpv:FraudPreventionAndDetection sim-swap:check")
    assert token["scope"] == "openid sim-swap:check"
    claims = mockidp.engine.authorities["opengateway"].issuers()[0]  # verify with the published key
    from mockidp.tokens import verify

    _, id_claims = verify(token["id_token"], claims.keyset, now=mockidp.clock.now())
    assert id_claims["aud"] == "demo-app-id" and id_claims["urn:openid:params:jwt:claim:auth_req_id"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_seed_curl_lines_work_as_written_with_only_the_host_changed(mockidp) -> None:
    """Seed 002's two curl commands, verbatim (placeholder credentials included), pointed at mockidp by --resolve:
    the host stays sandbox.opengateway.telefonica.com; only where it resolves to changes."""
    port = mockidp.url.rsplit(":", 1)[1]
    host = f"sandbox.opengateway.telefonica.com:{port}"
    common = ["curl", "--silent", "--cacert", str(mockidp.ca_bundle), "--resolve", f"{host}:127.0.0.1"]

    def curl(*args: str) -> dict[str, Any]:
        out = subprocess.run([*common, *args], capture_output=True, text=True, timeout=30, check=True)
        return json.loads(out.stdout)

    started = curl("--request", "POST", "--url", f"https://{host}/apigateway/bc-authorize",
                   "--header", "accept: application/json", "--header", "content-type: application/x-www-form-urlencoded",
                   "--data", "login_hint=tel:+34655555555", "--data", "purpose=dpv:FraudPreventionAndDetection#sim-swap",
                   "-u", "your_app_client_id:your_app_client_secret")
    assert set(started) == {"auth_req_id", "expires_in", "interval"}
    token_call = ["--request", "POST", "--url", f"https://{host}/apigateway/token",
                  "--header", "accept: application/json", "--header", "content-type: application/x-www-form-urlencoded",
                  "--data", "grant_type=urn:openid:params:grant-type:ciba", "--data", f"auth_req_id={started['auth_req_id']}",
                  "-u", "your_app_client_id:your_app_client_secret"]
    assert curl(*token_call)["error"] == "authorization_pending"
    mockidp.clock.advance(started["interval"])
    token = curl(*token_call)
    assert token["token_type"] == "Bearer" and token["access_token"]
    assert curl(*token_call)["error"] == "invalid_grant"  # redeemed
