"""LIAM's token endpoint (POST /lumen/oauth/v2/token): client credentials authorized by B2C, the B2C-assertion
flow, LIAM's own token from its user record, and every rejection in Lumen's error shape."""

from __future__ import annotations

import pytest

from mockidp.tokens import peek, verify

TOKEN = "/lumen/oauth/v2/token"
B2C_TOKEN = "/b2c/lumendemo.onmicrosoft.com/B2C_1_client_credentials/oauth2/v2.0/token"
APP, SECRET = "55555555-5555-5555-5555-555555555555", "demo-b2c-secret"
PROD_APP, PROD_SECRET = "88888888-8888-8888-8888-888888888888", "demo-b2c-prod-secret"
LIAM_SCOPE = "https://lumendemo.onmicrosoft.com/liam/.default"
GRANT = {"grant_type": "client_credentials"}


def lumen_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"reason", "message", "referenceError", "code"}
    assert body["code"] == code and body["reason"] and body["message"]
    return body


def b2c_token(http, client_id: str = APP, secret: str = SECRET) -> str:
    response = http.post(B2C_TOKEN, data={**GRANT, "client_id": client_id, "client_secret": secret, "scope": LIAM_SCOPE})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_basic_credentials_get_liams_own_token(mockidp, http) -> None:
    response = http.post(TOKEN, data=GRANT, auth=(APP, SECRET), headers={"accept": "application/json"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "issued_at", "expires_in", "token_type"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == "3600"
    assert body["issued_at"].isdigit() and abs(int(body["issued_at"]) - mockidp.clock.now() * 1000) < 5000  # epoch ms
    liam = mockidp.authority("lumen").issuers()[0].keyset
    header, claims = verify(body["access_token"], liam, now=mockidp.clock.now())
    assert header["kid"] == liam.active.kid  # LIAM's key, not B2C's
    assert claims["iss"] == mockidp.base("lumen") + "/oauth/v2"
    assert claims["clientId"] == claims["sub"] == APP
    assert claims["bans"] == ["5-ABCDEF12", "5-XYZ98765"] and claims["customerNumber"] == "1-DEMO1234"
    assert claims["environment"] == "test" and claims["authMethod"] == "client_credentials"
    assert claims["exp"] - claims["iat"] == 3600


def test_form_credentials_and_the_apps_chosen_lifetime(mockidp, http) -> None:
    app = mockidp.authority("lumen").register_app(["5-LIFE0001"], "1-LIFE0001", token_lifetime=600)
    response = http.post(TOKEN, data={**GRANT, "client_id": app.client_id, "client_secret": app.secret})
    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == "600"
    claims = peek(response.json()["access_token"])[1]
    assert claims["exp"] - claims["iat"] == 600 and claims["bans"] == ["5-LIFE0001"]


def test_registration_through_the_http_control_surface(mockidp, http) -> None:
    item = {"client_id": "abcdefab-0000-0000-0000-000000000001", "secret": "s3cret", "bans": ["5-HTTP0001"], "customer_number": "1-HTTP0001"}
    assert http.post("/_mockidp/world/lumen/apps", json=item).status_code == 201
    assert http.post(TOKEN, data=GRANT, auth=(item["client_id"], "s3cret")).status_code == 200
    assert http.post(B2C_TOKEN, data={**GRANT, "client_id": item["client_id"], "client_secret": "s3cret", "scope": LIAM_SCOPE}).status_code == 200


def test_real_host_routing(http) -> None:
    response = http.post("/oauth/v2/token", data=GRANT, auth=(APP, SECRET), headers={"host": "api.lumen.com"})
    assert response.status_code == 200, response.text
    assert peek(response.json()["access_token"])[1]["iss"] == "https://api.lumen.com/oauth/v2"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": GRANT}, 401, "missingCredentials"),
        ({"data": GRANT, "headers": {"authorization": "Basic !!!not-base64"}}, 401, "missingCredentials"),
        ({"data": {**GRANT, "client_id": APP}}, 401, "missingCredentials"),
        ({"data": {**GRANT, "client_secret": SECRET}}, 401, "missingCredentials"),
        ({"data": {}, "auth": (APP, SECRET)}, 400, "unsupportedGrantType"),
        ({"data": {"grant_type": "password"}, "auth": (APP, SECRET)}, 400, "unsupportedGrantType"),
        ({"data": GRANT, "auth": (APP, "wrong")}, 401, "invalidCredentials"),
        ({"data": GRANT, "auth": ("99999999-9999-9999-9999-999999999999", "x")}, 401, "invalidCredentials"),
        ({"data": GRANT, "auth": (PROD_APP, PROD_SECRET)}, 401, "environmentMismatch"),
    ],
)
def test_client_credentials_rejections(http, kwargs, status, code) -> None:
    body = lumen_error(http.post(TOKEN, **kwargs), status, code)
    if code == "missingCredentials":
        assert body["reason"] == "Missing or no credentials provided"


def test_b2c_reason_is_the_reference(http) -> None:
    assert lumen_error(http.post(TOKEN, data=GRANT, auth=(APP, "wrong")), 401, "invalidCredentials")["referenceError"] == "AADB2C90081"
    assert lumen_error(http.post(TOKEN, data=GRANT, auth=("nobody", "x")), 401, "invalidCredentials")["referenceError"] == "AADB2C90018"


def test_disabled_user(mockidp, http) -> None:
    mockidp.control.world_add("lumen/apps", {"client_id": "dddddddd-0000-0000-0000-000000000001", "secret": "s", "enabled": False})
    lumen_error(http.post(TOKEN, data=GRANT, auth=("dddddddd-0000-0000-0000-000000000001", "s")), 401, "userDisabled")


