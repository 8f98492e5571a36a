"""The stand-in Lumen API (/lumen/Billing/v1/customerBill, /lumen/Customer/v1/customerAccount): LIAM tokens only,
and the x-billing-account-number / x-customer-number checks."""

from __future__ import annotations

import pytest

BILLS, ACCOUNT = "/lumen/Billing/v1/customerBill", "/lumen/Customer/v1/customerAccount"
APP, SECRET = "55555555-5555-5555-5555-555555555555", "demo-b2c-secret"
GOOD = {"x-billing-account-number": "5-XYZ98765", "x-customer-number": "1-DEMO1234"}
GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def liam(http) -> str:
    return http.post("/lumen/oauth/v2/token", data=GRANT, auth=(APP, SECRET)).json()["access_token"]


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **headers}


def lumen_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"reason", "message", "referenceError", "code"} and body["code"] == code
    return body


def test_liam_token_with_its_headers(http, liam) -> None:
    response = http.get(BILLS, headers=bearer(liam, **GOOD))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["billingAccountNumber"] == "5-XYZ98765" and body["customerNumber"] == "1-DEMO1234" and body["clientId"] == APP


def test_route_without_required_headers(http, liam) -> None:
    assert http.get(ACCOUNT, headers=bearer(liam)).status_code == 200
    lumen_error(http.get(ACCOUNT, headers=bearer(liam, **{"x-billing-account-number": "5-NOTMINE0"})), 403, "banNotAuthorized")


def test_real_host(http) -> None:
    host = {"host": "api.lumen.com"}
    token = http.post("/oauth/v2/token", data=GRANT, auth=(APP, SECRET), headers=host).json()["access_token"]
    assert http.get("/Billing/v1/customerBill", headers=bearer(token, **GOOD, **host)).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"x-customer-number": "1-DEMO1234"}, 400, "missingHeader"),
        ({"x-billing-account-number": "5-ABCDEF12"}, 400, "missingHeader"),
        ({**GOOD, "x-billing-account-number": "5-NOTMINE0"}, 403, "banNotAuthorized"),
        ({**GOOD, "x-customer-number": "1-SOMEONE0"}, 403, "customerNotAuthorized"),
    ],
)
def test_header_rejections(http, liam, headers, status, code) -> None:
    lumen_error(http.get(BILLS, headers=bearer(liam, **headers)), status, code)


def test_missing_or_non_bearer_token(http) -> None:
    lumen_error(http.get(BILLS, headers=GOOD), 401, "missingCredentials")
    lumen_error(http.get(BILLS, headers=GOOD, auth=(APP, SECRET)), 401, "missingCredentials")
    lumen_error(http.get(BILLS, headers=bearer("not-a-jwt", **GOOD)), 401, "invalidToken")


def test_a_b2c_token_is_refused(http) -> None:
    data = {**GRANT, "client_id": APP, "client_secret": SECRET, "scope": "https://lumendemo.onmicrosoft.com/liam/.default"}
    b2c = http.post("/b2c/lumendemo.onmicrosoft.com/B2C_1_client_credentials/oauth2/v2.0/token", data=data).json()["access_token"]
    assert "client_assertion" in lumen_error(http.get(BILLS, headers=bearer(b2c, **GOOD)), 401, "invalidToken")["message"]


@pytest.mark.parametrize("authority", ["pfw", "entra", "avaya"])
def test_other_mechanisms_are_refused(mockidp, http, authority) -> None:
    # Same claims as a LIAM token, signed by another authority (PFW is Lumen's own portal framework).
    foreign = mockidp.control.forge(authority, {"bans": ["5-XYZ98765"], "customerNumber": "1-DEMO1234", "environment": "test", "clientId": APP})
    lumen_error(http.get(BILLS, headers=bearer(foreign, **GOOD)), 401, "invalidToken")


@pytest.mark.parametrize("variant", ["unknown_key", "other_authority_key", "alg_none", "wrong_issuer", "hs256_public_key"])
def test_forged_liam_tokens(mockidp, http, variant) -> None:
    claims = {"bans": ["5-XYZ98765"], "customerNumber": "1-DEMO1234", "environment": "test"}
    lumen_error(http.get(BILLS, headers=bearer(mockidp.lumen.mint(claims, variant=variant), **GOOD)), 401, "invalidToken")


def test_minted_liam_token_is_accepted_and_other_environment_refused(mockidp, http) -> None:
    claims = {"bans": ["5-XYZ98765"], "customerNumber": "1-DEMO1234", "environment": "test"}
    assert http.get(BILLS, headers=bearer(mockidp.lumen.mint(claims), **GOOD)).status_code == 200
    prod = mockidp.lumen.mint({**claims, "environment": "prod"})
    lumen_error(http.get(BILLS, headers=bearer(prod, **GOOD)), 401, "environmentMismatch")


def test_expired_liam_token(mockidp, http, liam) -> None:
    mockidp.clock.advance(3601)
    lumen_error(http.get(BILLS, headers=bearer(liam, **GOOD)), 401, "expiredToken")


def test_unknown_route(http, liam) -> None:
    lumen_error(http.get("/lumen/Nothing/v1/here", headers=bearer(liam)), 404, "notFound")
    lumen_error(http.delete(BILLS, headers=bearer(liam, **GOOD)), 404, "notFound")



@pytest.mark.mockidp(world="lumen")
def test_fixture_world_second_customer(http) -> None:
    """The built-in lumen world's second customer: its own BAN and a 300 s lifetime; the demo BANs are not its."""
    client = ("5a5a5a5a-0000-0000-0000-000000000002", "second-customer-secret")
    body = http.post("/lumen/oauth/v2/token", data=GRANT, auth=client).json()
    assert body["expires_in"] == "300"
    headers = {"x-billing-account-number": "5-SECOND01", "x-customer-number": "1-SECOND01"}
    assert http.get(BILLS, headers=bearer(body["access_token"], **headers)).status_code == 200
    lumen_error(http.get(BILLS, headers=bearer(body["access_token"], **GOOD)), 403, "banNotAuthorized")
