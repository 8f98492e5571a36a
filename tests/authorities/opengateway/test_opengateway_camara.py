"""The CAMARA APIs beside SIM Swap, at Telefonica's /apigateway paths: x-correlator, Number Verification (frontend
flow tokens only), location verification, device roaming status and KYC Match, each error row with its status,
code and message, and the subscriber data they answer from changed at runtime through the control API."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
import pytest

NV_TOKEN = {"scope": "number-verification:verify number-verification:device-phone-number:read", "phone_number": "+34600000003", "amr": ["nbma"]}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MADRID = {"latitude": 40.4168, "longitude": -3.7038}


def ciba_token(mockidp: Any, http: httpx.Client, login_hint: str, purpose: str) -> str:
    base, auth = mockidp.base("opengateway") + "/apigateway", ("demo-app-id", "demo-app-secret")
    mockidp.engine.authorities["opengateway"].decide_future(login_hint, "grant")
    rid = http.post(base + "/bc-authorize", auth=auth, data={"login_hint": login_hint, "purpose": purpose}).json()["auth_req_id"]
    return str(http.post(base + "/token", auth=auth, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": rid}).json()["access_token"])


def api(mockidp: Any, http: httpx.Client, path: str, token: str | None, body: Any = None, method: str = "POST", **headers: str) -> httpx.Response:
    if token:
        headers["authorization"] = "Bearer " + token
    url = mockidp.base("opengateway") + "/apigateway" + path
    return http.request(method, url, json=body if method == "POST" else None, headers=headers)


def camara(resp: httpx.Response) -> tuple[int, str, str]:
    body = resp.json()
    assert set(body) == {"status", "code", "message"} and body["status"] == resp.status_code, body
    return resp.status_code, body["code"], body["message"]


def version(mockidp: Any, name: str) -> None:
    mockidp.engine.change_world("opengateway", lambda w: setattr(w.opengateway, "camara_version", name))


# --- x-correlator ----------------------------------------------------------------------------------------------


def test_x_correlator_is_echoed_generated_or_refused(mockidp, http) -> None:
    token = mockidp.opengateway.mint(NV_TOKEN)
    ok = api(mockidp, http, "/number-verification/v0/verify", token, {"phoneNumber": "+34600000003"}, **{"x-correlator": "b4333c46-49c0-4f62-80d7-f0ef930f1c46"})
    assert ok.status_code == 200 and ok.headers["x-correlator"] == "b4333c46-49c0-4f62-80d7-f0ef930f1c46"
    failed = api(mockidp, http, "/number-verification/v0/verify", None, {}, **{"x-correlator": "my:trace;1"})
    assert failed.status_code == 401 and failed.headers["x-correlator"] == "my:trace;1"  # errors echo it too
    assert UUID.fullmatch(api(mockidp, http, "/number-verification/v0/verify", token, {"phoneNumber": "+34600000003"}).headers["x-correlator"])
    for bad in ("has space", "x" * 257, "quote\"d"):
        resp = api(mockidp, http, "/number-verification/v0/verify", token, {"phoneNumber": "+34600000003"}, **{"x-correlator": bad})
        assert camara(resp)[:2] == (400, "INVALID_ARGUMENT") and "x-correlator" in resp.json()["message"]
        assert resp.headers["x-correlator"] != bad


def test_bc_authorize_and_token_echo_x_correlator(mockidp, http) -> None:
    base = mockidp.base("opengateway") + "/apigateway"
    started = http.post(base + "/bc-authorize", auth=("demo-app-id", "demo-app-secret"), headers={"x-correlator": "c-1"},
                        data={"login_hint": "phone_number:+34655555555", "purpose": "dpv:FraudPreventionAndDetection#sim-swap"})
    assert started.status_code == 200 and started.headers["x-correlator"] == "c-1"
    polled = http.post(base + "/token", auth=("demo-app-id", "demo-app-secret"), headers={"x-correlator": "c-2"},
                       data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": started.json()["auth_req_id"]})
    assert polled.json()["error"] == "authorization_pending" and polled.headers["x-correlator"] == "c-2"


# --- Number Verification ------------------------------------------------------------------------------------------


def test_number_verification_takes_a_number_or_its_hash(mockidp, http) -> None:
    token = mockidp.opengateway.mint(NV_TOKEN)
    verify = "/number-verification/v0/verify"
    assert api(mockidp, http, verify, token, {"phoneNumber": "+34600000003"}).json() == {"devicePhoneNumberVerified": True}
    assert api(mockidp, http, verify, token, {"phoneNumber": "34600000003"}).json() == {"devicePhoneNumberVerified": True}  # Telefonica: '+' optional
    assert api(mockidp, http, verify, token, {"hashedPhoneNumber": hashlib.sha256(b"+34600000004").hexdigest()}).json() == {"devicePhoneNumberVerified": False}
    assert api(mockidp, http, "/number-verification/v0/device-phone-number", token, method="GET").json() == {"devicePhoneNumber": "+34600000003"}


def test_number_verification_refuses_a_ciba_token(mockidp, http) -> None:
    # A CIBA token names the line the client said (login_hint): the network did not authenticate the device.
    mockidp.control.world_add("opengateway/apps", {"client_id": "demo-app-id", "secret": "demo-app-secret",
                                                   "purposes": ["dpv:FraudPreventionAndDetection#number-verification-verify-read"]})
    ciba = ciba_token(mockidp, http, "tel:+34655555555", "dpv:FraudPreventionAndDetection#number-verification-verify-read")
    assert camara(api(mockidp, http, "/number-verification/v0/verify", ciba, {"phoneNumber": "+34655555555"})) == (
        403, "NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK", "Client must authenticate via the mobile network to use this service")


@pytest.mark.parametrize(("claims", "body", "row"), [
    ({**NV_TOKEN, "phone_number": None}, {"phoneNumber": "+34600000003"},
     (403, "NUMBER_VERIFICATION.INVALID_TOKEN_CONTEXT", "Phone number cannot be deducted from access token context")),
    (NV_TOKEN, {}, (400, "INVALID_ARGUMENT", "Client specified an invalid argument, request body or query param: send exactly one of phoneNumber, hashedPhoneNumber")),
    (NV_TOKEN, {"phoneNumber": "+34600000003", "hashedPhoneNumber": "0" * 64}, (400, "INVALID_ARGUMENT", None)),
    (NV_TOKEN, {"hashedPhoneNumber": "abc"}, (400, "INVALID_ARGUMENT", "hashedPhoneNumber must be the SHA-256 of the E.164 number, 64 hex digits")),
    (NV_TOKEN, {"phoneNumber": "+34 600"}, (400, "INVALID_ARGUMENT", None)),
    ({**NV_TOKEN, "scope": "sim-swap"}, {"phoneNumber": "+34600000003"}, (403, "PERMISSION_DENIED", None)),
])
def test_number_verification_error_rows(mockidp, http, claims: dict[str, Any], body: Any, row: tuple[int, str, str | None]) -> None:
    token = mockidp.opengateway.mint({k: v for k, v in claims.items() if v is not None})
    status, code, message = camara(api(mockidp, http, "/number-verification/v0/verify", token, body))
    assert (status, code) == row[:2] and message and (row[2] is None or message == row[2])


def test_number_verification_codes_follow_the_version(mockidp, http) -> None:
    token = mockidp.opengateway.mint({k: v for k, v in NV_TOKEN.items() if k != "phone_number"})
    version(mockidp, "v1")
    assert camara(api(mockidp, http, "/number-verification/v0/device-phone-number", token, method="GET"))[1] == "INVALID_TOKEN_CONTEXT"
    assert camara(api(mockidp, http, "/number-verification/v0/verify", token, {"phoneNumber": "34600000003"}))[:2] == (400, "INVALID_ARGUMENT")


# --- Location verification ------------------------------------------------------------------------------------------

LOC = {"scope": "location-verification:verify", "phone_number": "+34600000003"}


def verify_at(mockidp: Any, http: httpx.Client, center: dict[str, float], radius: float = 2000, claims: dict[str, Any] = LOC, **body: Any) -> httpx.Response:
    area = {"areaType": "CIRCLE", "center": center, "radius": radius}
    return api(mockidp, http, "/location-verification/v0/verify", mockidp.opengateway.mint(claims), {"area": area, **body})


def test_location_is_verified_against_the_world_fix(mockidp, http) -> None:
    inside = verify_at(mockidp, http, MADRID, maxAge=120).json()
    assert inside["verificationResult"] == "TRUE" and inside["lastLocationTime"].endswith("Z")
    assert verify_at(mockidp, http, {"latitude": 41.3874, "longitude": 2.1686}, 200000).json()["verificationResult"] == "FALSE"  # Barcelona, 500 km
    assert verify_at(mockidp, http, MADRID, claims={"scope": "location-verification:verify"}, device={"phoneNumber": "+34600000003"}).json()["verificationResult"] == "TRUE"
    mockidp.control.world_add("opengateway/subscribers", {"login_hint": "tel:+34600000003", "latitude": 41.3874, "longitude": 2.1686})
    assert verify_at(mockidp, http, MADRID).json()["verificationResult"] == "FALSE"  # moved at runtime


@pytest.mark.parametrize(("kw", "row"), [
    ({"radius": 1000}, (422, "LOCATION_VERIFICATION.INVALID_AREA", "The requested area is too small")),
    ({"radius": 300000}, (400, "OUT_OF_RANGE", None)),
    ({"maxAge": 30}, (422, "LOCATION_VERIFICATION.UNABLE_TO_FULFILL_MAX_AGE", "Unable to provide expected freshness for location")),
    ({"center": {"latitude": 91, "longitude": 0}}, (400, "OUT_OF_RANGE", None)),
    ({"center": {"latitude": "40", "longitude": 0}}, (400, "INVALID_ARGUMENT", None)),
    ({"device": {"ipv4Address": {"publicAddress": "80.90.34.2"}}, "claims": {"scope": "location-verification:verify"}}, (422, "UNSUPPORTED_IDENTIFIER", None)),
    ({"device": {"phoneNumber": "+34666666666"}}, (403, "INVALID_TOKEN_CONTEXT", "phoneNumber is not consistent with access token.")),
    ({"claims": {"scope": "location-verification:verify", "phone_number": "+34699999999"}}, (404, "NOT_FOUND", "Device not found")),
    ({"claims": {"scope": "sim-swap", "phone_number": "+34600000003"}}, (403, "PERMISSION_DENIED", None)),
])
def test_location_error_rows(mockidp, http, kw: dict[str, Any], row: tuple[int, str, str | None]) -> None:
    status, code, message = camara(verify_at(mockidp, http, kw.pop("center", MADRID), **kw))
    assert (status, code) == row[:2] and message and (row[2] is None or message == row[2])


def test_location_area_coverage_missing_area_and_no_fix(mockidp, http) -> None:
    assert camara(api(mockidp, http, "/location-verification/v0/verify", mockidp.opengateway.mint(LOC), {}))[:2] == (400, "INVALID_ARGUMENT")
    circle = {"areaType": "POLYGON", "center": MADRID, "radius": 2000}
    assert camara(api(mockidp, http, "/location-verification/v0/verify", mockidp.opengateway.mint(LOC), {"area": circle}))[:2] == (400, "INVALID_ARGUMENT")
    no_fix = {"scope": "location-verification:verify", "phone_number": "+34600000004"}
    assert verify_at(mockidp, http, MADRID, claims=no_fix).json() == {"verificationResult": "UNKNOWN"}
    mockidp.engine.change_world("opengateway", lambda w: setattr(w.opengateway, "location_coverage", [27.0, -19.0, 44.0, 5.0]))
    assert camara(verify_at(mockidp, http, {"latitude": 48.85, "longitude": 2.35})) == (422, "LOCATION_VERIFICATION.AREA_NOT_COVERED", "Unable to cover the requested area")
    version(mockidp, "v2")
    assert camara(verify_at(mockidp, http, MADRID, claims=no_fix)) == (422, "LOCATION_VERIFICATION.UNABLE_TO_LOCATE", "The network is unable to locate the device")
    echoed = verify_at(mockidp, http, MADRID, claims={"scope": "location-verification:verify"}, device={"phoneNumber": "+34600000003"}).json()
    assert echoed["device"] == {"phoneNumber": "+34600000003"}  # 3.0.0 echoes the identifier asked about


# --- Device roaming status -------------------------------------------------------------------------------------------

ROAM = {"scope": "device-status-roaming-read"}


def test_roaming_answers_from_the_world_on_both_paths(mockidp, http) -> None:
    token = mockidp.opengateway.mint(ROAM)
    assert api(mockidp, http, "/device-status/v0/roaming", token, {"ueId": {"msisdn": "+34600000004"}}).json() == {"roaming": True, "countryCode": 262, "countryName": ["DE"]}
    assert api(mockidp, http, "/device-status/v0/roaming", token, {"phoneNumber": "+34600000003"}).json() == {"roaming": False}
    assert api(mockidp, http, "/device-roaming-status/v1/retrieve", token, {"device": {"phoneNumber": "+34600000004"}}).json()["roaming"] is True
    mockidp.control.world_add("opengateway/subscribers", {"login_hint": "tel:+34600000004", "roaming": False})
    assert api(mockidp, http, "/device-status/v0/roaming", token, {"ueId": {"msisdn": "+34600000004"}}).json() == {"roaming": False}


ONCE = "identify the device once: phoneNumber, ueId.msisdn or device.phoneNumber"
REQUIRED = "Client specified an invalid argument, request body or query param: phoneNumber is required."


@pytest.mark.parametrize(("body", "row"), [
    ({"ueId": {"msisdn": "+34699999999"}}, (404, "NOT_FOUND", "The specified resource is not found.")),
    ({"ueId": {"msisdn": "+34600000004"}, "phoneNumber": "+34600000004"}, (400, "INVALID_ARGUMENT", ONCE)),
    ({"ueId": {"ipv4Addr": "80.90.34.2"}}, (422, "UNSUPPORTED_IDENTIFIER", "The identifier provided is not supported: this gateway knows lines by msisdn.")),
    ({"ueId": "+34600000004"}, (400, "INVALID_ARGUMENT", ONCE)),
    ({}, (400, "INVALID_ARGUMENT", REQUIRED)),
])
def test_roaming_error_rows(mockidp, http, body: Any, row: tuple[int, str, str]) -> None:
    assert camara(api(mockidp, http, "/device-status/v0/roaming", mockidp.opengateway.mint(ROAM), body)) == row


# --- KYC Match -----------------------------------------------------------------------------------------------------

KYC = {"scope": "kyc-match:match", "phone_number": "+34600000003"}


@pytest.mark.parametrize("path", ["/kyc-match/v0/match", "/kyc-match/v0.2/match", "/kyc-match/v0-0.2/match"])
def test_kyc_match_answers_per_field(mockidp, http, path: str) -> None:
    asked = {"givenName": "LUCIA", "familyName": "Garcia Lopes", "idDocument": "99999999X", "gender": "female", "address": "Calle Mayor 1", "birthdate": "1990-05-17"}
    got = api(mockidp, http, path, mockidp.opengateway.mint(KYC), asked).json()
    assert got.pop("familyNameMatchScore") in range(80, 100)  # one letter off
    assert got == {"givenNameMatch": "true", "familyNameMatch": "false", "idDocumentMatch": "false", "genderMatch": "true",
                   "addressMatch": "not_available", "birthdateMatch": "true"}


@pytest.mark.parametrize(("claims", "body", "row"), [
    (KYC, {}, (400, "KNOW_YOUR_CUSTOMER.INVALID_PARAM_COMBINATION", "at least one attribute besides phoneNumber is required to match")),
    (KYC, {"givenName": "Lucia", "nickname": "Lu"}, (400, "INVALID_ARGUMENT", "unknown field(s): nickname")),
    (KYC, {"birthdate": "17/05/1990"}, (400, "INVALID_ARGUMENT", "birthdate must be a date, YYYY-MM-DD")),
    (KYC, {"gender": "X"}, (400, "INVALID_ARGUMENT", "gender must be MALE, FEMALE or OTHER")),
    (KYC, {"givenName": 7}, (400, "INVALID_ARGUMENT", "givenName must be a non-empty string")),
    (KYC, {"phoneNumber": "+34666666666", "givenName": "Lucia"}, (403, "KNOW_YOUR_CUSTOMER.INVALID_TOKEN_CONTEXT", "phoneNumber is not consistent with access token.")),
    ({"scope": "kyc-match:match", "phone_number": "+34699999999"}, {"givenName": "Lucia"}, (404, "NOT_FOUND", "The specified resource is not found.")),
    ({"scope": "kyc-match:match"}, {"givenName": "Lucia"}, (400, "INVALID_ARGUMENT", REQUIRED)),
    ({"scope": "sim-swap"}, {"givenName": "Lucia"}, (403, "PERMISSION_DENIED", "Client does not have sufficient permissions to perform this action. The token lacks know-your-customer:match or kyc or kyc-match or kyc-match:match.")),
])
def test_kyc_match_error_rows(mockidp, http, claims: dict[str, Any], body: Any, row: tuple[int, str, str]) -> None:
    assert camara(api(mockidp, http, "/kyc-match/v0/match", mockidp.opengateway.mint(claims), body)) == row


def test_kyc_data_changes_at_runtime(mockidp, http) -> None:
    mockidp.control.world_add("opengateway/subscribers", {"login_hint": "tel:+34600000003", "kyc": {"givenName": "Ana"}})
    got = api(mockidp, http, "/kyc-match/v0/match", mockidp.opengateway.mint(KYC), {"givenName": "Ana", "email": "a@example.com"}).json()
    assert got == {"givenNameMatch": "true", "emailMatch": "not_available"}


def test_location_v0_1_answers_a_boolean_within_accuracy_km(mockidp, http) -> None:
    token = mockidp.opengateway.mint({"scope": "device-location-read"})
    near = api(mockidp, http, "/location/v0/verify", token, {"ueId": {"msisdn": "+34600000003"}, "latitude": 40.45, "longitude": -3.7, "accuracy": 5})
    assert near.json() == {"verificationResult": True}
    far = api(mockidp, http, "/location/v0/verify", token, {"phoneNumber": "+34600000003", "latitude": 41.39, "longitude": 2.17, "accuracy": 200})
    assert far.json() == {"verificationResult": False}
    assert camara(api(mockidp, http, "/location/v0/verify", token, {"phoneNumber": "+34600000003", "latitude": 40, "longitude": -3, "accuracy": 1}))[:2] == (400, "OUT_OF_RANGE")
    assert camara(api(mockidp, http, "/location/v0/verify", token, {"ueId": {"ipv4Addr": "1.2.3.4"}, "latitude": 40, "longitude": -3, "accuracy": 5}))[:2] == (400, "INVALID_ARGUMENT")
