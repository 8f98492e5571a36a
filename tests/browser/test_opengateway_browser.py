"""A subscriber in a real browser on the Open Gateway's frontend flow: the device is identified by its address
(loopback here: the default world's +34600000003), consent is pending, the person allows it on the operator's
page, and the browser lands at the client's callback with a code the backend exchanges for a Number Verification
token."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from pytest_httpserver import HTTPServer

APP = ("browser-camara-app", "browser-camara-secret")
NV = "dpv:FraudPreventionAndDetection#number-verification-verify-read"


def test_the_subscriber_allows_on_the_consent_page_and_the_client_gets_a_code(mockidp: Any, page: Any, httpserver: HTTPServer, http: Any) -> None:
    httpserver.expect_request("/callback").respond_with_data("<h1 id='done'>client callback reached</h1>", content_type="text/html")
    callback = httpserver.url_for("/callback")
    mockidp.control.world_add("opengateway/apps", {"client_id": APP[0], "secret": APP[1], "redirect_uris": [callback], "purposes": [NV]})
    mockidp.control.ciba_subscriber("tel:+34600000003", "never")  # consent pending: only the person answers
    base = mockidp.base("opengateway") + "/apigateway"
    page.goto(base + "/authorize?" + urlencode({"response_type": "code", "client_id": APP[0], "redirect_uri": callback, "scope": NV, "state": "st-9"}))
    assert page.text_content("#consent-line") == "+34600000003" and page.text_content("#consent-purpose") == NV
    page.click("#allow")
    page.wait_for_selector("#done")
    params = parse_qs(urlsplit(page.url).query)
    assert params["state"] == ["st-9"]
    token = http.post(base + "/token", auth=APP, data={"grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": callback})
    assert token.status_code == 200, token.text
    verified = http.post(base + "/number-verification/v0/verify", json={"phoneNumber": "+34600000003"},
                         headers={"authorization": "Bearer " + token.json()["access_token"]})
    assert verified.json() == {"devicePhoneNumberVerified": True}


def test_the_subscriber_denies_and_the_client_hears_access_denied(mockidp: Any, page: Any, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/callback").respond_with_data("<h1 id='done'>client callback reached</h1>", content_type="text/html")
    callback = httpserver.url_for("/callback")
    mockidp.control.world_add("opengateway/apps", {"client_id": APP[0], "secret": APP[1], "redirect_uris": [callback], "purposes": [NV]})
    mockidp.control.ciba_subscriber("tel:+34600000003", "never")
    page.goto(mockidp.base("opengateway") + "/apigateway/authorize?" + urlencode({"response_type": "code", "client_id": APP[0], "redirect_uri": callback, "scope": NV, "state": "st-8"}))
    page.click("#deny")
    page.wait_for_selector("#done")
    assert parse_qs(urlsplit(page.url).query) == {"error": ["access_denied"], "error_description": ["the subscriber denied consent"], "state": ["st-8"]}
