"""Entra's authorization code flow on the wire: the sign-in page driven as a browser would (httpx, forms parsed and
posted, redirects read, not followed), the code and refresh grants, and every error's AADSTS code."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt as pyjwt
import pytest
from html_forms import Page

TENANT = "11111111-1111-1111-1111-111111111111"
WEB_APP, SECRET = "22222222-2222-2222-2222-222222222222", "demo-app-secret"
PUBLIC_APP = "24242424-2424-2424-2424-242424242424"
API_APP, API = "44444444-4444-4444-4444-444444444444", "api://fivedegrees-demo-api"
USER, PASSWORD = "demo.user@fivedegrees-demo.onmicrosoft.com", "demo-user-password"
REDIRECT = "http://localhost:8400"
GRAPH_APP = "00000003-0000-0000-c000-000000000000"


def authorize_url(mockidp, client_id: str = WEB_APP, **params: str) -> str:
    query = {"client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": f"openid profile email offline_access {API}/Api.Read",
             "state": "st-1", "nonce": "n-1", **params}
    return f"{mockidp.base('entra')}/{TENANT}/oauth2/v2.0/authorize?" + urlencode({k: v for k, v in query.items() if v is not None})


def sign_in(mockidp, url: str, button: str = "kc-login", **typed: str) -> httpx.Response:
    """GET the authorize URL, then press a button of the page as a browser would; the answer (redirect not followed)."""
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        page = browser.get(url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
        if button == "kc-login":
            typed = {"username": USER, "password": PASSWORD, **typed}
        return Page(page.text).submit(browser, "demo-users" if button.startswith("demo-") else "login-form", button, **typed)


def redirected(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def redeem(http, code: str, client_id: str = WEB_APP, secret: str | None = SECRET, **extra: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "client_id": client_id, "code": code, "redirect_uri": REDIRECT, **extra}
    if secret:
        form["client_secret"] = secret
    return http.post(f"/entra/{TENANT}/oauth2/v2.0/token", data={k: v for k, v in form.items() if v is not None})


def refresh(http, token: str, client_id: str = WEB_APP, secret: str | None = SECRET, **extra: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token, **extra}
    if secret:
        form["client_secret"] = secret
    return http.post(f"/entra/{TENANT}/oauth2/v2.0/token", data=form)


def aadsts(response: httpx.Response, error: str, code: int) -> str:
    body = response.json()
    assert (response.status_code, body["error"], body["error_codes"]) == (401 if error == "invalid_client" else 400, error, [code]), body
    return body["error_description"]


def verified(mockidp, http, token: str, audience: str) -> dict:
    jwks = http.get(f"/entra/{TENANT}/discovery/v2.0/keys").json()
    key = pyjwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == pyjwt.get_unverified_header(token)["kid"]), algorithm="RS256")
    return pyjwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=f"{mockidp.base('entra')}/{TENANT}/v2.0")


def code_for(mockidp, **params: str) -> str:
    return redirected(sign_in(mockidp, authorize_url(mockidp, **params)))["code"]


# --- the page and the happy path -------------------------------------------------------------------------


def test_the_sign_in_page_keeps_the_shared_element_ids_and_prefills_login_hint(mockidp) -> None:
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        page = browser.get(authorize_url(mockidp, login_hint=USER))
    assert page.status_code == 200
    for element in ('id="username"', 'id="password"', 'id="kc-login"', 'id="deny"', f'id="demo-{USER}"'):
        assert element in page.text
    assert f'value="{USER}"' in page.text


def test_code_flow_issues_v2_user_tokens_and_an_id_token(mockidp, http) -> None:
    verifier, challenge = pkce_pair()
    answer = redirected(sign_in(mockidp, authorize_url(mockidp, code_challenge=challenge, code_challenge_method="S256")))
    assert answer["state"] == "st-1" and answer["session_state"]
    response = redeem(http, answer["code"], code_verifier=verifier, client_info="1")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body) == {"token_type", "scope", "expires_in", "ext_expires_in", "access_token", "refresh_token", "id_token", "client_info"}
    assert (body["token_type"], body["scope"], body["expires_in"]) == ("Bearer", f"{API}/Api.Read", 3599)
    access = verified(mockidp, http, body["access_token"], API_APP)
    assert (access["scp"], access["roles"], access["ver"], access["azp"], access["azpacr"]) == ("Api.Read", ["Api.ReadWrite"], "2.0", WEB_APP, "1")
    assert (access["name"], access["preferred_username"], access["tid"]) == ("Demo User", USER, TENANT)
    idt = verified(mockidp, http, body["id_token"], WEB_APP)
    assert (idt["nonce"], idt["preferred_username"], idt["name"], idt["oid"], idt["ver"]) == ("n-1", USER, "Demo User", access["oid"], "2.0")
    assert idt["sub"] == access["sub"] != access["oid"] and idt["email"] == USER


def test_sub_is_pairwise_per_app(mockidp, http) -> None:
    verifier, challenge = pkce_pair()
    web = redeem(http, code_for(mockidp)).json()
    public = redeem(http, code_for(mockidp, client_id=PUBLIC_APP, code_challenge=challenge, code_challenge_method="S256"),
                    PUBLIC_APP, None, code_verifier=verifier).json()
    web_claims, public_claims = (pyjwt.decode(b["id_token"], options={"verify_signature": False}) for b in (web, public))
    assert web_claims["oid"] == public_claims["oid"] and web_claims["sub"] != public_claims["sub"]
    assert pyjwt.decode(public["access_token"], options={"verify_signature": False})["azpacr"] == "0"


def test_one_click_demo_user_and_plain_pkce(mockidp, http) -> None:
    verifier = secrets.token_urlsafe(40)
    answer = redirected(sign_in(mockidp, authorize_url(mockidp, code_challenge=verifier, code_challenge_method="plain"), f"demo-{USER}"))
    assert redeem(http, answer["code"], code_verifier=verifier).status_code == 200


def test_openid_scopes_alone_give_a_graph_token_that_userinfo_takes(mockidp, http) -> None:
    body = redeem(http, code_for(mockidp, scope="openid profile email")).json()
    assert "refresh_token" not in body and body["scope"] == "openid profile email https://graph.microsoft.com/User.Read"
    claims = pyjwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == GRAPH_APP and claims["scp"] == "openid profile email User.Read"
    info = http.get("/entra/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200 and info.json()["name"] == "Demo User" and info.json()["email"] == USER
    api_token = redeem(http, code_for(mockidp)).json()["access_token"]
    refused = http.get("/entra/oidc/userinfo", headers={"Authorization": f"Bearer {api_token}"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_response_modes_form_post_and_fragment(mockidp) -> None:
    posted = sign_in(mockidp, authorize_url(mockidp, response_mode="form_post"))
    assert posted.status_code == 200
    form = Page(posted.text).forms["form-post"]
    assert form["action"] == REDIRECT and form["fields"]["state"] == "st-1" and form["fields"]["code"]
    fragment = sign_in(mockidp, authorize_url(mockidp, response_mode="fragment"))
    assert fragment.status_code == 302 and "#" in fragment.headers["location"] and "code=" in urlsplit(fragment.headers["location"]).fragment


def test_loopback_redirect_any_port_but_not_another_path(mockidp) -> None:
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        assert browser.get(authorize_url(mockidp, redirect_uri="http://127.0.0.1:51234")).status_code == 200
        assert browser.get(authorize_url(mockidp, redirect_uri="http://localhost:9/signin-oidc")).status_code == 200
        refused = browser.get(authorize_url(mockidp, redirect_uri="http://localhost:8400/elsewhere"))
    assert refused.status_code == 400 and "location" not in refused.headers and "AADSTS50011" in refused.text


def test_discovery_names_userinfo_and_end_session_but_no_pkce_methods(mockidp, http) -> None:
    doc = http.get(f"/entra/{TENANT}/v2.0/.well-known/openid-configuration").json()
    base = mockidp.base("entra")
    assert doc["authorization_endpoint"] == f"{base}/{TENANT}/oauth2/v2.0/authorize"
    assert doc["end_session_endpoint"] == f"{base}/{TENANT}/oauth2/v2.0/logout" and doc["userinfo_endpoint"] == f"{base}/oidc/userinfo"
    assert "code_challenge_methods_supported" not in doc


# --- errors on the page -------------------------------------------------------------------------------------


def test_unknown_client_and_unregistered_redirect_are_pages_that_never_redirect(mockidp) -> None:
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        unknown = browser.get(authorize_url(mockidp, client_id="99999999-9999-9999-9999-999999999999"))
        wrong = browser.get(authorize_url(mockidp, redirect_uri="https://evil.example/cb"))
    assert unknown.status_code == 400 and "location" not in unknown.headers and "AADSTS700016" in unknown.text
    assert wrong.status_code == 400 and "location" not in wrong.headers
    assert ("AADSTS50011: The redirect URI &#39;https://evil.example/cb&#39; specified in the request does not match the redirect URIs "
            f"configured for the application &#39;{WEB_APP}&#39;") in wrong.text and 'id="error-message"' in wrong.text


def test_deny_goes_back_with_access_denied_65004_and_state(mockidp) -> None:
    answer = redirected(sign_in(mockidp, authorize_url(mockidp), "deny"))
    assert answer["error"] == "access_denied" and answer["state"] == "st-1" and answer["error_description"].startswith("AADSTS65004:")


def test_wrong_password_stays_on_the_page(mockidp) -> None:
    page = sign_in(mockidp, authorize_url(mockidp), password="nope")
    assert page.status_code == 200 and 'id="login-error"' in page.text and "incorrect" in page.text


@pytest.mark.parametrize(("params", "error", "code"), [
    ({"prompt": "none"}, "login_required", 50058),
    ({"response_type": "token"}, "unsupported_response_type", 700054),
    ({"scope": f"openid {API}/Api.Delete"}, "invalid_client", 650053),
    ({"scope": "openid api://nowhere/x"}, "invalid_resource", 500011),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request", 501491),
    ({"client_id": PUBLIC_APP}, "invalid_request", 9002325),  # a public client without PKCE
])
def test_authorize_errors_go_back_to_the_client(mockidp, params, error, code) -> None:
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        answer = redirected(browser.get(authorize_url(mockidp, **params)))
    assert (answer["error"], answer["state"]) == (error, "st-1") and answer["error_description"].startswith(f"AADSTS{code}:")


# --- errors at the token endpoint ----------------------------------------------------------------------------


def test_replayed_code_is_54005_and_ends_the_sign_in(mockidp, http) -> None:
    code = code_for(mockidp)
    first = redeem(http, code).json()
    assert "AADSTS54005: OAuth2 Authorization code was already redeemed" in aadsts(redeem(http, code), "invalid_grant", 54005)
    aadsts(refresh(http, first["refresh_token"]), "invalid_grant", 50173)


def test_pkce_mismatch_and_missing_verifier(mockidp, http) -> None:
    _, challenge = pkce_pair()
    text = aadsts(redeem(http, code_for(mockidp, code_challenge=challenge), code_verifier=pkce_pair()[0]), "invalid_grant", 501481)
    assert text.startswith("AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request")
    aadsts(redeem(http, code_for(mockidp, code_challenge=challenge, code_challenge_method="S256")), "invalid_request", 9002313)


def test_code_expires_after_ten_minutes_of_the_engine_clock(mockidp, http) -> None:
    code = code_for(mockidp)
    mockidp.clock.advance(601)
    aadsts(redeem(http, code), "invalid_grant", 70008)


def test_redirect_uri_must_match_and_the_client_must_be_the_same(mockidp, http) -> None:
    aadsts(redeem(http, code_for(mockidp), redirect_uri="http://localhost:8401"), "invalid_grant", 500112)
    aadsts(redeem(http, code_for(mockidp), secret="wrong"), "invalid_client", 7000215)
    aadsts(redeem(http, "not-a-code"), "invalid_grant", 9002313)


def test_public_client_presenting_a_secret_is_refused(mockidp, http) -> None:
    verifier, challenge = pkce_pair()
    code = code_for(mockidp, client_id=PUBLIC_APP, code_challenge=challenge)
    aadsts(redeem(http, code, PUBLIC_APP, "anything", code_verifier=verifier), "invalid_client", 700025)


def test_refresh_rotates_and_a_replayed_refresh_token_ends_the_sign_in(mockidp, http) -> None:
    first = redeem(http, code_for(mockidp)).json()
    mockidp.clock.advance(3700)
    second = refresh(http, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"] and second["id_token"]
    claims = pyjwt.decode(second["access_token"], options={"verify_signature": False})
    assert claims["scp"] == "Api.Read" and claims["exp"] > mockidp.clock.now()
    # Entra's refresh tokens are multi-resource: another scope of the API.
    wider = refresh(http, second["refresh_token"], scope=f"{API}/Api.ReadWrite offline_access").json()
    assert pyjwt.decode(wider["access_token"], options={"verify_signature": False})["scp"] == "Api.ReadWrite"
    aadsts(refresh(http, first["refresh_token"]), "invalid_grant", 50173)
    aadsts(refresh(http, wider["refresh_token"]), "invalid_grant", 50173)  # the whole sign-in ended
    aadsts(refresh(http, "garbage"), "invalid_grant", 9002313)


def test_two_resources_in_one_token_request_is_28000(mockidp, http) -> None:
    code = code_for(mockidp, scope=f"openid offline_access {API}/Api.Read api://fivedegrees-legacy-api/.default")
    aadsts(redeem(http, code, scope=f"{API}/Api.Read api://fivedegrees-legacy-api/.default"), "invalid_request", 28000)


def test_logout_with_id_token_hint_ends_the_refresh_tokens(mockidp, http) -> None:
    body = redeem(http, code_for(mockidp)).json()
    out = http.get(f"/entra/{TENANT}/oauth2/v2.0/logout", params={"id_token_hint": body["id_token"], "post_logout_redirect_uri": REDIRECT, "state": "bye"})
    assert out.status_code == 302 and out.headers["location"] == f"{REDIRECT}?state=bye"
    aadsts(refresh(http, body["refresh_token"]), "invalid_grant", 50173)
