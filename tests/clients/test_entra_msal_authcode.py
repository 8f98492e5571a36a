"""Real clients signing a user in against the Entra emulation over HTTPS: MSAL Python's auth code flow
(ConfidentialClientApplication and PublicClientApplication, PKCE), then acquire_token_silent through the refresh
token once the clock has moved past expiry; authlib's OAuth2Session with PKCE. The test plays the browser: it reads
the sign-in page with httpx, posts its form and hands the redirect's query back to the client.
A fresh MSAL app object per test: MSAL caches answers on the object."""

from __future__ import annotations

import time
import types
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt as pyjwt
import msal
import pytest
import requests
from html_forms import Page

TENANT = "11111111-1111-1111-1111-111111111111"
WEB_APP, SECRET = "22222222-2222-2222-2222-222222222222", "demo-app-secret"
PUBLIC_APP = "24242424-2424-2424-2424-242424242424"
API_APP, SCOPE = "44444444-4444-4444-4444-444444444444", "api://fivedegrees-demo-api/Api.Read"
USER, PASSWORD = "demo.user@fivedegrees-demo.onmicrosoft.com", "demo-user-password"
REDIRECT = "http://localhost:8400"


@pytest.fixture(autouse=True)
def trust_mockidp(mockidp, monkeypatch):
    """requests lets $REQUESTS_CA_BUNDLE win over a session's `verify`: point it at mockidp's CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockidp.ca_bundle))


def browse(mockidp, auth_uri: str, button: str = "kc-login") -> httpx.Response:
    """What a person does: open the sign-in page, type the password (or click a demo user, or Deny), press the button."""
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        page = browser.get(auth_uri)
        assert page.status_code == 200, page.text
        typed = {"username": USER, "password": PASSWORD} if button == "kc-login" else {}
        return Page(page.text).submit(browser, "demo-users" if button.startswith("demo-") else "login-form", button, **typed)


def auth_response(answer: httpx.Response) -> dict[str, str]:
    """What reaches the redirect URI: the form a form_post page posts there, or the query of the redirect."""
    if answer.status_code == 200:
        form = Page(answer.text).forms["form-post"]
        assert form["action"] == REDIRECT, answer.text
        return form["fields"]
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def session(mockidp) -> requests.Session:
    http = requests.Session()
    http.verify = str(mockidp.ca_bundle)
    return http


def web_app(mockidp) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(WEB_APP, client_credential=SECRET, authority=f"{mockidp.base('entra')}/{TENANT}",
                                              instance_discovery=False, http_client=session(mockidp))


def public_app(mockidp) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(PUBLIC_APP, authority=f"{mockidp.base('entra')}/{TENANT}", instance_discovery=False,
                                        http_client=session(mockidp))


def move_time(mockidp, monkeypatch, seconds: int) -> None:
    """The engine's clock and MSAL's idea of now (its token cache reads time.time()) move together."""
    mockidp.clock.advance(seconds)
    shifted = types.SimpleNamespace(time=lambda: time.time() + seconds)
    for module in (msal.application, msal.token_cache):
        monkeypatch.setattr(module, "time", shifted)


def claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


@pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")
@pytest.mark.parametrize(("kind", "mode"), [("confidential", "form_post"), ("public", None)])
def test_msal_auth_code_flow_then_silent_refresh(mockidp, monkeypatch, kind, mode) -> None:
    app = web_app(mockidp) if kind == "confidential" else public_app(mockidp)
    flow = app.initiate_auth_code_flow([SCOPE], redirect_uri=REDIRECT, login_hint=USER, response_mode=mode)
    assert "code_challenge=" in flow["auth_uri"]  # MSAL always sends PKCE (S256)
    result = app.acquire_token_by_auth_code_flow(flow, auth_response(browse(mockidp, flow["auth_uri"])))
    assert "access_token" in result, result
    assert (result["id_token_claims"]["preferred_username"], result["id_token_claims"]["aud"]) == (USER, app.client_id)
    first = claims(result["access_token"])
    assert (first["aud"], first["scp"], first["azp"], first["azpacr"]) == (API_APP, "Api.Read", app.client_id, "1" if kind == "confidential" else "0")
    account = app.get_accounts()[0]
    assert account["username"] == USER and account["home_account_id"] == f"{first['oid']}.{TENANT}"
    cached = app.acquire_token_silent([SCOPE], account=account)
    assert cached["access_token"] == result["access_token"] and cached["token_source"] == "cache"

    move_time(mockidp, monkeypatch, 3700)  # past expires_in 3599: MSAL must use the refresh token
    renewed = app.acquire_token_silent([SCOPE], account=account)
    assert renewed and renewed["token_source"] == "identity_provider", renewed
    assert renewed["access_token"] != result["access_token"] and claims(renewed["access_token"])["exp"] > mockidp.clock.now()


def test_msal_sees_deny_as_access_denied(mockidp) -> None:
    app = web_app(mockidp)
    flow = app.initiate_auth_code_flow([SCOPE], redirect_uri=REDIRECT, response_mode="form_post")
    result = app.acquire_token_by_auth_code_flow(flow, auth_response(browse(mockidp, flow["auth_uri"], "deny")))
    assert result["error"] == "access_denied" and result["error_description"].startswith("AADSTS65004:")


def test_msal_pkce_mismatch_and_replayed_code(mockidp) -> None:
    app = web_app(mockidp)
    flow = app.initiate_auth_code_flow([SCOPE], redirect_uri=REDIRECT, response_mode="form_post")
    response = auth_response(browse(mockidp, flow["auth_uri"], f"demo-{USER}"))
    tampered = {**flow, "code_verifier": flow["code_verifier"][::-1]}
    refused = app.acquire_token_by_auth_code_flow(tampered, response)
    assert refused["error"] == "invalid_grant" and refused["error_codes"] == [501481], refused
    replay = web_app(mockidp).acquire_token_by_auth_code_flow(flow, response)  # the code was spent by the first try
    assert replay["error"] == "invalid_grant" and replay["error_codes"] == [54005], replay


def test_msal_auth_uri_with_an_unregistered_redirect_is_an_error_page(mockidp) -> None:
    flow = web_app(mockidp).initiate_auth_code_flow([SCOPE], redirect_uri="https://app.example/callback", response_mode="form_post")
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        page = browser.get(flow["auth_uri"])
    assert page.status_code == 400 and "location" not in page.headers and "AADSTS50011" in page.text


def test_authlib_oauth2_session_code_flow_with_pkce(mockidp) -> None:
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session

    base = f"{mockidp.base('entra')}/{TENANT}/oauth2/v2.0"
    client = OAuth2Session(WEB_APP, SECRET, scope=f"openid profile offline_access {SCOPE}", redirect_uri=REDIRECT,
                           code_challenge_method="S256", token_endpoint_auth_method="client_secret_post")
    client.verify = str(mockidp.ca_bundle)
    verifier = generate_token(48)
    url, _state = client.create_authorization_url(f"{base}/authorize", code_verifier=verifier, nonce="authlib-nonce")
    location = browse(mockidp, url).headers["location"]
    token = client.fetch_token(f"{base}/token", authorization_response=location, code_verifier=verifier)
    assert claims(token["id_token"])["nonce"] == "authlib-nonce" and claims(token["access_token"])["scp"] == "Api.Read"
    renewed = client.refresh_token(f"{base}/token")
    assert renewed["refresh_token"] != token["refresh_token"] and claims(renewed["access_token"])["aud"] == API_APP
