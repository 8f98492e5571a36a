"""On-behalf-of with MSAL's acquire_token_on_behalf_of: a user signs in to the web app for the middle tier
(api://fivedegrees-bff), whose ConfidentialClientApplication exchanges that token for one to the demo API, which the
API Management gate accepts by the user's role. And Entra's v1 token endpoint (`resource=`, string fields)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import jwt as pyjwt
import msal
import pytest
import requests
from azure.identity import OnBehalfOfCredential
from html_forms import Page

TENANT = "11111111-1111-1111-1111-111111111111"
WEB_APP, WEB_SECRET = "22222222-2222-2222-2222-222222222222", "demo-app-secret"
BFF_APP, BFF_SECRET = "68686868-6868-6868-6868-686868686868", "demo-bff-secret"
API_APP, LEGACY_APP = "44444444-4444-4444-4444-444444444444", "45454545-4545-4545-4545-454545454545"
USER, PASSWORD = "demo.user@fivedegrees-demo.onmicrosoft.com", "demo-user-password"
REDIRECT = "http://localhost:8400"


@pytest.fixture(autouse=True)
def trust_mockidp(mockidp, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockidp.ca_bundle))  # requests lets it win over `verify=`


def confidential(mockidp, client_id: str, secret: str) -> msal.ConfidentialClientApplication:
    http = requests.Session()
    http.verify = str(mockidp.ca_bundle)
    return msal.ConfidentialClientApplication(client_id, client_credential=secret, authority=f"{mockidp.url}/{TENANT}",
                                              instance_discovery=False, http_client=http)


def user_token_for_the_bff(mockidp) -> str:
    """The user signs in at the web app (auth code flow, the test plays the browser), asking for the middle tier's scope."""
    web = confidential(mockidp, WEB_APP, WEB_SECRET)
    flow = web.initiate_auth_code_flow(["api://fivedegrees-bff/Bff.Access"], redirect_uri=REDIRECT)
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        page = browser.get(flow["auth_uri"])
        answer = Page(page.text).submit(browser, "login-form", "kc-login", username=USER, password=PASSWORD)
    assert answer.status_code == 302, answer.text
    result = web.acquire_token_by_auth_code_flow(flow, {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()})
    assert "access_token" in result, result
    return result["access_token"]


def claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def forged_user_token(mockidp, **overrides) -> str:
    user = next(u for u in mockidp.authority("entra").config.tenants[0].users if u.user_principal_name == USER)
    base = {"aud": BFF_APP, "scp": "Bff.Access", "oid": user.object_id, "tid": TENANT, "azp": WEB_APP, "ver": "2.0",
            "iss": f"{mockidp.base('entra')}/{TENANT}/v2.0"}
    return mockidp.control.forge("entra", {**base, **overrides}, TENANT)


@pytest.mark.parametrize(("scope", "scp"), [("api://fivedegrees-demo-api/Api.ReadWrite", "Api.ReadWrite"),
                                            ("api://fivedegrees-demo-api/.default", "Api.Read Api.ReadWrite")])
def test_msal_on_behalf_of(mockidp, scope: str, scp: str) -> None:
    incoming = user_token_for_the_bff(mockidp)
    assert claims(incoming)["aud"] == BFF_APP
    result = confidential(mockidp, BFF_APP, BFF_SECRET).acquire_token_on_behalf_of(incoming, [scope])
    assert "access_token" in result, result
    downstream = claims(result["access_token"])
    assert (downstream["aud"], downstream["azp"], downstream["scp"], downstream["oid"]) == (API_APP, BFF_APP, scp, claims(incoming)["oid"])
    assert downstream["roles"] == ["Api.ReadWrite"] and "idtyp" not in downstream
    with mockidp.http() as http:
        response = http.post("/entra/apim/fivedegrees/v1/commands/transfer", headers={"Authorization": f"Bearer {result['access_token']}"}, json={})
    assert response.status_code == 202, response.text
    assert response.json()["identity"]["X-Identity-Oid"] == downstream["oid"]
    # msal asks for openid, profile and offline_access too: the middle tier gets an id token and a refresh token, whose
    # refresh keeps the scopes the exchange resolved (.default: the consented ones).
    assert result["id_token_claims"]["oid"] == downstream["oid"] and result["id_token_claims"]["aud"] == BFF_APP
    with mockidp.http() as http:
        refreshed = http.post(f"/entra/{TENANT}/oauth2/v2.0/token", data={"grant_type": "refresh_token", "refresh_token": result["refresh_token"],
                                                                         "client_id": BFF_APP, "client_secret": BFF_SECRET})
    assert refreshed.status_code == 200, refreshed.text
    again = claims(refreshed.json()["access_token"])
    assert (again["aud"], again["azp"], again["scp"], again["oid"]) == (API_APP, BFF_APP, scp, downstream["oid"])


