"""Redirects only to registered URIs (issue 16 rows 5 and 6): the authorization endpoints answer an invalid
redirect_uri with their own error page (400, no Location) before any login page, and logout redirects only to a
post_logout_redirect_uri registered on the client the request names (Keycloak) or to a reply URL of the app (Entra)."""

from __future__ import annotations

from typing import Any

import pytest

REALM = "/avaya/auth/realms/demo-account/protocol/openid-connect"
ENTRA = "/entra/11111111-1111-1111-1111-111111111111/oauth2/v2.0"
ENTRA_APP = "22222222-2222-2222-2222-222222222222"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B
EVIL = "https://evil.example/x"


def is_error_page(resp: Any, text: str) -> None:
    assert resp.status_code == 400, (resp.status_code, resp.headers.get("location"), resp.text[:300])
    assert "location" not in resp.headers and "text/html" in resp.headers["content-type"]
    assert text in resp.text, resp.text[:500]


def avaya_authorize(http: Any, client_id: str, redirect_uri: str) -> Any:
    return http.get(REALM + "/auth", params={"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "openid",
                                             "state": "s", "code_challenge": CHALLENGE, "code_challenge_method": "S256"})


BAD_REDIRECTS = [
    ("demo-spa", "http://localhost@evil.example/"),  # userinfo: the browser goes to evil.example
    ("demo-spa", "http://localhost:80@evil.example/cb"),
    ("demo-spa", "http://localhost.evil.example/cb"),  # "http://localhost*" would have matched it
    ("demo-client", "javascript:alert(1)//http://127.0.0.1/"),
    ("demo-client", "data:text/html,<script>alert(1)</script>"),
    ("demo-client", "https://evil.example/callback"),  # demo-client no longer registers "*"
    ("demo-client", "http://127.0.0.1:9/callback?code=attacker"),
    ("demo-client", "http://127.0.0.1:9/callback?state=attacker"),
    ("demo-client", "http://127.0.0.1:9/callback?iss=https://evil.example"),
    ("demo-client", "http://127.0.0.1:9/../callback"),  # Keycloak turns wildcards off for a '..' segment
]


@pytest.mark.parametrize(("client_id", "redirect_uri"), BAD_REDIRECTS)
def test_keycloak_authorize_refuses_a_bad_redirect_uri_before_the_login_page(http: Any, client_id: str, redirect_uri: str) -> None:
    is_error_page(avaya_authorize(http, client_id, redirect_uri), "Invalid parameter: redirect_uri")


@pytest.mark.parametrize("client_id", ["demo-client", "demo-spa"])
@pytest.mark.parametrize("redirect_uri", ["http://127.0.0.1:9/callback", "http://localhost:8080/callback?app=1", "http://localhost/", "https://127.0.0.1/cb"])
def test_keycloak_authorize_still_shows_the_login_page_for_loopback_callbacks(http: Any, client_id: str, redirect_uri: str) -> None:
    resp = avaya_authorize(http, client_id, redirect_uri)
    assert resp.status_code == 200 and 'id="login-form"' in resp.text, resp.text[:300]


def test_a_bare_star_matches_nothing(mockidp: Any, http: Any) -> None:
    mockidp.control.world_add("avaya/realms/demo-account/clients", {"client_id": "star-client", "secret": "s", "redirect_uris": ["*"]})
    for uri in ("https://evil.example/cb", "http://127.0.0.1:9/callback"):
        is_error_page(avaya_authorize(http, "star-client", uri), "Invalid parameter: redirect_uri")


def test_pfw_authorize_refuses_userinfo_and_script_schemes(mockidp: Any, http: Any) -> None:
    for uri in ("http://localhost@evil.example/", "javascript:alert(1)", "https://evil.example/cb", "http://127.0.0.1:9/cb?code=x"):
        resp = http.get("/pfw/oauth2/authorize", params={"response_type": "code", "client_id": "demo-control-center", "redirect_uri": uri,
                                                          "code_challenge": CHALLENGE, "code_challenge_method": "S256"})
        is_error_page(resp, "Invalid parameter: redirect_uri")


@pytest.mark.parametrize("uri", ["http://localhost@evil.example/", "http://localhost/?code=attacker", "http://localhost/#x"])
def test_entra_authorize_refuses_a_bad_redirect_uri(http: Any, uri: str) -> None:
    resp = http.get(ENTRA + "/authorize", params={"response_type": "code", "client_id": ENTRA_APP, "redirect_uri": uri, "scope": "openid"})
    is_error_page(resp, "AADSTS50011")


