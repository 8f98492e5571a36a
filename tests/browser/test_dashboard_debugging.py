"""The dashboard as a person debugging a client uses it, in Debian's Chromium (issue 22): what is waiting comes
first, the log says what each request sent and got, filters narrow it, the clock moves from the page."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer

from mockidp.oauth import device
from mockidp.oauth.pkce import challenge_for

AUTH = "/avaya/auth/realms/demo-account/protocol/openid-connect/auth"
TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"


def auth_url(mockidp: Any, redirect_uri: str, verifier: str, state: str) -> str:
    query = {"response_type": "code", "client_id": "demo-spa", "redirect_uri": redirect_uri, "scope": "openid",
             "state": state, "code_challenge": challenge_for(verifier, "S256"), "code_challenge_method": "S256"}
    return mockidp.url + AUTH + "?" + urlencode(query)

CC = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}
SECRET = "a-wrong-secret-nobody-may-see"


def top(page: Any, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return float(box["y"])


def test_first_screen_shows_what_is_waiting_and_planned_before_the_identities(mockidp: Any, page: Any, http: Any) -> None:
    og = ("demo-app-id", "demo-app-secret")
    started = http.post("/opengateway/apigateway/bc-authorize", auth=og,
                        data={"login_hint": "tel:+34655555555", "purpose": "dpv:FraudPreventionAndDetection#sim-swap"}).json()
    tv = device.DeviceFlow(mockidp.engine, "entra").start(client_id="tv-app", scope="openid", expires_in=600, interval=5)
    mockidp.add_fault(authority="avaya", endpoint="token", status=503)
    http.get("/avaya/auth/realms/demo-account")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(mockidp.url + "/_mockidp/")
    assert started["auth_req_id"] in page.text_content("#ciba")
    assert tv["user_code"] in page.text_content("#devices")
    assert "HTTP 503" in page.text_content("#faults")
    assert top(page, "#ciba") < top(page, "#faults") < top(page, "#log") < top(page, "#authorities")
    assert top(page, "#ciba") < 900  # on the first screen
    page.locator(f'#devices tr[data-user-code="{tv["user_code"]}"] button.deny').click()
    page.wait_for_selector("#devices-empty")
    assert device.DeviceFlow(mockidp.engine, "entra").find(tv["user_code"])["state"] == device.DENIED  # type: ignore[index]
    mockidp.faults.clear()


def test_log_shows_parameters_masked_errors_and_control_calls(mockidp: Any, page: Any, http: Any) -> None:
    mockidp.add_fault(authority="avaya", endpoint="token", error="invalid_grant", error_description="planned: the code expired")
    http.post(TOKEN, data={**CC, "client_secret": SECRET})
    http.post(TOKEN, data={**CC, "client_secret": SECRET})
    page.goto(mockidp.url + "/_mockidp/")
    rows = page.locator("#log tr.entry")
    newest, planned = rows.nth(0), rows.nth(1)
    assert "unauthorized_client" in newest.locator(".error-code").text_content()
    assert newest.locator(".error-description").text_content() == "Invalid client secret"
    assert planned.locator(".error-description").text_content() == "planned: the code expired"
    newest.locator("details.params summary").click()
    params = newest.locator("details.params").text_content()
    assert "client_secret" in params and "***" in params and "grant_type" in params
    assert SECRET not in page.content()
    action = page.locator("#log tr.control").first
    assert "fault planned" in action.text_content() and "id=fault-1" in action.text_content()
    # the control call came before both requests: it is the oldest of the three rows
    assert [r.get_attribute("class") for r in rows.all()][-1] == "entry control"


def test_log_shows_where_a_redirect_went_with_code_and_state(mockidp: Any, page: Any, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cb").respond_with_data("<p id='cb'>back</p>", content_type="text/html")
    callback = httpserver.url_for("/cb")
    page.goto(auth_url(mockidp, callback, secrets.token_urlsafe(48), "state-42"))
    page.click("#demo-demo-agent")
    page.wait_for_selector("#cb")
    page.goto(mockidp.url + "/_mockidp/")
    redirect = page.locator("#log .redirect").first
    assert callback in redirect.text_content()
    shown = redirect.locator(".redirect-param").all_text_contents()
    assert "state=state-42" in shown and any(p.startswith("code=") and len(p) > 10 for p in shown)


def test_filters_by_authority_client_status_and_text(mockidp: Any, page: Any, http: Any) -> None:
    http.post(TOKEN, data=CC)
    http.post(TOKEN, data={**CC, "client_secret": SECRET})
    http.get("/opengateway/apigateway/jwks")
    mockidp.advance(1)  # a control call among them
    page.goto(mockidp.url + "/_mockidp/")

    def visible() -> int:
        return int(page.evaluate("[...document.querySelectorAll('#log tr.entry')].filter(r => !r.hidden).length"))

    assert visible() == 4
    page.select_option("#filters select[name=authority]", "opengateway")
    assert visible() == 1
    page.select_option("#filters select[name=authority]", "")
    page.select_option("#filters select[name=status]", "4")
    assert visible() == 1 and page.text_content("#filter-count") == "1 of 4 shown"
    page.select_option("#filters select[name=status]", "")
    page.fill("#filters input[name=client]", "demo-client")
    assert visible() == 2
    page.fill("#filters input[name=client]", "")
    page.fill("#filters input[name=text]", "clock advanced")
    assert visible() == 1
    page.select_option("#filters select[name=authority]", "_mockidp")
    assert visible() == 1
    # the filter holds across the live refresh
    http.get("/opengateway/apigateway/jwks")
    page.wait_for_function("document.querySelectorAll('#log tr.entry').length >= 5")
    assert visible() == 1


def test_clock_is_a_date_with_its_offset_and_buttons_move_it(mockidp: Any, page: Any) -> None:
    import datetime

    page.goto(mockidp.url + "/_mockidp/")
    today = datetime.datetime.fromtimestamp(mockidp.clock.now(), datetime.UTC).strftime("%Y-%m-%d")
    assert page.text_content("#clock-date").startswith(today) and page.text_content("#clock-date").endswith("UTC")
    assert page.text_content("#clock-offset") == "real time"
    page.click("#clock-box button[data-advance='86400']")
    page.wait_for_function("document.getElementById('clock-offset').textContent.startsWith('+86400')")
    assert 86399 < mockidp.clock.describe()["offset"] < 86460
    tomorrow = datetime.datetime.fromtimestamp(mockidp.clock.now(), datetime.UTC).strftime("%Y-%m-%d")
    assert page.text_content("#clock-date").startswith(tomorrow)
    page.click("#clock-box button[data-clock-reset]")
    page.wait_for_function("document.getElementById('clock-offset').textContent === 'real time'")
    assert mockidp.clock.describe()["offset"] == 0


def test_token_dates_are_readable_beside_the_numbers(mockidp: Any, page: Any, http: Any) -> None:
    import datetime

    token = http.post(TOKEN, data=CC).json()
    page.goto(mockidp.url + "/_mockidp/")
    details = page.locator("#log details.token").first
    details.locator("summary").click()
    dates = details.locator(".token-dates").text_content()
    import jwt

    exp = jwt.decode(token["access_token"], options={"verify_signature": False})["exp"]
    readable = datetime.datetime.fromtimestamp(exp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"exp {exp} = {readable}" in " ".join(dates.split())
    assert "iat" in dates


ENTRA_AUTHORIZE = "/entra/11111111-1111-1111-1111-111111111111/oauth2/v2.0/authorize"


def test_entra_error_page_looks_like_entras_and_shows_sent_versus_registered(mockidp: Any, page: Any) -> None:
    query = {"client_id": "22222222-2222-2222-2222-222222222222", "response_type": "code", "redirect_uri": "https://evil.example/cb",
             "scope": "openid", "state": "s"}
    page.goto(mockidp.url + ENTRA_AUTHORIZE + "?" + urlencode(query))
    assert page.locator("#entra-error h1").text_content() == "Sign in"
    assert "Sorry, but we're having trouble signing you in." in page.text_content("#entra-error")
    assert page.text_content("#error-message").startswith("AADSTS50011: The redirect URI 'https://evil.example/cb'")
    assert "We are sorry" not in page.content()  # Keycloak's words are Avaya's, not Entra's
    assert page.text_content("[data-debug='redirect_uri sent']") == "https://evil.example/cb"
    registered = mockidp.authority("entra").config.tenants[0].apps[0].redirect_uris
    assert registered and page.text_content("[data-debug='redirect URIs registered for this client']") == "\n".join(registered)
    assert page.url.startswith(mockidp.url)  # no redirect


def test_keycloak_error_page_keeps_its_look_with_the_debugging_box(mockidp: Any, page: Any) -> None:
    page.goto(auth_url(mockidp, "https://evil.example/cb", secrets.token_urlsafe(48), "s"))
    assert page.text_content("h1") == "We are sorry..."
    assert page.text_content("[data-debug='client_id']") == "demo-spa"
    assert page.text_content("[data-debug='redirect_uri sent']") == "https://evil.example/cb"
    client = mockidp.authority("avaya").realms["demo-account"].clients["demo-spa"]
    assert page.text_content("[data-debug='redirect URIs registered for this client']") == "\n".join(client.redirect_uris)
    page.goto(mockidp.url + AUTH + "?" + urlencode({"client_id": "no-such-client", "redirect_uri": "https://x.example/cb", "response_type": "code"}))
    assert page.text_content("[data-debug='client_id sent']") == "no-such-client"
    assert "demo-spa" in page.text_content("[data-debug='clients of this realm']")
