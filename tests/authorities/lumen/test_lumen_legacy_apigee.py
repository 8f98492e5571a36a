"""APIGEE's legacy token endpoint on the api.lumen.com stand-in (/lumen/oauth/token): Apigee's response and
`{"ErrorCode", "Error"}` shapes, its own keys."""

from __future__ import annotations

import jwt as pyjwt
import pytest

KEY, SECRET = "demo-apigee-consumer-key", "demo-apigee-consumer-secret"
GRANT = {"grant_type": "client_credentials"}


def apigee_error(response, status: int, code: str, text: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"ErrorCode": code, "Error": text}


def test_token_in_apigee_shape(mockidp, http) -> None:
    mockidp.clock.advance(0)
    response = http.post("/lumen/oauth/token", data=GRANT, auth=(KEY, SECRET), headers={"accept": "application/json"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "BearerToken" and body["status"] == "approved" and body["client_id"] == KEY
    assert body["expires_in"] == "3599" and body["issued_at"].isdigit() and body["api_product_list_json"] == ["LegacyAPIs"]
    keys = http.get("/lumen/oauth/jwks").json()
    header = pyjwt.get_unverified_header(body["access_token"])
    jwk = next(k for k in keys["keys"] if k["kid"] == header["kid"])
    claims = pyjwt.decode(body["access_token"], pyjwt.PyJWK(jwk).key, algorithms=["RS256"], audience="api.lumen.com")
    assert claims["iss"] == mockidp.base("lumen") + "/oauth" and claims["client_id"] == KEY
    liam_kids = {k["kid"] for k in http.get("/lumen/oauth/v2/jwks").json()["keys"]}
    assert header["kid"] not in liam_kids


def test_grant_type_in_query_and_credentials_in_form(http) -> None:
    response = http.post("/lumen/oauth/token?grant_type=client_credentials", data={"client_id": KEY, "client_secret": SECRET})
    assert response.status_code == 200 and response.json()["access_token"]


@pytest.mark.parametrize(("data", "auth", "status", "code", "text"), [
    (GRANT, None, 401, "invalid_client", "Client identifier is required"),
    ({}, (KEY, SECRET), 400, "invalid_request", "Required param : grant_type"),
    ({"grant_type": "password"}, (KEY, SECRET), 400, "unsupported_grant_type", "Unsupported grant type : password"),
    (GRANT, ("unknown-key", SECRET), 401, "invalid_client", "ClientId is Invalid"),
    (GRANT, (KEY, "wrong-secret"), 401, "invalid_client", "ClientId is Invalid"),
])
def test_errors(http, data, auth, status, code, text) -> None:
    apigee_error(http.post("/lumen/oauth/token", data=data, auth=auth), status, code, text)


def test_revoked_app_and_its_tokens(mockidp, http) -> None:
    token = http.post("/lumen/oauth/token", data=GRANT, auth=(KEY, SECRET)).json()["access_token"]
    route = "/lumen/Legacy/v1/customerAccount"
    assert http.get(route, headers={"authorization": f"Bearer {token}"}).status_code == 200
    mockidp.control.world_add("lumen/apigee_apps", {"consumer_key": KEY, "consumer_secret": SECRET, "status": "revoked"})
    apigee_error(http.post("/lumen/oauth/token", data=GRANT, auth=(KEY, SECRET)), 401, "invalid_client", "ClientId is Invalid")
    assert http.get(route, headers={"authorization": f"Bearer {token}"}).json()["code"] == "invalidToken"


def test_real_host_and_expiry(mockidp, http) -> None:
    host = {"host": "api.lumen.com"}
    token = http.post("/oauth/token", data=GRANT, auth=(KEY, SECRET), headers=host).json()["access_token"]
    assert pyjwt.decode(token, options={"verify_signature": False})["iss"] == "https://api.lumen.com/oauth"
    assert http.get("/Legacy/v1/customerAccount", headers={"authorization": f"Bearer {token}", **host}).status_code == 200
    mockidp.clock.advance(3600)
    assert http.get("/Legacy/v1/customerAccount", headers={"authorization": f"Bearer {token}", **host}).json()["code"] == "expiredToken"
