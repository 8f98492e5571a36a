"""The frontend flow: GET /apigateway/authorize finds the subscriber by the device's address, redirects with a code
(or an error the client can read), and POST /apigateway/token exchanges the code with HTTP Basic. Error rows of
ICM Appendix A: no redirect for a bad client_id / redirect_uri, every other error goes back to the client."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from html_forms import Page

APP = ("demo-camara-app", "demo-camara-secret")
REDIRECT = "http://127.0.0.1:8080/callback"
NV = "dpv:FraudPreventionAndDetection#number-verification-verify-read"


def authorize(mockidp: Any, http: httpx.Client, xff: str | None = "127.0.0.1", **params: str) -> httpx.Response:
    query = {"response_type": "code", "client_id": APP[0], "redirect_uri": REDIRECT, "scope": NV, "state": "s-1", **params}
    headers = {"x-forwarded-for": xff} if xff else {}
    return http.get(mockidp.base("opengateway") + "/apigateway/authorize", params={k: v for k, v in query.items() if v is not None}, headers=headers)


def redirected(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(mockidp: Any, http: httpx.Client, code: str, **data: str) -> httpx.Response:
    return http.post(mockidp.base("opengateway") + "/apigateway/token", auth=APP,
                     data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **data})


def nv(mockidp: Any, http: httpx.Client, token: str, body: Any) -> httpx.Response:
    return http.post(mockidp.base("opengateway") + "/apigateway/number-verification/v0/verify", json=body, headers={"authorization": "Bearer " + token})


def camara(resp: httpx.Response) -> tuple[int, str, str]:
    body = resp.json()
    assert set(body) == {"status", "code", "message"} and body["status"] == resp.status_code, body
    return resp.status_code, body["code"], body["message"]


def test_the_code_is_single_use_and_bound_to_its_client_and_redirect_uri(mockidp, http) -> None:
    code = redirected(authorize(mockidp, http))["code"]
    assert exchange(mockidp, http, code, redirect_uri="http://127.0.0.1:8080/other").json()["error"] == "invalid_grant"
    code = redirected(authorize(mockidp, http))["code"]
    token = exchange(mockidp, http, code).json()
    assert token["token_type"] == "Bearer" and token["scope"] == "number-verification-verify-read"
    again = exchange(mockidp, http, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert nv(mockidp, http, token["access_token"], {"phoneNumber": "+34600000003"}).json() == {"devicePhoneNumberVerified": True}


def test_the_device_address_picks_the_subscriber(mockidp, http) -> None:
    # an ipport login_hint's address counts as well as a subscriber's addresses
    mockidp.control.world_add("opengateway/subscribers", {"login_hint": "ipport:80.90.34.2:16790", "phone_number": "+34677777777"})
    token = exchange(mockidp, http, redirected(authorize(mockidp, http, xff="80.90.34.2, 10.1.1.1"))["code"]).json()["access_token"]
    assert nv(mockidp, http, token, {"phoneNumber": "+34677777777"}).json() == {"devicePhoneNumberVerified": True}
    assert nv(mockidp, http, token, {"phoneNumber": "+34600000003"}).json() == {"devicePhoneNumberVerified": False}


def test_an_unknown_address_is_access_denied_unknown_user(mockidp, http) -> None:
    # Telefonica's reference router (opengateway-aggregation-poc, telco-router): error_description "Unknown user"
    assert redirected(authorize(mockidp, http, xff="203.0.113.9")) == {"error": "access_denied", "error_description": "Unknown user", "state": "s-1"}


@pytest.mark.parametrize(("params", "error"), [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "dpv:NoSuchPurpose#number-verification"}, "invalid_scope"),
    ({"scope": None}, "invalid_request"),
    ({"scope": "dpv:RequestedServiceProvision#qod"}, "unauthorized_client"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
])
def test_errors_after_the_client_is_known_go_back_to_it(mockidp, http, params: dict[str, Any], error: str) -> None:
    back = redirected(authorize(mockidp, http, **params))
    assert back["error"] == error and back["error_description"] and back["state"] == "s-1"


def test_a_duplicated_parameter_is_invalid_request(mockidp, http) -> None:
    query = urlencode([("response_type", "code"), ("client_id", APP[0]), ("redirect_uri", REDIRECT), ("scope", NV), ("state", "a"), ("state", "b")])
    url = mockidp.base("opengateway") + "/apigateway/authorize?" + query
    back = redirected(http.get(url, headers={"x-forwarded-for": "127.0.0.1"}))
    assert back["error"] == "invalid_request" and back["error_description"] == "Duplicate state parameter."


@pytest.mark.parametrize("params", [{"client_id": "nobody"}, {"redirect_uri": "http://evil.example/cb"}, {"redirect_uri": None}])
def test_a_bad_client_or_redirect_uri_is_an_error_page_never_a_redirect(mockidp, http, params: dict[str, Any]) -> None:
    resp = authorize(mockidp, http, **params)
    assert resp.status_code == 400 and "location" not in resp.headers and "text/html" in resp.headers["content-type"]


def test_denied_consent_goes_back_as_access_denied(mockidp, http) -> None:
    mockidp.engine.authorities["opengateway"].decide_future("tel:+34600000003", "deny")
    assert redirected(authorize(mockidp, http))["error"] == "access_denied"


def test_pending_consent_is_a_page_whose_answer_goes_back_to_the_client(mockidp, http) -> None:
    mockidp.control.ciba_subscriber("tel:+34600000003", "never")
    shown = authorize(mockidp, http)
    assert shown.status_code == 200 and "+34600000003" in shown.text
    page = Page(shown.text)
    code = redirected(page.submit(http, "consent", "allow"))["code"]
    assert exchange(mockidp, http, code).status_code == 200
    again = page.submit(http, "consent", "allow")
    assert again.status_code == 400 and "location" not in again.headers  # the page's answer counts once
    assert redirected(Page(authorize(mockidp, http).text).submit(http, "consent", "deny"))["error"] == "access_denied"


def test_discovery_names_the_frontend_flow(mockidp, http) -> None:
    meta = http.get(mockidp.base("opengateway") + "/apigateway/.well-known/openid-configuration").json()
    assert meta["authorization_endpoint"] == meta["issuer"] + "/authorize" and "authorization_code" in meta["grant_types_supported"]


def test_purpose_is_taken_for_scope_and_the_real_host_serves_the_flow_at_the_root(mockidp, http) -> None:
    host = {"host": "sandbox.opengateway.telefonica.com", "x-forwarded-for": "127.0.0.1"}
    query = {"response_type": "code", "client_id": APP[0], "redirect_uri": REDIRECT, "purpose": NV, "state": "s-2"}
    code = redirected(http.get("/apigateway/authorize", params=query, headers=host))["code"]
    token = http.post("/apigateway/token", headers=host, auth=APP, data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}).json()
    verified = http.post("/apigateway/number-verification/v0/verify", json={"phoneNumber": "+34600000003"},
                         headers={**host, "authorization": "Bearer " + token["access_token"]})
    assert verified.json() == {"devicePhoneNumberVerified": True}


def test_an_untrusted_x_forwarded_for_is_ignored_for_the_peer_address(mockidp, http) -> None:
    """With `trust_forwarded_for = false` the device is the TCP peer (here 127.0.0.1 = +34600000003), whatever the
    header claims: neither mockidp nor the server under it (uvicorn's proxy_headers) reads it."""
    mockidp.engine.change_world("opengateway", lambda w: setattr(w.opengateway, "trust_forwarded_for", False))
    code = redirected(authorize(mockidp, http, xff="203.0.113.9"))["code"]  # would be "Unknown user" if trusted
    token = exchange(mockidp, http, code).json()["access_token"]
    assert nv(mockidp, http, token, {"phoneNumber": "+34600000003"}).json() == {"devicePhoneNumberVerified": True}
