"""The device authorization grant (RFC 8628) of an Avaya realm with python-keycloak's `device()` and polling
`token(grant_type=device_code)`, approved over the control route or by a person on the verification page
(sign-in, then Keycloak's consent), with Keycloak's answers (DeviceGrantType) to every poll outcome."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError

pytestmark = pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning")
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def openid(mockidp, client_id: str = "demo-device", secret: str | None = None) -> KeycloakOpenID:
    return KeycloakOpenID(server_url=mockidp.base("avaya") + "/auth/", realm_name="demo-account", client_id=client_id,
                          client_secret_key=secret, verify=mockidp.ca_bundle)


def poll(kc: KeycloakOpenID, device_code: str) -> Any:
    return kc.token(grant_type=GRANT, device_code=device_code)


def refused(kc: KeycloakOpenID, device_code: str) -> tuple[int | None, Any]:
    with pytest.raises(KeycloakError) as exc:
        poll(kc, device_code)
    return exc.value.response_code, json.loads(exc.value.response_body or b"null")


def test_device_then_polling_approved_over_the_control_route(mockidp, http) -> None:
    kc = openid(mockidp)
    started = kc.device(scope="openid")
    issuer = mockidp.base("avaya") + "/auth/realms/demo-account"
    assert started["verification_uri"] == issuer + "/device"
    assert started["verification_uri_complete"] == f"{issuer}/device?user_code={started['user_code']}"
    assert (started["expires_in"], started["interval"]) == (600, 5)  # Keycloak's OAuth2DeviceConfig defaults
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", started["user_code"])

    assert refused(kc, started["device_code"]) == (400, {"error": "authorization_pending", "error_description": "The authorization request is still pending"})
    assert refused(kc, started["device_code"]) == (400, {"error": "slow_down", "error_description": "Slow down"})  # within the interval
    pending = http.get("/_mockidp/device").json()
    assert [r["user_code"] for r in pending] == [started["user_code"]]
    unknown = http.post(f"/_mockidp/device/{started['user_code']}/approve", json={"user": "nobody"})
    assert unknown.status_code == 400 and "unknown user" in unknown.text
    assert http.post(f"/_mockidp/device/{started['user_code'].lower()}/approve", json={"user": "demo-admin"}).status_code == 200
    mockidp.advance(30)
    token = poll(kc, started["device_code"])
    claims = kc.decode_token(token["access_token"])
    assert claims["preferred_username"] == "demo-admin" and claims["azp"] == "demo-device" and token["id_token"]
    assert kc.refresh_token(token["refresh_token"])["access_token"]
    assert refused(kc, started["device_code"])[1]["error_description"] == "Device code not valid"  # redeemed once


def test_denied_expired_and_refused(mockidp, http) -> None:
    kc = openid(mockidp)
    denied = kc.device()
    assert http.post(f"/_mockidp/device/{denied['user_code']}/deny", json={}).status_code == 200
    assert refused(kc, denied["device_code"]) == (400, {"error": "access_denied", "error_description": "The end user denied the authorization request"})

    late = kc.device()
    mockidp.advance(601)
    assert refused(kc, late["device_code"]) == (400, {"error": "expired_token", "error_description": "Device code is expired"})
    assert refused(kc, "no-such-code")[1] == {"error": "invalid_grant", "error_description": "Device code not valid"}

    plain = openid(mockidp, "demo-client", "demo-client-secret")
    with pytest.raises(KeycloakError) as exc:
        plain.device()
    assert json.loads(exc.value.response_body or b"") == {"error": "invalid_grant", "error_description": "Client not allowed for OAuth 2.0 Device Authorization Grant"}
    assert refused(plain, "x")[1]["error_description"] == "Client not allowed OAuth 2.0 Device Authorization Grant"
    missing = http.post("/avaya/auth/realms/demo-account/protocol/openid-connect/token", data={"grant_type": GRANT, "client_id": "demo-device"})
    assert missing.json() == {"error": "invalid_request", "error_description": "Missing parameter: device_code"}
    # a device code of one realm is not valid at another, even for a client of the same name allowed the grant
    mockidp.engine.change_world("avaya", lambda w: setattr(next(r for r in w.avaya.realms if r.account_id == "demo-account-2").clients[0], "device_grant", True))
    other = KeycloakOpenID(server_url=mockidp.base("avaya") + "/auth/", realm_name="demo-account-2", client_id="demo-client",
                           client_secret_key="demo-client-2-secret", verify=mockidp.ca_bundle)
    assert refused(other, kc.device()["device_code"])[1]["error_description"] == "Device code not valid"


def test_the_verification_page_signs_in_and_asks_for_consent(mockidp, http) -> None:
    kc = openid(mockidp)
    started = kc.device(scope="openid")
    page = "/avaya/auth/realms/demo-account/device"
    assert "device_user_code" in http.get(page).text
    wrong = http.post(page, data={"device_user_code": "BBBB-CCCC"})
    assert wrong.status_code == 400 and "Invalid code" in wrong.text
    login = http.post(page, data={"device_user_code": started["user_code"].replace("-", "").lower()})  # typed however
    assert login.status_code == 200 and 'name="user_code"' in login.text and "password" in login.text
    bad = http.post(page, data={"user_code": started["user_code"], "username": "demo-agent", "password": "wrong"})
    assert "Invalid username or password." in bad.text
    consent = http.post(page, data={"user_code": started["user_code"], "username": "demo-agent", "password": "demo-agent-password"})
    assert "Do you grant these access privileges?" in consent.text
    ticket = re.search(r'name="ticket" value="([^"]+)"', consent.text)
    assert ticket is not None
    assert refused(kc, started["device_code"])[1]["error"] == "authorization_pending"  # signed in, not yet consented
    done = http.post(page, data={"ticket": ticket.group(1), "accept": "yes"})
    assert "Device Login Successful" in done.text
    assert http.post(page, data={"ticket": ticket.group(1), "accept": "yes"}).status_code == 400  # a ticket serves once
    mockidp.advance(10)
    assert kc.decode_token(poll(kc, started["device_code"])["access_token"])["preferred_username"] == "demo-agent"

    second = kc.device()
    consent = http.post(page, data={"user_code": second["user_code"], "demo_user": "demo-agent"})
    ticket = re.search(r'name="ticket" value="([^"]+)"', consent.text)
    assert ticket is not None
    assert "Consent denied" in http.post(page, data={"ticket": ticket.group(1), "cancel": "no"}).text
    assert refused(kc, second["device_code"])[1]["error"] == "access_denied"
