"""Lumen Portal Framework (/pfw): authorization code + PKCE through the login page, refresh rotation, userinfo,
discovery and keys, driven by httpx as a browser and a client would."""

from __future__ import annotations

import httpx
import jwt as pyjwt
import pytest
from pfw_login import CLIENT, REDIRECT, SECRET, authorize_url, exchange, press, query_of, sign_in

SPA, SPA_REDIRECT = "demo-control-center-spa", "http://localhost:8080/callback"


def oauth_error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    return str(response.json()["error_description"])


def test_code_flow_with_pkce(mockidp, http) -> None:
    query, verifier = sign_in(mockidp)
    assert query["state"] == "st-1" and query["iss"] == mockidp.base("pfw")
    body = exchange(http, query["code"], verifier).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1800 and body["refresh_token"]
    jwks = pyjwt.PyJWKClient(mockidp.base("pfw") + "/jwks", ssl_context=mockidp.ssl_context)
    id_token = pyjwt.decode(body["id_token"], jwks.get_signing_key_from_jwt(body["id_token"]).key, algorithms=["RS256"],
                            audience=CLIENT, issuer=mockidp.base("pfw"))
    assert id_token["nonce"] == "n-1" and id_token["name"] == "Demo Billing User" and id_token["email"] == "demo.billing@example.com"
    access = pyjwt.decode(body["access_token"], options={"verify_signature": False})
    assert access["azp"] == CLIENT and access["bans"] == ["5-ABCDEF12"] and access["accounts"] == ["1-DEMO1234"]
    info = http.get("/pfw/oauth2/userinfo", headers={"authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200 and info.json()["preferred_username"] == "demo-billing-user"


def test_password_login_and_bad_password(mockidp) -> None:
    url, _ = authorize_url(mockidp)
    wrong = press(mockidp, url, {"username": "demo-portal-user", "password": "nope", "action": "login"})
    assert wrong.status_code == 200 and "Invalid username or password." in wrong.text
    assert "code" in query_of(press(mockidp, url, {"username": "demo-portal-user", "password": "demo-portal-password", "action": "login"}))


def test_deny_is_access_denied(mockidp) -> None:
    url, _ = authorize_url(mockidp)
    query = query_of(press(mockidp, url, {"action": "deny"}))
    assert query["error"] == "access_denied" and query["state"] == "st-1"


@pytest.mark.parametrize(("client", "redirect", "message"), [
    ("no-such-client", REDIRECT, "Unknown client_id."),
    (SPA, "https://evil.example/callback", "Invalid parameter: redirect_uri"),
    (SPA, "", "Invalid parameter: redirect_uri"),
])
def test_error_page_never_redirects(mockidp, http, client, redirect, message) -> None:
    url, _ = authorize_url(mockidp, client=client, redirect=redirect)
    page = http.get(url)
    assert page.status_code == 400 and "location" not in page.headers and message in page.text


@pytest.mark.parametrize(("extra", "error"), [
    ({"code_challenge": "", "code_challenge_method": ""}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "openid admin"}, "invalid_scope"),
])
def test_authorize_errors_go_back_to_the_client(mockidp, http, extra, error) -> None:
    url, _ = authorize_url(mockidp, client=SPA, redirect=SPA_REDIRECT, **extra)
    answer = http.get(url)
    assert answer.headers["location"].startswith(SPA_REDIRECT)
    assert query_of(answer)["error"] == error


@pytest.mark.parametrize(("verifier", "fragment"), [
    (None, "code_verifier is required"),
    ("x" * 43, "does not match"),
    ("short", "43-128"),
])
def test_pkce_failures(mockidp, http, verifier, fragment) -> None:
    query, _ = sign_in(mockidp)
    assert fragment in oauth_error(exchange(http, query["code"], verifier), 400, "invalid_grant")


def test_code_is_single_use_and_replay_ends_the_sign_in(mockidp, http) -> None:
    query, verifier = sign_in(mockidp)
    first = exchange(http, query["code"], verifier).json()
    oauth_error(exchange(http, query["code"], verifier), 400, "invalid_grant")
    # RFC 6749 §4.1.2: the replay revokes what the code issued
    info = http.get("/pfw/oauth2/userinfo", headers={"authorization": f"Bearer {first['access_token']}"})
    assert info.status_code == 401 and 'error="invalid_token"' in info.headers["www-authenticate"]
    refresh = http.post("/pfw/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, auth=(CLIENT, SECRET))
    oauth_error(refresh, 400, "invalid_grant")


def test_code_checks(mockidp, http) -> None:
    query, verifier = sign_in(mockidp)
    oauth_error(exchange(http, query["code"], verifier, redirect_uri="http://127.0.0.1:9/other"), 400, "invalid_grant")
    query, verifier = sign_in(mockidp)
    mockidp.clock.advance(61)
    assert "expired" in oauth_error(exchange(http, query["code"], verifier), 400, "invalid_grant")


def test_refresh_rotates_and_reuse_ends_the_family(mockidp, http) -> None:
    query, verifier = sign_in(mockidp)
    first = exchange(http, query["code"], verifier).json()

    def refresh(token: str, **extra: str) -> httpx.Response:
        return http.post("/pfw/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": token, **extra}, auth=(CLIENT, SECRET))

    second = refresh(first["refresh_token"], scope="openid").json()
    assert second["refresh_token"] != first["refresh_token"] and second["scope"] == "openid"
    oauth_error(refresh(second["refresh_token"], scope="openid email"), 400, "invalid_scope")
    oauth_error(refresh(first["refresh_token"]), 400, "invalid_grant")  # reuse of a rotated token...
    oauth_error(refresh(second["refresh_token"]), 400, "invalid_grant")  # ...ends every token of the sign-in (RFC 9700 §4.14.2)


def test_token_endpoint_errors(mockidp, http) -> None:
    oauth_error(http.post("/pfw/oauth2/token", data={}, auth=(CLIENT, SECRET)), 400, "invalid_request")
    oauth_error(http.post("/pfw/oauth2/token", data={"grant_type": "password"}, auth=(CLIENT, SECRET)), 400, "unsupported_grant_type")
    bad = http.post("/pfw/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": "x"}, auth=(CLIENT, "wrong"))
    oauth_error(bad, 401, "invalid_client")
    assert bad.headers["www-authenticate"].startswith("Basic")
    oauth_error(http.post("/pfw/oauth2/token", content=b"grant_type=refresh_token&grant_type=refresh_token",
                          headers={"content-type": "application/x-www-form-urlencoded"}, auth=(CLIENT, SECRET)), 400, "invalid_request")


