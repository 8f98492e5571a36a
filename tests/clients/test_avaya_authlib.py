"""authlib's httpx clients (OAuth2Client, AsyncOAuth2Client) against the Avaya A&A emulation over HTTPS:
client credentials with client_secret_basic / client_secret_post / private_key_jwt, and the authorization code
flow with PKCE, driven through the login page by the test as a browser would (GET the page, POST its form)."""

from __future__ import annotations

import asyncio
import secrets
import warnings
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt as pyjwt
import pytest
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from html_forms import Page

from mockidp.engine import PACKAGE_KEYS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # authlib nudges toward httpx2; the httpx-based clients are what users have
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client

KEYS = PACKAGE_KEYS  # the development keys, package data (mockidp/data/keys)
JWT_CLIENT_KEY = (KEYS / "avaya-demo-jwt-client.key.pem").read_text()  # development key of demo-jwt-client
REDIRECT = "http://127.0.0.1:9/callback"  # never reached: the test reads the Location header, as a browser would follow it


def urls(mockidp) -> tuple[str, str, str]:
    oidc = mockidp.base("avaya") + "/auth/realms/demo-account/protocol/openid-connect"
    return oidc + "/auth", oidc + "/token", oidc + "/certs"


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


# --- client credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials_with_a_secret(mockidp, method) -> None:
    _, token_url, _ = urls(mockidp)
    with OAuth2Client("demo-client", "demo-client-secret", token_endpoint_auth_method=method, verify=mockidp.ssl_context) as client:
        token = client.fetch_token(token_url, grant_type="client_credentials")
    assert token["token_type"] == "bearer" and token["expires_in"] == 900
    assert claims_of(token["access_token"])["azp"] == "demo-client"
    sent = mockidp.journal.entries(endpoint="token")[-1]
    if method == "client_secret_basic":
        assert sent["headers"]["authorization"] == "***" and "client_secret" not in sent["params"]
    else:
        assert sent["params"]["client_secret"] == "***" and "authorization" not in sent["headers"]


def test_client_credentials_with_private_key_jwt(mockidp) -> None:
    _, token_url, _ = urls(mockidp)
    with OAuth2Client("demo-jwt-client", JWT_CLIENT_KEY, token_endpoint_auth_method="private_key_jwt", verify=mockidp.ssl_context) as client:
        client.register_client_auth_method(PrivateKeyJWT(token_url))
        token = client.fetch_token(token_url, grant_type="client_credentials", scope="interactions")
    claims = claims_of(token["access_token"])
    assert claims["azp"] == "demo-jwt-client" and claims["preferred_username"] == "service-account-demo-jwt-client"
    assert "interactions:read" in claims["realm_access"]["roles"]
    assert mockidp.journal.entries(endpoint="token")[-1]["params"]["client_assertion"] == "***"


def test_private_key_jwt_replay_and_wrong_key_are_refused(mockidp) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    _, token_url, _ = urls(mockidp)
    assertion = PrivateKeyJWT(token_url).sign(type("Auth", (), {"client_id": "demo-jwt-client", "client_secret": JWT_CLIENT_KEY})(), token_url)
    form = {"grant_type": "client_credentials", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion}
    with mockidp.http() as http:
        assert http.post(token_url, data=form).status_code == 200  # the client_id comes from the assertion
        assert mockidp.journal.entries(endpoint="token")[-1]["client_id"] == "demo-jwt-client"  # and the journal says so
        replayed = http.post(token_url, data=form)
        assert replayed.status_code == 401 and replayed.json()["error"] == "unauthorized_client"
        assert replayed.json()["error_description"] == "Client authentication with signed JWT failed: the assertion's jti was already used"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with OAuth2Client("demo-jwt-client", stranger, token_endpoint_auth_method="private_key_jwt", verify=mockidp.ssl_context) as client:
        client.register_client_auth_method(PrivateKeyJWT(token_url))
        with pytest.raises(Exception) as refused:
            client.fetch_token(token_url, grant_type="client_credentials")
    assert "unauthorized_client" in str(refused.value)


def test_async_client_credentials_all_three_methods(mockidp) -> None:
    _, token_url, _ = urls(mockidp)

    async def run() -> list[str]:
        azps = []
        for method in ("client_secret_basic", "client_secret_post"):
            async with AsyncOAuth2Client("demo-client", "demo-client-secret", token_endpoint_auth_method=method, verify=mockidp.ssl_context) as client:
                azps.append(claims_of((await client.fetch_token(token_url, grant_type="client_credentials"))["access_token"])["azp"])
        async with AsyncOAuth2Client("demo-jwt-client", JWT_CLIENT_KEY, token_endpoint_auth_method="private_key_jwt", verify=mockidp.ssl_context) as client:
            client.register_client_auth_method(PrivateKeyJWT(token_url))
            azps.append(claims_of((await client.fetch_token(token_url, grant_type="client_credentials"))["access_token"])["azp"])
        return azps

    assert asyncio.run(run()) == ["demo-client", "demo-client", "demo-jwt-client"]
    assert [e["status"] for e in mockidp.journal.entries(endpoint="token")] == [200, 200, 200]


# --- the login page, as a browser sees it ----------------------------------------------------------------


