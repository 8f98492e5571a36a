"""The SIM Swap API behind the Open Gateway: only this gateway's CIBA tokens with the sim-swap scope, the phone
number from the token, world answers, and CAMARA's ErrorInfo `{"status", "code", "message"}` for every error, in the
codes of Telefonica's v0.4 OpenAPI unless the world names a CAMARA version."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mockidp.faults import Fault

SIM_SWAP = "dpv:FraudPreventionAndDetection#sim-swap"
AUTH = ("demo-app-id", "demo-app-secret")


def get_token(mockidp: Any, http: httpx.Client, login_hint: str, **data: str) -> str:
    base = mockidp.base("opengateway") + "/apigateway"
    mockidp.engine.authorities["opengateway"].decide_future(login_hint, "grant")
    rid = http.post(base + "/bc-authorize", auth=AUTH, data={"login_hint": login_hint, **(data or {"purpose": SIM_SWAP})}).json()["auth_req_id"]
    return str(http.post(base + "/token", auth=AUTH, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": rid}).json()["access_token"])


def call(mockidp: Any, http: httpx.Client, op: str, token: str | None, body: Any = None, *, gateway: str = "/apigateway", **kw: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return http.post(mockidp.base("opengateway") + f"{gateway}/sim-swap/v0/{op}", json=body if body is not None else {}, headers=headers, **kw)


def camara(resp: httpx.Response) -> tuple[int, str]:
    body = resp.json()
    assert set(body) == {"status", "code", "message"} and body["status"] == resp.status_code and body["message"], body
    return resp.status_code, body["code"]


def test_answers_are_world_data_per_subscriber(mockidp, http) -> None:
    swapped = get_token(mockidp, http, "tel:+34600000001")
    assert call(mockidp, http, "check", swapped, {"phoneNumber": "+34600000001", "maxAge": 24}).json() == {"swapped": True}
    assert call(mockidp, http, "retrieve-date", swapped).json() == {"latestSimChange": "2025-06-01T10:00:00Z"}
    plain = get_token(mockidp, http, "tel:+34655555555")
    assert call(mockidp, http, "check", plain).json() == {"swapped": False}
    assert call(mockidp, http, "check", plain, gateway="").json() == {"swapped": False}  # mockidp's first path stays


def test_telefonica_numbers_may_leave_out_the_plus(mockidp, http) -> None:
    # Telefonica v0.4 PhoneNumber: '^\+?[0-9]{5,15}$'; CAMARA 1.x/2.x require the '+'
    token = get_token(mockidp, http, "tel:+34655555555")
    assert call(mockidp, http, "check", token, {"phoneNumber": "34655555555"}).json() == {"swapped": False}
    mockidp.engine.change_world("opengateway", lambda w: setattr(w.opengateway, "camara_version", "v1"))
    assert camara(call(mockidp, http, "check", token, {"phoneNumber": "34655555555"})) == (400, "INVALID_ARGUMENT")

def test_the_seed_host_serves_the_api_at_the_root(mockidp, http) -> None:
    host = {"host": "sandbox.opengateway.telefonica.com"}
    rid = http.post("/apigateway/bc-authorize", headers=host, auth=AUTH, data={"login_hint": "ipport:80.90.34.2:16790", "purpose": SIM_SWAP}).json()["auth_req_id"]
    token = http.post("/apigateway/token", headers=host, auth=AUTH, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": rid}).json()["access_token"]
    for path in ("/apigateway/sim-swap/v0/check", "/sim-swap/v0/check"):
        resp = http.post(path, headers={**host, "authorization": "Bearer " + token}, json={})
        # an IP subscriber with no known phone number: Telefonica's schema requires phoneNumber then
        assert camara(resp) == (400, "INVALID_ARGUMENT")


def test_missing_invalid_or_expired_tokens_are_401_unauthenticated(mockidp, http) -> None:
    token = get_token(mockidp, http, "tel:+34655555555")
    for bad in (None, "not-a-jwt", token[:-8] + "AAAAAAAA", mockidp.entra.mint({"scope": "sim-swap", "phone_number": "+34655555555"})):
        resp = call(mockidp, http, "check", bad)
        assert camara(resp) == (401, "UNAUTHENTICATED") and resp.headers["www-authenticate"].startswith("Bearer")
    mockidp.clock.advance(3601)
    assert camara(call(mockidp, http, "check", token)) == (401, "UNAUTHENTICATED")


def test_an_id_token_of_the_gateway_is_not_an_access_token(mockidp, http) -> None:
    base = mockidp.base("opengateway") + "/apigateway"
    rid = http.post(base + "/bc-authorize", auth=AUTH, data={"login_hint": "ipport:80.90.34.2:16790", "scope": "openid dpv:FraudPreventionAndDetection sim-swap"}).json()["auth_req_id"]
    body = http.post(base + "/token", auth=AUTH, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": rid}).json()
    assert camara(call(mockidp, http, "check", body["id_token"])) == (401, "UNAUTHENTICATED")


def test_scopes_gate_each_operation(mockidp, http) -> None:
    mockidp.control.world_add("opengateway/subscribers", {"login_hint": "tel:+34600000002"})
    check_only = get_token(mockidp, http, "tel:+34600000002", scope="dpv:FraudPreventionAndDetection sim-swap:check")
    assert call(mockidp, http, "check", check_only).status_code == 200
    assert camara(call(mockidp, http, "retrieve-date", check_only)) == (403, "PERMISSION_DENIED")
    other_api = mockidp.opengateway.mint({"scope": "number-verification:verify", "phone_number": "+34600000002"})
    assert camara(call(mockidp, http, "check", other_api)) == (403, "PERMISSION_DENIED")


def test_a_body_number_that_disagrees_with_the_token_is_invalid_token_context(mockidp, http) -> None:
    token = get_token(mockidp, http, "tel:+34655555555")
    assert camara(call(mockidp, http, "check", token, {"phoneNumber": "+34666666666"})) == (403, "INVALID_TOKEN_CONTEXT")
    assert camara(call(mockidp, http, "retrieve-date", token, {"phoneNumber": "+34666666666"})) == (403, "INVALID_TOKEN_CONTEXT")
    assert call(mockidp, http, "check", token, {"phoneNumber": "+34655555555"}).status_code == 200


@pytest.mark.parametrize(("body", "code"), [
    ({"phoneNumber": "+34-655-555"}, "INVALID_ARGUMENT"), ({"phoneNumber": 34655555555}, "INVALID_ARGUMENT"),
    ({"maxAge": 0}, "OUT_OF_RANGE"), ({"maxAge": 2401}, "OUT_OF_RANGE"), ({"maxAge": "240"}, "INVALID_ARGUMENT"),
    ([1, 2], "INVALID_ARGUMENT"),
])
def test_bad_bodies_are_400(mockidp, http, body: Any, code: str) -> None:
    token = get_token(mockidp, http, "tel:+34655555555")
    assert camara(call(mockidp, http, "check", token, body)) == (400, code)


def test_unreadable_json_is_400_invalid_argument(mockidp, http) -> None:
    token = get_token(mockidp, http, "tel:+34655555555")
    resp = http.post(mockidp.base("opengateway") + "/apigateway/sim-swap/v0/check", content=b"{nope", headers={"authorization": "Bearer " + token, "content-type": "application/json"})
    assert camara(resp) == (400, "INVALID_ARGUMENT")


def test_deep_json_to_the_sim_swap_api_is_camaras_invalid_argument(mockidp, http) -> None:
    # the control plane's bounded-JSON row (test_control_plane.py, row 4), on the one API that parses JSON bodies
    token = get_token(mockidp, http, "tel:+34655555555")
    deep = b'{"phoneNumber": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = http.post(mockidp.base("opengateway") + "/apigateway/sim-swap/v0/check", content=deep,
                         headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
    assert response.status_code == 400, response.text
    assert response.json()["status"] == 400 and response.json()["code"] == "INVALID_ARGUMENT" and response.json()["message"]


def test_a_subscriber_gone_from_the_world_is_404(mockidp, http) -> None:
    token = mockidp.opengateway.mint({"scope": "sim-swap", "phone_number": "+34699999999"})
    resp = call(mockidp, http, "check", token)
    assert camara(resp) == (404, "SIM_SWAP.UNKNOWN_PHONE_NUMBER")  # Telefonica v0.4's Generic404
    assert resp.json()["message"] == "SIM Swap can't be checked because the phone number is unknown."


@pytest.mark.parametrize(("version", "row"), [
    ("telefonica", {"unknown": (404, "SIM_SWAP.UNKNOWN_PHONE_NUMBER"), "other": (403, "INVALID_TOKEN_CONTEXT"), "same": 200, "none": (400, "INVALID_ARGUMENT")}),
    ("v1", {"unknown": (404, "NOT_FOUND"), "other": (403, "INVALID_TOKEN_CONTEXT"), "same": 200, "none": (422, "UNIDENTIFIABLE_PHONE_NUMBER")}),
    ("v2", {"unknown": (404, "IDENTIFIER_NOT_FOUND"), "other": (422, "UNNECESSARY_IDENTIFIER"), "same": (422, "UNNECESSARY_IDENTIFIER"), "none": (422, "MISSING_IDENTIFIER")}),
])
def test_the_world_chooses_the_camara_version_of_the_error_codes(mockidp, http, version: str, row: dict[str, Any]) -> None:
    mockidp.engine.change_world("opengateway", lambda w: setattr(w.opengateway, "camara_version", version))
    assert camara(call(mockidp, http, "check", mockidp.opengateway.mint({"scope": "sim-swap", "phone_number": "+34699999999"}))) == row["unknown"]
    token = get_token(mockidp, http, "tel:+34655555555")
    assert camara(call(mockidp, http, "check", token, {"phoneNumber": "+34666666666"})) == row["other"]
    same = call(mockidp, http, "retrieve-date", token, {"phoneNumber": "+34655555555"})
    assert (same.status_code if row["same"] == 200 else camara(same)) == row["same"]
    two_legged = mockidp.opengateway.mint({"scope": "sim-swap"})
    assert camara(call(mockidp, http, "check", two_legged)) == row["none"]
    assert call(mockidp, http, "check", two_legged, {"phoneNumber": "+34600000001"}).json() == {"swapped": True}


def test_swap_data_changes_at_runtime_through_the_control_api(mockidp, http) -> None:
    token = get_token(mockidp, http, "tel:+34655555555")
    assert call(mockidp, http, "check", token).json() == {"swapped": False}
    added = http.post("/_mockidp/world/opengateway/subscribers", json={"login_hint": "tel:+34655555555", "sim_swapped": True, "latest_sim_change": "2026-01-02T03:04:05Z"})
    assert added.status_code == 201, added.text
    assert call(mockidp, http, "check", token).json() == {"swapped": True}
    assert call(mockidp, http, "retrieve-date", token).json() == {"latestSimChange": "2026-01-02T03:04:05Z"}
    bad = http.post("/_mockidp/world/opengateway/subscribers", json={"login_hint": "tel:+34655555555", "addresses": ["not-an-ip"]})
    assert bad.status_code == 400 and "addresses" in bad.text
    assert call(mockidp, http, "check", token).json() == {"swapped": True}  # the refused change left the world as it was


@pytest.mark.parametrize(("error", "status"), [("QUOTA_EXCEEDED", 429), ("TOO_MANY_REQUESTS", 429), (None, 503)])
def test_faults_on_the_api_speak_camara(mockidp, http, error: str | None, status: int) -> None:
    token = get_token(mockidp, http, "tel:+34655555555")
    mockidp.faults.add(Fault(authority="opengateway", endpoint="sim-swap-check", status=status, error=error))
    status_code, code = camara(call(mockidp, http, "check", token))
    assert status_code == status and code == (error or "UNAVAILABLE")


def test_a_section_s_settings_change_over_http_validated_and_undone_by_reset(mockidp, http) -> None:
    """PATCH /_mockidp/world/{section}: the single-valued settings (camara_version here), for tests in any language."""
    token = get_token(mockidp, http, "tel:+34655555555")
    assert call(mockidp, http, "check", token, {"phoneNumber": "34655555555"}).json() == {"swapped": False}
    changed = http.patch("/_mockidp/world/opengateway", json={"camara_version": "v1", "trust_forwarded_for": True})
    assert changed.status_code == 200, changed.text
    assert changed.json()["camara_version"] == "v1" and changed.json()["trust_forwarded_for"] is True
    assert camara(call(mockidp, http, "check", token, {"phoneNumber": "34655555555"})) == (400, "INVALID_ARGUMENT")
    for bad, status, text in (({"camara_version": "v9"}, 400, "camara_version"), ({"apps": []}, 400, "no setting 'apps'"),
                              ({"interval": "soon"}, 400, "interval"), ({}, 400, "camara_version"), ([1], 400, "a JSON object")):
        refused = http.patch("/_mockidp/world/opengateway", json=bad)
        assert refused.status_code == status and text in refused.json()["error_description"], (bad, refused.text)
    assert http.patch("/_mockidp/world/opengateway/apps", json={"interval": 1}).status_code == 404
    assert http.patch("/_mockidp/world/nowhere", json={"interval": 1}).status_code == 404
    assert http.get("/_mockidp/world/opengateway").json()["camara_version"] == "v1"  # the refusals changed nothing
    mockidp.reset()
    token = get_token(mockidp, http, "tel:+34655555555")
    assert call(mockidp, http, "check", token, {"phoneNumber": "34655555555"}).json() == {"swapped": False}