def test_b2c_app_without_a_liam_user(mockidp, http) -> None:
    # A B2C app granted LIAM's API but never registered in Control Center: B2C says yes, LIAM knows no user.
    mockidp.control.world_add("b2c/tenants/lumendemo/apps", {"client_id": "eeeeeeee-0000-0000-0000-000000000001", "secret": "s",
                                                               "granted": {"https://lumendemo.onmicrosoft.com/liam": ["liam.access"]}})
    lumen_error(http.post(TOKEN, data=GRANT, auth=("eeeeeeee-0000-0000-0000-000000000001", "s")), 401, "userNotFound")
    assertion = b2c_token(http, "eeeeeeee-0000-0000-0000-000000000001", "s")
    response = http.post(TOKEN, data={**GRANT, "client_assertion": assertion, "client_id": "eeeeeeee-0000-0000-0000-000000000001"})
    lumen_error(response, 401, "userNotFound")


# --- the secondary flow: a B2C token as client_assertion ------------------------------------------------


def test_b2c_assertion_gets_a_liam_token(mockidp, http) -> None:
    assertion = b2c_token(http)
    data = {**GRANT, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": assertion, "client_id": APP}
    response = http.post(TOKEN, data=data)
    assert response.status_code == 200, response.text
    claims = peek(response.json()["access_token"])[1]
    assert claims["authMethod"] == "client_assertion" and claims["bans"] == ["5-ABCDEF12", "5-XYZ98765"]
    assert claims["iss"] == mockidp.base("lumen") + "/oauth/v2"


def assert_assertion_rejected(http, assertion: str, client_id: str, status: int, code: str, **extra: str) -> dict:
    return lumen_error(http.post(TOKEN, data={**GRANT, "client_assertion": assertion, "client_id": client_id, **extra}), status, code)


def test_assertion_azp_must_equal_client_id(mockidp, http) -> None:
    other = mockidp.authority("lumen").register_app(["5-OTHER001"], "1-OTHER001")
    body = assert_assertion_rejected(http, b2c_token(http), other.client_id, 401, "clientIdMismatch")
    assert APP in body["message"]


def test_assertion_from_another_environment(http) -> None:
    assert_assertion_rejected(http, b2c_token(http, PROD_APP, PROD_SECRET), PROD_APP, 401, "environmentMismatch")


def test_expired_assertion(mockidp, http) -> None:
    assertion = b2c_token(http)
    mockidp.clock.advance(3601)
    assert_assertion_rejected(http, assertion, APP, 401, "expiredAssertion")


@pytest.mark.parametrize("variant", ["unknown_key", "other_authority_key", "alg_none"])
def test_assertion_not_signed_by_b2c(mockidp, http, variant) -> None:
    forged = mockidp.control.forge("b2c", {"azp": APP, "tfp": "B2C_1_client_credentials"}, variant=variant)
    assert_assertion_rejected(http, forged, APP, 401, "invalidAssertion")


def test_assertion_of_another_authority_and_garbage(mockidp, http) -> None:
    liam = http.post(TOKEN, data=GRANT, auth=(APP, SECRET)).json()["access_token"]
    assert_assertion_rejected(http, liam, APP, 401, "invalidAssertion")  # LIAM's own token is no B2C token
    assert_assertion_rejected(http, "not-a-jwt", APP, 401, "invalidAssertion")


def test_assertion_needs_client_id_grant_and_type(http) -> None:
    assertion = b2c_token(http)
    lumen_error(http.post(TOKEN, data={**GRANT, "client_assertion": assertion}), 401, "missingCredentials")
    lumen_error(http.post(TOKEN, data={"client_assertion": assertion, "client_id": APP}), 400, "unsupportedGrantType")
    assert_assertion_rejected(http, assertion, APP, 400, "invalidAssertionType", client_assertion_type="urn:x")


def test_faults_and_planned_claims(mockidp, http) -> None:
    mockidp.add_fault(authority="lumen", endpoint="token", error="temporarily_unavailable")
    lumen_error(http.post(TOKEN, data=GRANT, auth=(APP, SECRET)), 503, "temporarily_unavailable")
    mockidp.add_fault(authority="b2c", endpoint="token", error="invalid_client")
    response = http.post(B2C_TOKEN, data={**GRANT, "client_id": APP, "client_secret": SECRET, "scope": LIAM_SCOPE})
    assert response.status_code == 401 and response.json()["error_description"].startswith("AADB2C90081: ")
    mockidp.add_claims({"bans": ["5-PLANNED1"]}, authority="lumen", client_id=APP)
    assert peek(http.post(TOKEN, data=GRANT, auth=(APP, SECRET)).json()["access_token"])[1]["bans"] == ["5-PLANNED1"]


def test_duplicated_parameters(http) -> None:
    form = "grant_type=client_credentials&grant_type=password"
    response = http.post(TOKEN, content=form, auth=(APP, SECRET), headers={"content-type": "application/x-www-form-urlencoded"})
    lumen_error(response, 400, "invalidRequest")


@pytest.mark.mockidp(world={"lumen": {"b2c_tenant": "nobody", "apps": [{"client_id": APP, "secret": SECRET}]}})
def test_liam_pointing_at_a_missing_b2c_tenant(http) -> None:
    assert lumen_error(http.post(TOKEN, data=GRANT, auth=(APP, SECRET)), 401, "invalidCredentials")["referenceError"] == "AADSTS90002"
    assert_assertion_rejected(http, "a.b.c", APP, 401, "invalidAssertion")
