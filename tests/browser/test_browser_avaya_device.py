"""A person in a real browser on a Keycloak realm's device verification page (RFC 8628 §3.3): the code typed as
read off the screen, the sign-in form, Keycloak's consent, while the device polls with python-keycloak."""

from __future__ import annotations

import json
from typing import Any

import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError

pytestmark = pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning")
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def test_device_login_through_the_verification_page(mockidp: Any, page: Any) -> None:
    kc = KeycloakOpenID(server_url=mockidp.base("avaya") + "/auth/", realm_name="demo-account", client_id="demo-device",
                        verify=mockidp.ca_bundle)
    started = kc.device(scope="openid")
    page.goto(started["verification_uri"])
    page.fill("#device-user-code", started["user_code"].lower().replace("-", " "))  # typed however it was read
    page.click("#kc-login")
    page.fill("#username", "demo-agent")
    page.fill("#password", "demo-agent-password")
    page.click("#kc-login")
    page.wait_for_selector("#kc-cancel")
    with pytest.raises(KeycloakError) as pending:
        kc.token(grant_type=GRANT, device_code=started["device_code"])
    assert json.loads(pending.value.response_body or b"")["error"] == "authorization_pending"
    page.click("#kc-login")  # Yes
    assert "Device Login Successful" in (page.text_content("#device-result") or "")
    mockidp.advance(5)
    token = kc.token(grant_type=GRANT, device_code=started["device_code"])
    assert kc.decode_token(token["access_token"])["preferred_username"] == "demo-agent"
