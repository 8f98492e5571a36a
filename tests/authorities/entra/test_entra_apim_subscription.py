"""API Management subscription keys and rate-limit-by-key at the gate: APIM's verbatim 401 bodies for a missing or
invalid key (Ocp-Apim-Subscription-Key header or subscription-key query), 429 with Retry-After beyond the limit,
then validate-jwt as before."""

from __future__ import annotations

import pytest

TENANT = "11111111-1111-1111-1111-111111111111"
MISSING = {"statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."}
INVALID = {"statusCode": 401, "message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."}


@pytest.fixture
def token(http) -> str:
    response = http.post(f"/entra/{TENANT}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": "22222222-2222-2222-2222-222222222222", "client_secret": "demo-app-secret",
        "scope": "api://fivedegrees-demo-api/.default"})
    return response.json()["access_token"]


def test_missing_and_invalid_subscription_keys(http, token) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    missing = http.get("/entra/apim/fivedegrees-subscribed/v1/portfolios", headers=bearer)
    assert (missing.status_code, missing.json()) == (401, MISSING)
    for params, headers in (({}, {"Ocp-Apim-Subscription-Key": "wrong"}), ({"subscription-key": "wrong"}, {})):
        invalid = http.get("/entra/apim/fivedegrees-subscribed/v1/portfolios", params=params, headers={**bearer, **headers})
        assert (invalid.status_code, invalid.json()) == (401, INVALID)


def test_a_valid_key_then_validate_jwt(mockidp, http, token) -> None:
    by_header = http.get("/entra/apim/fivedegrees-subscribed/v1/portfolios", headers={"Authorization": f"Bearer {token}", "Ocp-Apim-Subscription-Key": "demo-subscription-key"})
    assert by_header.status_code == 200, by_header.text
    by_query = http.post("/entra/apim/fivedegrees-subscribed/v1/commands", params={"subscription-key": "demo-subscription-key"},
                         headers={"Authorization": f"Bearer {token}"}, json={})
    assert by_query.status_code == 202, by_query.text
    no_token = http.get("/entra/apim/fivedegrees-subscribed/v1/portfolios", headers={"Ocp-Apim-Subscription-Key": "demo-subscription-key"})
    assert (no_token.status_code, no_token.json()) == (401, {"statusCode": 401, "message": "JWT not present."})
    assert all(e["params"].get("subscription-key") in (None, "***") for e in mockidp.requests(endpoint="apim"))  # a secret: masked
    assert "demo-subscription-key" not in str(mockidp.requests(endpoint="apim"))
    # an API without a subscription requirement ignores keys
    assert http.get("/entra/apim/fivedegrees/v1/x", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_rate_limit_by_key(mockidp, http, token) -> None:
    mockidp.control.world_add("entra/apim", {"path": "limited", "tenant": TENANT, "subscription_required": True,
                                             "subscription_keys": ["k1", "k2"], "rate_limit_calls": 2, "rate_limit_period": 60})
    headers = {"Authorization": f"Bearer {token}", "Ocp-Apim-Subscription-Key": "k1"}
    assert [http.get("/entra/apim/limited/x", headers=headers).status_code for _ in range(2)] == [200, 200]
    limited = http.get("/entra/apim/limited/x", headers=headers)
    assert limited.status_code == 429
    wait = int(limited.headers["retry-after"])
    assert 1 <= wait <= 60 and limited.json() == {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {wait} seconds."}
    assert http.get("/entra/apim/limited/x", headers={**headers, "Ocp-Apim-Subscription-Key": "k2"}).status_code == 200  # per key
    mockidp.advance(wait)
    assert http.get("/entra/apim/limited/x", headers=headers).status_code == 200  # a new window