def test_public_client_exchanges_with_pkce_alone(mockidp, http) -> None:
    query, verifier = sign_in(mockidp, client=SPA, redirect=SPA_REDIRECT)
    token = http.post("/pfw/oauth2/token", data={"grant_type": "authorization_code", "client_id": SPA, "code": query["code"],
                                                 "redirect_uri": SPA_REDIRECT, "code_verifier": verifier})
    assert token.status_code == 200 and token.json()["access_token"]


def test_userinfo_refuses_foreign_tokens(mockidp, http) -> None:
    liam = http.post("/lumen/oauth/v2/token", data={"grant_type": "client_credentials"},
                     auth=("55555555-5555-5555-5555-555555555555", "demo-b2c-secret")).json()["access_token"]
    assert http.get("/pfw/oauth2/userinfo", headers={"authorization": f"Bearer {liam}"}).status_code == 401
    assert http.get("/pfw/oauth2/userinfo").headers["www-authenticate"] == 'Bearer realm="pfw"'


def test_discovery_and_keys(mockidp, http) -> None:
    meta = http.get("/pfw/.well-known/openid-configuration").json()
    base = mockidp.base("pfw")
    assert meta["issuer"] == base and meta["token_endpoint"] == base + "/oauth2/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    keys = http.get("/pfw/jwks").json()["keys"]
    assert keys and all("d" not in k for k in keys)