def browser_login(mockidp, auth_url: str, button: str = "kc-login", **typed: str) -> httpx.Response:
    """GET the authorization URL, then press a button of the page; the answer is the redirect (not followed)."""
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        page = browser.get(auth_url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
        form_id = "demo-users" if button.startswith("demo-") else "login-form"
        return Page(page.text).submit(browser, form_id, button, **typed)


def redirected_to(answer: httpx.Response) -> tuple[str, dict[str, str]]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    return location.split("?")[0], {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def verified(mockidp, token: str, audience: str) -> dict:
    _, _, certs = urls(mockidp)
    with mockidp.http() as http:
        jwks = http.get(certs).json()
    key = pyjwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == pyjwt.get_unverified_header(token)["kid"]))
    return pyjwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=mockidp.base("avaya") + "/auth/realms/demo-account")


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_authorization_code_with_pkce_through_the_login_form(mockidp, method) -> None:
    auth_url, token_url, _ = urls(mockidp)
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
    with OAuth2Client("demo-spa", redirect_uri=REDIRECT, scope="openid", token_endpoint_auth_method="none",
                      code_challenge_method="S256" if method == "S256" else None, verify=mockidp.ssl_context) as client:
        pkce = {"code_verifier": verifier} if method == "S256" else {"code_challenge": verifier, "code_challenge_method": "plain"}
        url, state = client.create_authorization_url(auth_url, nonce=nonce, **pkce)
        assert parse_qs(urlsplit(url).query)["code_challenge_method"] == [method]
        answer = browser_login(mockidp, url, username="demo-agent", password="demo-agent-password")
        target, query = redirected_to(answer)
        assert target == REDIRECT and query["state"] == state
        assert query["iss"] == mockidp.base("avaya") + "/auth/realms/demo-account"  # RFC 9207
        token = client.fetch_token(token_url, authorization_response=answer.headers["location"], code_verifier=verifier)
    assert token["session_state"] == query["session_state"] and list(token)[:3] == ["access_token", "expires_in", "refresh_expires_in"]
    id_claims = verified(mockidp, token["id_token"], "demo-spa")
    assert id_claims["nonce"] == nonce and id_claims["azp"] == "demo-spa" and id_claims["preferred_username"] == "demo-agent"
    access = claims_of(token["access_token"])
    assert access["auth_time"] <= access["iat"] and access["sid"] == query["session_state"]
    exchanged = mockidp.journal.entries(endpoint="token")[-1]
    assert exchanged["params"]["code_verifier"] == "***" and exchanged["client_id"] == "demo-spa"


def test_one_click_demo_user_and_a_confidential_client(mockidp) -> None:
    auth_url, token_url, _ = urls(mockidp)
    with OAuth2Client("demo-client", "demo-client-secret", redirect_uri=REDIRECT, scope="openid interactions", verify=mockidp.ssl_context) as client:
        url, state = client.create_authorization_url(auth_url, nonce="n-1")
        answer = browser_login(mockidp, url, button="demo-demo-admin")
        _, query = redirected_to(answer)
        token = client.fetch_token(token_url, authorization_response=answer.headers["location"])
        refreshed = client.refresh_token(token_url)
    claims = claims_of(token["access_token"])
    assert claims["preferred_username"] == "demo-admin" and "account-admin" in claims["realm_access"]["roles"]
    assert claims["scope"] == "openid profile email interactions" and query["state"] == state
    assert verified(mockidp, token["id_token"], "demo-client")["nonce"] == "n-1"
    assert refreshed["refresh_token"] != token["refresh_token"] and claims_of(refreshed["access_token"])["sid"] == claims["sid"]


def test_wrong_password_shows_the_page_again(mockidp) -> None:
    auth_url, _, _ = urls(mockidp)
    with OAuth2Client("demo-spa", redirect_uri=REDIRECT, code_challenge_method="S256") as client:
        url, _ = client.create_authorization_url(auth_url, code_verifier=secrets.token_urlsafe(48))
    again = browser_login(mockidp, url, username="demo-agent", password="wrong")
    assert again.status_code == 200 and 'id="login-error"' in again.text and "Invalid username or password." in again.text
    assert 'value="demo-agent"' in again.text  # the username stays typed in


def test_deny_goes_back_with_access_denied_and_state(mockidp) -> None:
    auth_url, _, _ = urls(mockidp)
    with OAuth2Client("demo-spa", redirect_uri=REDIRECT, scope="openid") as client:
        url, state = client.create_authorization_url(auth_url)
    target, query = redirected_to(browser_login(mockidp, url, button="deny"))
    assert target == REDIRECT
    assert (query["error"], query["error_description"], query["state"]) == ("access_denied", "User denied the request", state)
    assert "code" not in query


@pytest.mark.parametrize(("client_id", "redirect_uri", "message"), [
    ("demo-spa", "https://evil.example/callback", "Invalid parameter: redirect_uri"),
    ("demo-spa", "", "Invalid parameter: redirect_uri"),
    ("no-such-client", REDIRECT, "Client not found."),
])
def test_bad_client_or_redirect_uri_shows_an_error_page_and_never_redirects(mockidp, client_id, redirect_uri, message) -> None:
    auth_url, _, _ = urls(mockidp)
    with OAuth2Client(client_id, redirect_uri=redirect_uri or None) as client:
        url, _ = client.create_authorization_url(auth_url, state="s")
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        page = browser.get(url)
    assert page.status_code == 400 and "location" not in page.headers
    assert f'id="error-message">{message}<' in page.text


def test_unsupported_response_type_and_bad_scope_go_back_to_the_client(mockidp) -> None:
    auth_url, _, _ = urls(mockidp)
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        token_flow = browser.get(auth_url, params={"client_id": "demo-spa", "redirect_uri": REDIRECT, "response_type": "token", "state": "a"})
        bad_scope = browser.get(auth_url, params={"client_id": "demo-spa", "redirect_uri": REDIRECT, "response_type": "code", "state": "b", "scope": "openid admin"})
    assert redirected_to(token_flow)[1]["error"] == "unsupported_response_type"
    assert redirected_to(bad_scope)[1] | {"iss": ""} == {"error": "invalid_scope", "error_description": "Invalid scopes: openid admin", "state": "b", "iss": ""}
