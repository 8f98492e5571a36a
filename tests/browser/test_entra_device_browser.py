"""A person in a real browser completes Entra's device code sign-in: the verification page, the code, the sign-in,
while MSAL on the "device" then redeems the device code."""

from __future__ import annotations

from typing import Any

import msal
import requests

TENANT = "11111111-1111-1111-1111-111111111111"
PUBLIC_APP = "24242424-2424-2424-2424-242424242424"


def test_device_code_sign_in_at_the_verification_page(mockidp: Any, page: Any) -> None:
    http = requests.Session()
    http.verify = str(mockidp.ca_bundle)
    http.trust_env = False  # REQUESTS_CA_BUNDLE must not override the session's CA
    app = msal.PublicClientApplication(PUBLIC_APP, authority=f"{mockidp.url}/{TENANT}", instance_discovery=False, http_client=http)
    flow = app.initiate_device_flow(scopes=["api://fivedegrees-demo-api/Api.Read"])
    assert app.acquire_token_by_device_flow(flow, exit_condition=lambda f: True)["error"] == "authorization_pending"
    page.goto(flow["verification_uri"])
    page.fill("#otc", "BCDFGHJKL")  # a code nobody was given
    page.click("#code-next")
    assert "didn't work" in page.text_content("#code-error")
    page.fill("#otc", flow["user_code"])
    page.click("#code-next")
    page.fill("#username", "demo.user@fivedegrees-demo.onmicrosoft.com")
    page.fill("#password", "demo-user-password")
    page.click("#kc-login")
    assert "You have signed in to the application on your device" in page.text_content("#device-message")
    result = app.acquire_token_by_device_flow(flow, exit_condition=lambda f: True)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == "demo.user@fivedegrees-demo.onmicrosoft.com"
