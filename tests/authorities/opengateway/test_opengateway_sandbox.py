"""The built-in world `opengateway-sandbox`: Telefonica's sandbox mock mode (opengateway-developers-website
`v0/gettingstarted/sandbox/mocks.md`), every rule of its table by the last digit, with the mock credentials its
API pages print (`mock_sandbox_access_token`, `mock_sandbox_app_id` / `mock_sandbox_app_secret`)."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

pytestmark = pytest.mark.mockidp(world="opengateway-sandbox")
MOCK = "mock_sandbox_access_token"
EVEN, ODD = 1_800_000_000, 1_800_000_001


def api(mockidp: Any, http: httpx.Client, path: str, body: Any, token: str = MOCK) -> httpx.Response:
    return http.post(mockidp.base("opengateway") + "/apigateway" + path, json=body, headers={"authorization": "Bearer " + token})


def camara(resp: httpx.Response) -> tuple[int, str, str]:
    body = resp.json()
    assert set(body) == {"status", "code", "message"} and body["status"] == resp.status_code, body
    return resp.status_code, body["code"], body["message"]


@pytest.mark.parametrize(("path", "field", "body"), [
    ("/sim-swap/v0/check", "swapped", lambda n: {"phoneNumber": n, "maxAge": 240}),
    ("/number-verification/v0/verify", "devicePhoneNumberVerified", lambda n: {"phoneNumber": n}),
    ("/device-status/v0/roaming", "roaming", lambda n: {"ueId": {"msisdn": n}}),
])
def test_ends_in_1_true_2_false_else_by_the_timestamp(mockidp, http, path: str, field: str, body: Any) -> None:
    assert api(mockidp, http, path, body("+34600000001")).json() == {field: True}
    assert api(mockidp, http, path, body("+34600000002")).json() == {field: False}
    mockidp.clock.set(EVEN, frozen=True)
    assert [api(mockidp, http, path, body(f"+3460000000{d}")).json()[field] for d in (3, 7, 0)] == [True] * 3
    mockidp.clock.set(ODD, frozen=True)
    assert [api(mockidp, http, path, body(f"+3460000000{d}")).json()[field] for d in (3, 7, 0)] == [False] * 3


def test_retrieve_date_ending_in_9_is_409(mockidp, http) -> None:
    assert camara(api(mockidp, http, "/sim-swap/v0/retrieve-date", {"phoneNumber": "+34600000009"})) == (
        409, "CONFLICT", "Another request is created for the same phone number")
    for digit in "08":
        assert api(mockidp, http, "/sim-swap/v0/retrieve-date", {"phoneNumber": f"+3460000000{digit}"}).json() == {"latestSimChange": "2024-01-14T13:16:33.167Z"}


def loc(mockidp: Any, http: httpx.Client, number: str, latitude: float, radius: int = 2000, **more: Any) -> httpx.Response:
    area = {"areaType": "CIRCLE", "center": {"latitude": latitude, "longitude": -3.7}, "radius": radius}
    return api(mockidp, http, "/location-verification/v0/verify", {"device": {"phoneNumber": number}, "area": area, **more})


def test_location_rules_in_order(mockidp, http) -> None:
    mockidp.clock.set(EVEN, frozen=True)
    assert camara(loc(mockidp, http, "+34600000004", 42)) == (404, "NOT_FOUND", "Device not found")
    assert camara(loc(mockidp, http, "+34600000005", 42, maxAge=14401)) == (404, "NOT_FOUND", "Device not found in the given maxAge")
    assert loc(mockidp, http, "+34600000005", 40.3).json() == {"verificationResult": "UNKNOWN"}
    assert loc(mockidp, http, "+34600000005", 39.6, maxAge=600).json() == {"verificationResult": "UNKNOWN", "lastLocationTime": "2027-01-15T07:20:00Z"}
    partial = loc(mockidp, http, "+34600000005", 41, radius=200000).json()
    assert partial == {"verificationResult": "PARTIAL", "lastLocationTime": "2027-01-15T07:30:00Z", "matchRate": 99}
    assert loc(mockidp, http, "+34600000005", 41, radius=2000).json()["matchRate"] == 50
    assert loc(mockidp, http, "+34600000005", 42).json() == {"verificationResult": "TRUE"}
    assert loc(mockidp, http, "+34600000005", 43).json() == {"verificationResult": "FALSE"}


def test_kyc_match_compares_with_the_camara_persona(mockidp, http) -> None:
    got = api(mockidp, http, "/kyc-match/v0.2/match", {"phoneNumber": "+34629255833", "givenName": "Federica", "familyName": "Sanchez",
                                                        "birthdate": "1978-08-22", "idDocument": "66666666q"}).json()
    assert got.pop("familyNameMatchScore") in range(1, 100)
    assert got == {"givenNameMatch": "true", "familyNameMatch": "false", "birthdateMatch": "true", "idDocumentMatch": "true"}
    assert camara(api(mockidp, http, "/kyc-match/v0.2/match", {"phoneNumber": "+34629255833", "birthdate": "22-08-1978"}))[:2] == (400, "INVALID_ARGUMENT")


def test_the_mock_token_is_two_legged_and_only_for_mock_mode(mockidp, http) -> None:
    assert camara(api(mockidp, http, "/sim-swap/v0/check", {}))[:2] == (400, "INVALID_ARGUMENT")  # the body must name the line
    mockidp.engine.change_world("opengateway", lambda w: setattr(w.opengateway, "mock_mode", False))
    assert camara(api(mockidp, http, "/sim-swap/v0/check", {"phoneNumber": "+34600000001"}))[:2] == (401, "UNAUTHENTICATED")


def test_any_number_goes_through_the_backend_flow(mockidp, http) -> None:
    base, auth = mockidp.base("opengateway") + "/apigateway", ("mock_sandbox_app_id", "mock_sandbox_app_secret")
    mockidp.clock.set(ODD, frozen=True)
    started = http.post(base + "/bc-authorize", auth=auth, data={"login_hint": "phone_number:+34987654321", "purpose": "dpv:FraudPreventionAndDetection#sim-swap"})
    token = http.post(base + "/token", auth=auth, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": started.json()["auth_req_id"]}).json()
    assert api(mockidp, http, "/sim-swap/v0/check", {"phoneNumber": "+34987654321"}, token["access_token"]).json() == {"swapped": True}  # ends in 1
    assert camara(api(mockidp, http, "/sim-swap/v0/check", {"phoneNumber": "+34987654322"}, token["access_token"]))[:2] == (403, "INVALID_TOKEN_CONTEXT")


def test_the_frontend_flow_takes_the_login_hint_in_mock_mode(mockidp, http) -> None:
    base = mockidp.base("opengateway") + "/apigateway"
    query = {"response_type": "code", "client_id": "mock_sandbox_app_id", "redirect_uri": "http://127.0.0.1:8080/callback",
             "scope": "dpv:FraudPreventionAndDetection#number-verification-verify-read", "state": "s", "login_hint": "phone_number:+34611111113"}
    landed = http.get(base + "/authorize", params=query, headers={"x-forwarded-for": "198.51.100.7"})  # no device known there
    code = parse_qs(urlsplit(landed.headers["location"]).query)["code"][0]
    token = http.post(base + "/token", auth=("mock_sandbox_app_id", "mock_sandbox_app_secret"),
                      data={"grant_type": "authorization_code", "code": code, "redirect_uri": "whatever"}).json()["access_token"]
    nv = "/number-verification/v0/verify"
    assert api(mockidp, http, nv, {"phoneNumber": "+34611111111"}, token).json() == {"devicePhoneNumberVerified": True}  # by the digit, as mocks.md
    assert api(mockidp, http, nv, {"phoneNumber": "+34611111112"}, token).json() == {"devicePhoneNumberVerified": False}
    hashed = hashlib.sha256(b"+34611111113").hexdigest()  # no digit to read: checked against the token's line
    assert api(mockidp, http, nv, {"hashedPhoneNumber": hashed}, token).json() == {"devicePhoneNumberVerified": True}
    landed = http.get(base + "/authorize", params={**query, "login_hint": "ipport:198.51.100.7"}, headers={"x-forwarded-for": "198.51.100.7"})
    assert parse_qs(urlsplit(landed.headers["location"]).query)["error_description"] == ["Unknown user"]
