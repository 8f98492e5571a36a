"""Real clients against Lumen's legacy mechanisms: authlib's PFW code flow with PKCE (the login page driven with
httpx), requests' HTTPDigestAuth and httpx's DigestAuth against the Digest API (MD5 and SHA-256), and httpx
against APIGEE's token endpoint."""

from __future__ import annotations

import re
import warnings
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from requests.auth import HTTPDigestAuth

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # authlib nudges toward httpx2; the httpx-based clients are what users have
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import OAuth2Client

ROUTE = "/Legacy/v1/serviceInventory"
APPS = {  # application key -> (user, password): the default world's Digest apps
    "DEMO-APP-KEY-MD5": ("demo-digest-md5", "demo-digest-md5-password"),
    "DEMO-APP-KEY-SHA256": ("demo-digest-sha256", "demo-digest-sha256-password"),
    "DEMO-APP-KEY-0001": ("demo-digest-user", "demo-digest-password"),
}
ALGORITHM = {"DEMO-APP-KEY-MD5": "MD5", "DEMO-APP-KEY-SHA256": "SHA-256"}


def used(algorithm: str, authorization: str) -> bool:
    """The Authorization header names the algorithm (requests quotes it, httpx does not)."""
    return re.search(rf'algorithm="?{re.escape(algorithm)}"?(,|$)', authorization) is not None


def test_authlib_pfw_code_flow_with_pkce(mockidp) -> None:
    base, redirect = mockidp.base("pfw"), "http://127.0.0.1:9/callback"
    verifier = generate_token(48)
    with OAuth2Client("demo-control-center", "demo-control-center-secret", scope="openid profile email", redirect_uri=redirect,
                      code_challenge_method="S256", verify=mockidp.ssl_context) as client:
        url, state = client.create_authorization_url(base + "/oauth2/authorize", code_verifier=verifier, nonce="n-42")
        with httpx.Client(verify=mockidp.ssl_context) as browser:  # the person at the login page
            page = browser.get(url)
            action, form = re.search(r'<form[^>]*action="([^"]+)"[^>]*id="demo-users">(.*?)</form>', page.text, re.DOTALL).groups()  # type: ignore[union-attr]
            hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))
            action = action.replace("&amp;", "&")
            answer = browser.post(action, data={**hidden, "demo_user": "demo-billing-user"})
        assert answer.status_code == 302 and parse_qs(urlsplit(answer.headers["location"]).query)["state"] == [state]
        token = client.fetch_token(base + "/oauth2/token", authorization_response=answer.headers["location"], code_verifier=verifier)
        assert token["token_type"] == "Bearer" and token["id_token"]
        assert client.get(base + "/oauth2/userinfo").json()["preferred_username"] == "demo-billing-user"
        first_refresh = token["refresh_token"]
        refreshed = client.refresh_token(base + "/oauth2/token")
        assert refreshed["refresh_token"] != first_refresh
        api = client.get(mockidp.base("lumen") + "/ControlCenter/v1/accounts", headers={"x-billing-account-number": "5-ABCDEF12"})
        assert api.status_code == 200 and api.json()["mechanism"] == "PFW"


@pytest.mark.parametrize("app_key", list(ALGORITHM))
def test_requests_digest(mockidp, app_key) -> None:
    session = mockidp.requests_session()
    session.auth = HTTPDigestAuth(*APPS[app_key])
    session.headers["X-Level3-Application-Key"] = app_key
    url = mockidp.base("lumen") + ROUTE
    for _ in range(3):  # requests reuses the nonce with a growing nc: no replay
        response = session.get(url, params={"page": "1"}, verify=mockidp.ca_bundle)
        assert response.status_code == 200, response.text
        assert response.json()["mechanism"] == "Digest" and response.headers["Deprecation"] == "true"
    assert used(ALGORITHM[app_key], response.request.headers["Authorization"])


@pytest.mark.parametrize("app_key", list(ALGORITHM))
def test_httpx_digest(mockidp, app_key) -> None:
    with mockidp.http(auth=httpx.DigestAuth(*APPS[app_key]), headers={"X-Level3-Application-Key": app_key}) as client:
        response = client.get("/lumen" + ROUTE)
        assert response.status_code == 200, response.text
        assert used(ALGORITHM[app_key], response.request.headers["authorization"])
        assert response.headers["sunset"] == "Thu, 31 Dec 2026 23:59:59 GMT"


def test_clients_pick_their_algorithm_from_two_challenges(mockidp) -> None:
    """Both challenges offered: httpx takes the first (SHA-256), requests the last it parses (MD5); both get in."""
    with mockidp.http(auth=httpx.DigestAuth(*APPS["DEMO-APP-KEY-0001"]), headers={"X-Level3-Application-Key": "DEMO-APP-KEY-0001"}) as client:
        response = client.get("/lumen" + ROUTE)
        assert response.status_code == 200 and used("SHA-256", response.request.headers["authorization"])
    session = mockidp.requests_session()
    response = session.get(mockidp.base("lumen") + ROUTE, auth=HTTPDigestAuth(*APPS["DEMO-APP-KEY-0001"]),
                           headers={"X-Level3-Application-Key": "DEMO-APP-KEY-0001"}, verify=mockidp.ca_bundle)
    assert response.status_code == 200 and used("MD5", response.request.headers["Authorization"])


def test_requests_recovers_from_a_stale_nonce(mockidp) -> None:
    session = mockidp.requests_session()
    session.auth = HTTPDigestAuth(*APPS["DEMO-APP-KEY-SHA256"])
    session.headers["X-Level3-Application-Key"] = "DEMO-APP-KEY-SHA256"
    url = mockidp.base("lumen") + ROUTE
    assert session.get(url, verify=mockidp.ca_bundle).status_code == 200
    mockidp.clock.advance(301)  # the nonce requests keeps reusing has expired
    assert session.get(url, verify=mockidp.ca_bundle).status_code == 200  # 401 stale=true, then the new nonce
    stale = [e for e in mockidp.requests(authority="lumen") if e["status"] == 401]
    assert stale and stale[-1]["error"] == "staleNonce"


def test_httpx_against_apigee(mockidp) -> None:
    with httpx.Client(base_url=mockidp.base("lumen"), verify=mockidp.ssl_context) as client:
        token = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers={"accept": "application/json"},
                            auth=("demo-apigee-consumer-key", "demo-apigee-consumer-secret"))
        assert token.status_code == 200 and token.json()["token_type"] == "BearerToken"
        api = client.get("/Legacy/v1/customerAccount", headers={"authorization": f"Bearer {token.json()['access_token']}"})
        assert api.status_code == 200 and api.json()["mechanism"] == "APIGEE"
        refused = client.post("/oauth/token", data={"grant_type": "client_credentials"})
        assert refused.status_code == 401 and refused.json() == {"ErrorCode": "invalid_client", "Error": "Client identifier is required"}
