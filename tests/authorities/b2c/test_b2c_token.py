"""Azure AD B2C client credentials (/b2c/{tenant}.onmicrosoft.com/{policy}/oauth2/v2.0/token): B2C's response
fields and claims, its discovery and keys, and every rejection in B2C's error shape."""

from __future__ import annotations

import pytest

from mockidp.tokens import TokenInvalid, peek, verify

POLICY = "/b2c/lumendemo.onmicrosoft.com/B2C_1_client_credentials"
TOKEN = POLICY + "/oauth2/v2.0/token"
APP, SECRET = "55555555-5555-5555-5555-555555555555", "demo-b2c-secret"
LIAM_API, LIAM_APP_ID = "https://lumendemo.onmicrosoft.com/liam", "77777777-7777-7777-7777-777777777777"
CC = {"grant_type": "client_credentials", "client_id": APP, "client_secret": SECRET, "scope": LIAM_API + "/.default"}


def b2c_error(response, status: int, error: str, code: str | None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    description = body["error_description"]
    if code:
        assert description.startswith(code + ": ")
    assert "\r\nCorrelation ID: " in description and "\r\nTimestamp: " in description
    assert body["error_codes"] == ([int(code.removeprefix("AADB2C").removeprefix("AADSTS"))] if code else [])
    return description


def test_client_credentials_token_carries_b2c_claims(mockidp, http) -> None:
    response = http.post(TOKEN, data=CC)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["resource"] == LIAM_APP_ID
    assert body["expires_on"] - body["not_before"] == 3600
    header, claims = verify(body["access_token"], mockidp.authority("b2c").tenant_keyset(mockidp.authority("b2c").tenants["lumendemo"]), now=mockidp.clock.now())
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["iss"] == mockidp.base("b2c") + "/66666666-6666-6666-6666-666666666666/v2.0/"
    assert claims["aud"] == LIAM_APP_ID and claims["azp"] == APP and claims["sub"] not in (APP, "")
    assert claims["scp"] == "liam.access" and claims["tfp"] == "B2C_1_client_credentials" and claims["ver"] == "1.0"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]


def test_basic_credentials_and_api_client_id_scope(http) -> None:
    data = {"grant_type": "client_credentials", "scope": f"https://lumendemo.onmicrosoft.com/{LIAM_APP_ID}/.default"}
    response = http.post(TOKEN, data=data, auth=(APP, SECRET))
    assert response.status_code == 200, response.text
    assert peek(response.json()["access_token"])[1]["aud"] == LIAM_APP_ID


def test_discovery_and_keys_verify_the_token(http) -> None:
    config = http.get(POLICY + "/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"].endswith(TOKEN) and config["issuer"].endswith("/66666666-6666-6666-6666-666666666666/v2.0/")
    jwks = http.get(POLICY + "/discovery/v2.0/keys").json()
    kid = peek(http.post(TOKEN, data=CC).json()["access_token"])[0]["kid"]
    assert kid in [k["kid"] for k in jwks["keys"]]


def test_real_host_routing(mockidp, http) -> None:
    host = {"host": "lumendemo.b2clogin.com"}
    config = http.get("/lumendemo.onmicrosoft.com/B2C_1_client_credentials/v2.0/.well-known/openid-configuration", headers=host).json()
    assert config["token_endpoint"] == "https://lumendemo.b2clogin.com/lumendemo.onmicrosoft.com/B2C_1_client_credentials/oauth2/v2.0/token"
    response = http.post("/lumendemo.onmicrosoft.com/B2C_1_client_credentials/oauth2/v2.0/token", data=CC, headers=host)
    assert peek(response.json()["access_token"])[1]["iss"] == "https://lumendemo.b2clogin.com/66666666-6666-6666-6666-666666666666/v2.0/"


@pytest.mark.parametrize(
    ("change", "status", "error", "code"),
    [
        ({"grant_type": None}, 400, "invalid_request", "AADB2C90083"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", "AADB2C90086"),
        ({"client_id": None}, 400, "invalid_request", "AADB2C90083"),
        ({"client_id": "99999999-9999-9999-9999-999999999999"}, 400, "unauthorized_client", "AADB2C90018"),
        ({"client_secret": None}, 400, "invalid_request", "AADB2C90079"),
        ({"client_secret": "wrong"}, 401, "invalid_client", "AADB2C90081"),
        ({"scope": None}, 400, "invalid_request", "AADB2C90083"),
        ({"scope": LIAM_API + "/liam.access"}, 400, "invalid_scope", "AADB2C90117"),
        ({"scope": "https://lumendemo.onmicrosoft.com/nothing/.default"}, 400, "invalid_scope", "AADB2C90117"),
        ({"scope": f"{LIAM_API}/.default https://x/.default"}, 400, "invalid_scope", "AADB2C90146"),
        ({"client_id": LIAM_APP_ID, "client_secret": "liam-b2c-api-secret"}, 400, "unauthorized_client", "AADB2C90205"),
        ({"client_secret": None, "client_assertion": "x.y.z", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, 400, "invalid_request", "AADB2C99027"),
    ],
)
def test_token_rejections(http, change, status, error, code) -> None:
    data = {k: v for k, v in {**CC, **change}.items() if v is not None}
    b2c_error(http.post(TOKEN, data=data), status, error, code)


def test_unknown_tenant_and_policy(http) -> None:
    response = http.post("/b2c/nobody.onmicrosoft.com/B2C_1_client_credentials/oauth2/v2.0/token", data=CC)
    b2c_error(response, 400, "invalid_tenant", "AADSTS90002")
    response = http.get("/b2c/lumendemo.onmicrosoft.com/B2C_1_nope/v2.0/.well-known/openid-configuration")
    assert "B2C_1_nope" in b2c_error(response, 404, "invalid_request", None)


def test_b2c_tokens_expire(mockidp, http) -> None:
    token = http.post(TOKEN, data=CC).json()["access_token"]
    b2c = mockidp.authority("b2c")
    assert b2c.verify_access_token("lumendemo", token)["azp"] == APP
    mockidp.clock.advance(3601)
    with pytest.raises(TokenInvalid) as info:
        b2c.verify_access_token("lumendemo", token)
    assert info.value.reason == "expired"


def test_a_lumen_registration_is_a_b2c_app(mockidp, http) -> None:
    app = mockidp.authority("lumen").register_app(["5-NEW00001"], "1-NEW00001")
    response = http.post(TOKEN, data={**CC, "client_id": app.client_id, "client_secret": app.secret})
    assert peek(response.json()["access_token"])[1]["azp"] == app.client_id
    mockidp.reset()  # runtime registrations are dropped
    b2c_error(http.post(TOKEN, data={**CC, "client_id": app.client_id, "client_secret": app.secret}), 400, "unauthorized_client", "AADB2C90018")


def test_duplicated_parameters(http) -> None:
    form = "grant_type=client_credentials&scope=a&scope=b&client_id=" + APP + "&client_secret=" + SECRET
    response = http.post(TOKEN, content=form, headers={"content-type": "application/x-www-form-urlencoded"})
    b2c_error(response, 400, "invalid_request", "AADB2C90122")