def test_an_exchange_without_openid_or_offline_access_gets_the_access_token_alone(mockidp, http) -> None:
    incoming = user_token_for_the_bff(mockidp)
    got = http.post(f"/entra/{TENANT}/oauth2/v2.0/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "requested_token_use": "on_behalf_of", "assertion": incoming,
        "scope": "api://fivedegrees-demo-api/Api.Read", "client_id": BFF_APP, "client_secret": BFF_SECRET})
    assert got.status_code == 200, got.text
    assert set(got.json()) == {"token_type", "scope", "expires_in", "ext_expires_in", "access_token"}


def test_azure_identity_on_behalf_of_credential(mockidp) -> None:
    incoming = user_token_for_the_bff(mockidp)
    credential = OnBehalfOfCredential(TENANT, BFF_APP, client_secret=BFF_SECRET, user_assertion=incoming, authority=mockidp.url,
                                      disable_instance_discovery=True, connection_verify=mockidp.ca_bundle)
    token = credential.get_token("api://fivedegrees-demo-api/Api.Read").token
    assert (claims(token)["scp"], claims(token)["oid"], claims(token)["azp"]) == ("Api.Read", claims(incoming)["oid"], BFF_APP)


def obo_error(mockidp, assertion: str, scope: str = "api://fivedegrees-demo-api/Api.Read") -> dict:
    result = confidential(mockidp, BFF_APP, BFF_SECRET).acquire_token_on_behalf_of(assertion, [scope])
    assert "error" in result, result
    return result


def test_on_behalf_of_errors(mockidp) -> None:
    wrong_audience = obo_error(mockidp, forged_user_token(mockidp, aud=API_APP))
    assert (wrong_audience["error"], wrong_audience["error_codes"]) == ("invalid_grant", [50013])
    assert wrong_audience["error_description"].startswith(f"AADSTS50013: Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '{API_APP}'")
    app_only = obo_error(mockidp, forged_user_token(mockidp, scp=None, idtyp="app"))
    assert app_only["error_codes"] == [50013]
    other_key = obo_error(mockidp, mockidp.control.forge("entra", {"aud": BFF_APP, "scp": "Bff.Access"}, TENANT, variant="unknown_key"))
    assert other_key["error_codes"] == [50013]
    consent = obo_error(mockidp, forged_user_token(mockidp), "api://fivedegrees-legacy-api/.default")
    assert (consent["error"], consent["error_codes"], consent["suberror"]) == ("invalid_grant", [65001], "consent_required")
    assert consent["error_description"].startswith(f"AADSTS65001: The user or administrator has not consented to use the application with ID '{BFF_APP}' named 'fivedegrees-bff'.")
    token = forged_user_token(mockidp)
    mockidp.advance(3700)
    assert obo_error(mockidp, token)["error_codes"] == [500133]


# --- v1 ------------------------------------------------------------------------------------------------------------

def v1_form(resource: str | None) -> dict:
    form = {"grant_type": "client_credentials", "client_id": WEB_APP, "client_secret": WEB_SECRET}
    return form if resource is None else {**form, "resource": resource}


@pytest.mark.parametrize("prefix", ["/entra", ""])
def test_v1_endpoint(mockidp, http, prefix: str) -> None:
    response = http.post(f"{prefix}/{TENANT}/oauth2/token", data=v1_form("api://fivedegrees-legacy-api"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "expires_on", "not_before", "resource", "access_token"}
    assert all(isinstance(body[k], str) for k in ("expires_in", "ext_expires_in", "expires_on", "not_before"))
    assert int(body["expires_on"]) - int(body["not_before"]) == int(body["expires_in"]) and body["resource"] == "api://fivedegrees-legacy-api"
    token = claims(body["access_token"])
    assert (token["ver"], token["iss"], token["aud"], token["appid"], token["appidacr"]) == ("1.0", f"https://sts.windows.net/{TENANT}/", "api://fivedegrees-legacy-api", WEB_APP, "1")


def test_v1_endpoint_token_version_is_the_resources(mockidp, http) -> None:
    """An API that takes v2 tokens gets one from the v1 endpoint too (accessTokenAcceptedVersion), and the gate takes it."""
    body = http.post(f"/{TENANT}/oauth2/token", data=v1_form("api://fivedegrees-demo-api")).json()
    assert (claims(body["access_token"])["ver"], claims(body["access_token"])["aud"]) == ("2.0", API_APP)
    assert http.get("/entra/apim/fivedegrees/v1/x", headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 200


def test_v1_and_v2_parameter_errors(http) -> None:
    missing = http.post(f"/{TENANT}/oauth2/token", data=v1_form(None)).json()
    assert missing["error_codes"] == [900144] and "'resource'" in missing["error_description"]
    unknown = http.post(f"/{TENANT}/oauth2/token", data=v1_form("api://nothing")).json()
    assert unknown["error_codes"] == [500011]
    on_v2 = http.post(f"/{TENANT}/oauth2/v2.0/token", data=v1_form("api://fivedegrees-demo-api")).json()
    assert (on_v2["error"], on_v2["error_codes"]) == ("invalid_request", [901002])
    assert on_v2["error_description"].startswith("AADSTS901002: The 'resource' request parameter isn't supported.")
