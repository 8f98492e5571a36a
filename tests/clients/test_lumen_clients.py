"""Real clients against the Lumen emulation over HTTPS: MSAL Python against Azure AD B2C, authlib's OAuth2Client
(client_secret_basic, as Lumen's own client sends) against LIAM, and the full B2C-assertion flow with httpx.

How MSAL treats a B2C authority (msal 1.39 `authority.py`): it knows B2C by the host (`*.b2clogin.com`, ...) or
by a path of exactly two segments whose second starts with `b2c_`. Behind mockidp's `/b2c` prefix neither holds, so
MSAL would ask login.microsoftonline.com for instance discovery: pass `instance_discovery=False` (or
`validate_authority=False`). With the real host name (`https://lumendemo.b2clogin.com/...`) MSAL needs no flag.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx
import msal
import pytest
import requests
from authlib.integrations.httpx_client import OAuth2Client

from mockidp.tokens import peek

APP, SECRET = "55555555-5555-5555-5555-555555555555", "demo-b2c-secret"
PROD_APP, PROD_SECRET = "88888888-8888-8888-8888-888888888888", "demo-b2c-prod-secret"
B2C_PATH = "/lumendemo.onmicrosoft.com/B2C_1_client_credentials"
LIAM_SCOPE = "https://lumendemo.onmicrosoft.com/liam/.default"
HEADERS = {"x-billing-account-number": "5-ABCDEF12", "x-customer-number": "1-DEMO1234"}


@pytest.fixture(autouse=True)
def trust_mockidp(mockidp, monkeypatch):
    """requests lets $REQUESTS_CA_BUNDLE win over a session's `verify`: point it at mockidp's CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockidp.ca_bundle))


def b2c_app(mockidp, client_id: str = APP, secret: str = SECRET) -> msal.ConfidentialClientApplication:
    # A fresh object per call: MSAL caches an HTTP 400 answer for 60 s on the same app.
    return msal.ConfidentialClientApplication(client_id, client_credential=secret, authority=mockidp.base("b2c") + B2C_PATH,
                                              instance_discovery=False, verify=mockidp.ca_bundle)


