"""One client authentication per request (RFC 6749 §2.3: "The client MUST NOT use more than one authentication
method in each request"): HTTP Basic for one client with another client's id, or a second secret, in the body
never gets a token for the Basic client, and the journal names the client the authority judged."""

from __future__ import annotations

from typing import Any

import pytest

AVAYA_TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
ENTRA_TOKEN = "/entra/11111111-1111-1111-1111-111111111111/oauth2/v2.0/token"
ENTRA_APP, ENTRA_SECRET = "22222222-2222-2222-2222-222222222222", "demo-app-secret"
ENTRA_SCOPE = "api://fivedegrees-demo-api/.default"
B2C_TOKEN = "/b2c/lumendemo.onmicrosoft.com/B2C_1_client_credentials/oauth2/v2.0/token"
LUMEN_APP, LUMEN_SECRET = "55555555-5555-5555-5555-555555555555", "demo-b2c-secret"
CC = {"grant_type": "client_credentials"}


def last_token_entry(mockidp: Any, authority: str) -> dict[str, Any]:
    return mockidp.journal.entries(authority=authority)[-1]


# --- Keycloak (Avaya) --------------------------------------------------------------------------------
# Keycloak's ClientIdAndSecretAuthenticator reads Basic first, then lets a form `client_id` / `client_secret`
# override it: the client judged is the body's, with whichever secret is left. So Basic for demo-client with
# `client_id=demo-jwt-client` judges demo-jwt-client (which has no secret), and a wrong body secret is wrong.

def test_keycloak_basic_with_another_client_id_in_the_body_is_not_the_basic_client(mockidp: Any, http: Any) -> None:
    resp = http.post(AVAYA_TOKEN, data={**CC, "client_id": "demo-jwt-client"}, auth=("demo-client", "demo-client-secret"))
    assert resp.status_code == 401 and resp.json()["error"] == "unauthorized_client", resp.text
    assert "access_token" not in resp.json()
    assert last_token_entry(mockidp, "avaya")["client_id"] == "demo-jwt-client"


def test_keycloak_basic_with_a_wrong_body_secret_is_refused(mockidp: Any, http: Any) -> None:
    resp = http.post(AVAYA_TOKEN, data={**CC, "client_secret": "wrong"}, auth=("demo-client", "demo-client-secret"))
    assert resp.status_code == 401, resp.text
    assert resp.json() == {"error": "unauthorized_client", "error_description": "Invalid client secret"}


def test_keycloak_basic_with_the_same_client_id_in_the_body_still_works(mockidp: Any, http: Any) -> None:
    resp = http.post(AVAYA_TOKEN, data={**CC, "client_id": "demo-client"}, auth=("demo-client", "demo-client-secret"))
    assert resp.status_code == 200, resp.text
    assert last_token_entry(mockidp, "avaya")["client_id"] == "demo-client"


# --- Entra ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"client_secret": "wrong"},  # Basic OK, a second (wrong) secret in the body
    {"client_secret": ENTRA_SECRET},  # even the same secret twice is two methods
    {"client_id": "33333333-3333-3333-3333-333333333333"},  # Basic for one app, the body names another
], ids=["wrong-body-secret", "same-body-secret", "other-client-id"])
def test_entra_refuses_basic_plus_body_credentials(mockidp: Any, http: Any, body: dict[str, str]) -> None:
    resp = http.post(ENTRA_TOKEN, data={**CC, "scope": ENTRA_SCOPE, **body}, auth=(ENTRA_APP, ENTRA_SECRET))
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_request" and resp.json()["error_codes"] == [9002313], resp.text


def test_entra_basic_with_the_same_client_id_in_the_body_works(mockidp: Any, http: Any) -> None:
    resp = http.post(ENTRA_TOKEN, data={**CC, "scope": ENTRA_SCOPE, "client_id": ENTRA_APP}, auth=(ENTRA_APP, ENTRA_SECRET))
    assert resp.status_code == 200, resp.text
    assert last_token_entry(mockidp, "entra")["client_id"] == ENTRA_APP


def test_entra_secret_and_assertion_together_are_refused(mockidp: Any, http: Any) -> None:
    resp = http.post(ENTRA_TOKEN, data={**CC, "scope": ENTRA_SCOPE, "client_id": ENTRA_APP, "client_secret": ENTRA_SECRET,
                                        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                                        "client_assertion": "a.b.c"})
    assert resp.status_code == 400 and resp.json()["error_codes"] == [9002313], resp.text


# --- the others: PFW, Open Gateway, B2C, LIAM -------------------------------------------------------------

def test_pfw_refuses_basic_plus_body_secret(mockidp: Any, http: Any) -> None:
    resp = http.post("/pfw/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": "x", "client_secret": "wrong"},
                     auth=("demo-control-center", "demo-control-center-secret"))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request", resp.text


def test_opengateway_refuses_basic_plus_another_client_id(mockidp: Any, http: Any) -> None:
    resp = http.post("/opengateway/apigateway/bc-authorize", data={"login_hint": "tel:+34655555555", "purpose": "dpv:FraudPreventionAndDetection#sim-swap",
                                                        "client_id": "your_app_client_id"}, auth=("demo-app-id", "demo-app-secret"))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request", resp.text


def test_b2c_refuses_basic_plus_body_secret(mockidp: Any, http: Any) -> None:
    resp = http.post(B2C_TOKEN, data={**CC, "scope": "https://lumendemo.onmicrosoft.com/liam/.default", "client_secret": "wrong"},
                     auth=(LUMEN_APP, LUMEN_SECRET))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request", resp.text


def test_liam_refuses_basic_plus_another_client_id(mockidp: Any, http: Any) -> None:
    resp = http.post("/lumen/oauth/v2/token", data={**CC, "client_id": "88888888-8888-8888-8888-888888888888"}, auth=(LUMEN_APP, LUMEN_SECRET))
    assert resp.status_code == 400, resp.text
    assert "access_token" not in resp.json()
