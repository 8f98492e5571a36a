"""The device code flow against Entra: msal's initiate_device_flow / acquire_token_by_device_flow and azure-identity's
DeviceCodeCredential, approved through the control surface (`POST /_mockidp/device/{user_code}/approve`) or by a
person at the verification page (the test plays the browser), each token then taken to the API Management gate."""

from __future__ import annotations

import httpx
import jwt as pyjwt
import msal
import pytest
import requests
from azure.identity import DeviceCodeCredential
from html_forms import Page

TENANT = "11111111-1111-1111-1111-111111111111"
PUBLIC_APP, API_APP = "24242424-2424-2424-2424-242424242424", "44444444-4444-4444-4444-444444444444"
USER, PASSWORD = "demo.user@fivedegrees-demo.onmicrosoft.com", "demo-user-password"
READER = "demo.reader@fivedegrees-demo.onmicrosoft.com"
SCOPE = "api://fivedegrees-demo-api/Api.Read"


@pytest.fixture(autouse=True)
def trust_mockidp(mockidp, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockidp.ca_bundle))  # requests lets it win over `verify=`


def public_app(mockidp) -> msal.PublicClientApplication:
    http = requests.Session()
    http.verify = str(mockidp.ca_bundle)
    return msal.PublicClientApplication(PUBLIC_APP, authority=f"{mockidp.url}/{TENANT}", instance_discovery=False, http_client=http)


def once(flow) -> bool:  # msal's exit_condition: poll a single time
    return True


def claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def through_gate(mockidp, token: str) -> None:
    with mockidp.http() as http:
        response = http.get("/entra/apim/fivedegrees/v1/portfolios", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


def test_msal_device_flow_approved_through_the_control_surface(mockidp, http) -> None:
    app = public_app(mockidp)
    flow = app.initiate_device_flow(scopes=[SCOPE])
    assert "user_code" in flow, flow
    code = flow["user_code"]
    assert len(code) == 9 and code.isalpha() and code.isupper()
    assert (flow["verification_uri"], flow["expires_in"], flow["interval"]) == (f"{mockidp.url}/common/oauth2/deviceauth", 900, 5)
    assert flow["message"] == f"To sign in, use a web browser to open the page {flow['verification_uri']} and enter the code {code} to authenticate."
    pending = app.acquire_token_by_device_flow(flow, exit_condition=once)
    assert (pending["error"], pending["error_codes"]) == ("authorization_pending", [70016])
    assert pending["error_description"].startswith("AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.")
    assert [r["user_code"] for r in http.get("/_mockidp/device").json()] == [code]
    unknown = http.post(f"/_mockidp/device/{code}/approve", json={"user": "nobody@fivedegrees-demo.onmicrosoft.com"})
    assert unknown.status_code == 400
    assert http.post(f"/_mockidp/device/{code}/approve", json={"user": USER}).status_code == 200
    result = app.acquire_token_by_device_flow(flow, exit_condition=once)
    assert "access_token" in result, result
    access = claims(result["access_token"])
    assert (access["aud"], access["scp"], access["azp"], access["azpacr"], access["roles"]) == (API_APP, "Api.Read", PUBLIC_APP, "0", ["Api.ReadWrite"])
    assert result["id_token_claims"]["preferred_username"] == USER and "refresh_token" in result
    through_gate(mockidp, result["access_token"])
    again = app.acquire_token_by_device_flow(flow, exit_condition=once)  # a device code is redeemed once
    assert (again["error"], again["error_codes"]) == ("invalid_grant", [90120])


def test_a_person_signs_in_at_the_verification_page(mockidp) -> None:
    app = public_app(mockidp)
    flow = app.initiate_device_flow(scopes=[SCOPE])
    with httpx.Client(verify=mockidp.ssl_context, follow_redirects=True) as browser:
        entry = browser.get(flow["verification_uri"])
        assert entry.status_code == 200 and 'name="otc"' in entry.text
        wrong = browser.post(flow["verification_uri"], data={"otc": "BCDFGHJKL"})
        assert wrong.status_code == 400 and "That code didn&#x27;t work" in wrong.text
        login = browser.post(flow["verification_uri"], data={"otc": flow["user_code"].lower()})  # typed in lower case
        assert login.status_code == 200 and 'id="login-form"' in login.text, login.text
        done = Page(login.text).submit(browser, "login-form", "kc-login", username=READER, password="demo-reader-password")
    assert done.status_code == 200 and "You have signed in to the application on your device" in done.text
    result = app.acquire_token_by_device_flow(flow, exit_condition=once)
    assert "access_token" in result, result
    assert claims(result["access_token"])["roles"] == ["Api.Read"]  # the reader's role: the gate wants Api.ReadWrite
    with mockidp.http() as http:
        assert http.get("/entra/apim/fivedegrees/v1/portfolios", headers={"Authorization": f"Bearer {result['access_token']}"}).status_code == 401


def test_declined_at_the_page_and_denied_through_the_control_surface(mockidp, http) -> None:
    app = public_app(mockidp)
    flow = app.initiate_device_flow(scopes=[SCOPE])
    with httpx.Client(verify=mockidp.ssl_context, follow_redirects=True) as browser:
        login = browser.post(flow["verification_uri"], data={"otc": flow["user_code"]})
        done = Page(login.text).submit(browser, "login-form", "deny")
    assert done.status_code == 200 and "You declined" in done.text
    declined = app.acquire_token_by_device_flow(flow, exit_condition=once)
    assert declined["error"] == "authorization_declined" and declined["error_description"].startswith("The end user denied the authorization request.")
    other = app.initiate_device_flow(scopes=[SCOPE])
    assert http.post(f"/_mockidp/device/{other['user_code']}/deny", json={}).status_code == 200
    assert app.acquire_token_by_device_flow(other, exit_condition=once)["error"] == "authorization_declined"


def test_expired_and_unknown_device_codes(mockidp, http) -> None:
    app = public_app(mockidp)
    flow = app.initiate_device_flow(scopes=[SCOPE])
    mockidp.advance(901)
    expired = app.acquire_token_by_device_flow(flow, exit_condition=once)
    assert (expired["error"], expired["error_codes"]) == ("expired_token", [70020])
    assert expired["error_description"].startswith("AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
    unknown = http.post(f"/{TENANT}/oauth2/v2.0/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": PUBLIC_APP,
                                                              "device_code": "not-a-device-code"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "bad_verification_code"
    no_scope = http.post(f"/{TENANT}/oauth2/v2.0/devicecode", data={"client_id": PUBLIC_APP})
    assert no_scope.status_code == 400 and no_scope.json()["error_codes"] == [900144]


def test_discovery_names_the_device_authorization_endpoint(mockidp, http) -> None:
    doc = http.get(f"/{TENANT}/v2.0/.well-known/openid-configuration").json()
    assert doc["device_authorization_endpoint"] == f"{mockidp.url}/{TENANT}/oauth2/v2.0/devicecode"


def test_azure_identity_device_code_credential(mockidp, http) -> None:
    def approve(verification_uri: str, user_code: str, expires_on) -> None:  # the prompt: a person approves at once
        assert http.post(f"/_mockidp/device/{user_code}/approve", json={"user": USER}).status_code == 200

    credential = DeviceCodeCredential(PUBLIC_APP, tenant_id=TENANT, authority=mockidp.url, disable_instance_discovery=True,
                                      prompt_callback=approve, connection_verify=mockidp.ca_bundle)
    token = credential.get_token("api://fivedegrees-demo-api/Api.ReadWrite").token
    assert claims(token)["scp"] == "Api.ReadWrite"
    through_gate(mockidp, token)