class RealHostAdapter(requests.adapters.HTTPAdapter):
    """Sends https://<real host>/... to mockidp's loopback port; Host, SNI and the certificate check keep the real name."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.host
        super().init_poolmanager(*args, **kwargs)

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def, override]
        parts = urlsplit(request.url)
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.port}"))
        return super().send(request, **kwargs)


def test_msal_gets_a_b2c_token_for_liams_api(mockidp) -> None:
    result = b2c_app(mockidp).acquire_token_for_client([LIAM_SCOPE])
    assert "access_token" in result, result
    claims = peek(result["access_token"])[1]
    assert claims["azp"] == APP and claims["tfp"] == "B2C_1_client_credentials" and claims["scp"] == "liam.access"
    assert result["token_type"] == "Bearer" and result["expires_in"] == 3600


def test_msal_unchanged_with_the_real_b2c_host(mockidp) -> None:
    session = requests.Session()
    session.mount("https://lumendemo.b2clogin.com", RealHostAdapter("lumendemo.b2clogin.com", urlsplit(mockidp.url).port))
    app = msal.ConfidentialClientApplication(APP, client_credential=SECRET, http_client=session,
                                             authority="https://lumendemo.b2clogin.com" + B2C_PATH)  # no discovery flags
    assert app.authority._is_b2c
    result = app.acquire_token_for_client([LIAM_SCOPE])
    assert "access_token" in result, result
    assert peek(result["access_token"])[1]["iss"] == "https://lumendemo.b2clogin.com/66666666-6666-6666-6666-666666666666/v2.0/"


def test_msal_sees_b2cs_error(mockidp) -> None:
    result = b2c_app(mockidp, secret="wrong").acquire_token_for_client([LIAM_SCOPE])
    assert result["error"] == "invalid_client" and result["error_description"].startswith("AADB2C90081: ")


def test_authlib_client_secret_basic_against_liam_then_the_api(mockidp) -> None:
    with OAuth2Client(APP, SECRET, token_endpoint_auth_method="client_secret_basic", verify=mockidp.ssl_context) as client:
        token = client.fetch_token(mockidp.base("lumen") + "/oauth/v2/token", grant_type="client_credentials")
        assert token["token_type"] == "Bearer" and token["expires_in"] == "3600"
        assert token["expires_at"] > mockidp.clock.now() - 60
        assert peek(token["access_token"])[1]["bans"] == ["5-ABCDEF12", "5-XYZ98765"]
        response = client.get(mockidp.base("lumen") + "/Billing/v1/customerBill", headers=HEADERS)
        assert response.status_code == 200, response.text
        assert client.get(mockidp.base("lumen") + "/Billing/v1/customerBill", headers={**HEADERS, "x-billing-account-number": "5-NOTMINE0"}).status_code == 403


def test_authlib_and_liams_error_shape(mockidp) -> None:
    """LIAM's errors carry `code`, not RFC 6749's `error`: authlib raises only on `error`, so it hands the error body
    back as if it were a token. A compliance hook that raises on HTTP errors makes it fail loudly."""
    url = mockidp.base("lumen") + "/oauth/v2/token"
    with OAuth2Client(APP, "wrong", token_endpoint_auth_method="client_secret_basic", verify=mockidp.ssl_context) as client:
        body = client.fetch_token(url, grant_type="client_credentials")
        assert "access_token" not in body and body["code"] == "invalidCredentials" and body["referenceError"] == "AADB2C90081"

        def raise_for_status(response: httpx.Response) -> httpx.Response:
            return response.raise_for_status()

        client.register_compliance_hook("access_token_response", raise_for_status)
        with pytest.raises(httpx.HTTPStatusError) as info:
            client.fetch_token(url, grant_type="client_credentials")
        assert info.value.response.status_code == 401


def liam_with_assertion(mockidp, http: httpx.Client, assertion: str, client_id: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    return http.post(mockidp.base("lumen") + "/oauth/v2/token", data=data)


def test_full_secondary_flow(mockidp) -> None:
    b2c = b2c_app(mockidp).acquire_token_for_client([LIAM_SCOPE])["access_token"]
    api = mockidp.base("lumen") + "/Billing/v1/customerBill"
    with httpx.Client(verify=mockidp.ssl_context) as http:
        liam = liam_with_assertion(mockidp, http, b2c, APP)
        assert liam.status_code == 200, liam.text
        token = liam.json()["access_token"]
        assert http.get(api, headers={"authorization": f"Bearer {token}", **HEADERS}).status_code == 200
        wrong_ban = http.get(api, headers={"authorization": f"Bearer {token}", **HEADERS, "x-billing-account-number": "5-NOTMINE0"})
        assert wrong_ban.status_code == 403 and wrong_ban.json()["code"] == "banNotAuthorized"
        b2c_itself = http.get(api, headers={"authorization": f"Bearer {b2c}", **HEADERS})
        assert b2c_itself.status_code == 401 and b2c_itself.json()["code"] == "invalidToken"


def test_secondary_flow_with_a_token_from_another_environment(mockidp) -> None:
    prod = b2c_app(mockidp, PROD_APP, PROD_SECRET).acquire_token_for_client([LIAM_SCOPE])["access_token"]
    with httpx.Client(verify=mockidp.ssl_context) as http:
        response = liam_with_assertion(mockidp, http, prod, PROD_APP)
    assert response.status_code == 401 and response.json()["code"] == "environmentMismatch"


def test_secondary_flow_with_someone_elses_b2c_token(mockidp) -> None:
    other = mockidp.authority("lumen").register_app(["5-OTHER001"], "1-OTHER001")
    b2c = b2c_app(mockidp).acquire_token_for_client([LIAM_SCOPE])["access_token"]  # azp = the demo app
    with httpx.Client(verify=mockidp.ssl_context) as http:
        response = liam_with_assertion(mockidp, http, b2c, other.client_id)
    assert response.status_code == 401 and response.json()["code"] == "clientIdMismatch"