# --- logout: Keycloak's LogoutEndpoint ---------------------------------------------------------------------

def id_token(http: Any, client_id: str = "demo-client") -> str:
    resp = http.post(REALM + "/token", data={"grant_type": "password", "client_id": client_id, "client_secret": "demo-client-secret",
                                             "username": "demo-agent", "password": "demo-agent-password", "scope": "openid"})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id_token"])


@pytest.mark.parametrize("target", [EVIL, "javascript:alert(1)"])
def test_keycloak_logout_without_a_client_is_missing_id_token_hint(http: Any, target: str) -> None:
    is_error_page(http.get(REALM + "/logout", params={"post_logout_redirect_uri": target}), "Missing parameters: id_token_hint")


@pytest.mark.parametrize("target", [EVIL, "javascript:alert(1)", "http://localhost@evil.example/"])
@pytest.mark.parametrize("who", ["client_id", "id_token_hint", "unknown client_id"])
def test_keycloak_logout_to_an_unregistered_uri_is_invalid_redirect_uri(http: Any, target: str, who: str) -> None:
    named = {"client_id": {"client_id": "demo-spa"}, "id_token_hint": {"id_token_hint": id_token(http)}, "unknown client_id": {"client_id": "nobody"}}[who]
    is_error_page(http.get(REALM + "/logout", params={"post_logout_redirect_uri": target, **named}), "Invalid redirect uri")


def test_keycloak_logout_to_a_registered_uri_redirects(http: Any) -> None:
    by_client = http.get(REALM + "/logout", params={"post_logout_redirect_uri": "http://localhost:8080/bye", "client_id": "demo-spa", "state": "st"})
    assert by_client.status_code == 302 and by_client.headers["location"] == "http://localhost:8080/bye?state=st"
    by_hint = http.get(REALM + "/logout", params={"post_logout_redirect_uri": "http://127.0.0.1:9/bye", "id_token_hint": id_token(http)})
    assert by_hint.status_code == 302 and by_hint.headers["location"] == "http://127.0.0.1:9/bye"


def test_keycloak_logout_hint_of_another_client_or_not_an_id_token(http: Any) -> None:
    target = {"post_logout_redirect_uri": "http://localhost:8080/bye"}
    is_error_page(http.get(REALM + "/logout", params={**target, "client_id": "demo-spa", "id_token_hint": id_token(http)}), "Invalid parameter: id_token_hint")
    access = http.post(REALM + "/token", data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}).json()["access_token"]
    is_error_page(http.get(REALM + "/logout", params={**target, "id_token_hint": access}), "Invalid parameter: id_token_hint")


def test_keycloak_post_logout_redirect_uris_follow_keycloaks_plus_and_minus() -> None:
    from mockidp.authorities.avaya.world import AvayaClient

    client = AvayaClient("c", redirect_uris=["http://localhost:*"])
    assert client.post_logout_uris() == ["http://localhost:*"]  # default "+": the redirect URIs
    assert AvayaClient("c", redirect_uris=["a"], post_logout_redirect_uris=["b", "+"]).post_logout_uris() == ["b", "a"]
    assert AvayaClient("c", redirect_uris=["a"], post_logout_redirect_uris=["-"]).post_logout_uris() == []
    assert AvayaClient("c", redirect_uris=["a"], post_logout_redirect_uris=[]).post_logout_uris() == ["a"]


# --- logout: Entra ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [{}, {"client_id": ENTRA_APP}], ids=["no-client", "client_id"])
def test_entra_logout_never_redirects_to_an_unregistered_uri(http: Any, params: dict[str, str]) -> None:
    resp = http.get(ENTRA + "/logout", params={"post_logout_redirect_uri": EVIL, **params})
    assert resp.status_code == 200 and "location" not in resp.headers and "signed out" in resp.text


def test_entra_logout_redirects_to_a_reply_url_of_the_app(http: Any) -> None:
    resp = http.get(ENTRA + "/logout", params={"post_logout_redirect_uri": "http://localhost:5000/signin-oidc", "client_id": ENTRA_APP, "state": "z"})
    assert resp.status_code == 302 and resp.headers["location"] == "http://localhost:5000/signin-oidc?state=z"
