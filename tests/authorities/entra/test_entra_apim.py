"""The API Management gate (validate-jwt) in front of the five°degrees backend: 202 for a command, 200 for a
query, the identity passed on as headers, and 401 `{"statusCode", "message"}` for each failure."""

from __future__ import annotations

import pytest

TENANT = "11111111-1111-1111-1111-111111111111"
SECRET_APP = "22222222-2222-2222-2222-222222222222"
API_APP = "44444444-4444-4444-4444-444444444444"
GATE = "/entra/apim/fivedegrees"
VERBOSE = "/entra/apim/fivedegrees-verbose"
UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized. Access token is missing or invalid."}


def get_token(http, scope: str = "api://fivedegrees-demo-api/.default", client_id: str = SECRET_APP) -> str:
    response = http.post(f"/entra/{TENANT}/oauth2/v2.0/token", data={"client_id": client_id, "client_secret": "demo-app-secret", "scope": scope, "grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_command_is_accepted_and_query_answered_with_the_identity(mockidp, http) -> None:
    import jwt as pyjwt

    token = get_token(http)
    claims = pyjwt.decode(token, options={"verify_signature": False})
    command = http.post(f"{GATE}/v1/accounts/42/payments", headers=bearer(token), json={"amount": 1})
    assert command.status_code == 202, command.text
    body = command.json()
    assert (body["kind"], body["status"], body["path"], body["backend"]) == ("command", "Accepted", "/v1/accounts/42/payments", "fivedegrees-bff")
    assert body["operation_id"]
    assert body["identity"] == {"X-Identity-Oid": claims["oid"], "X-Identity-Sub": claims["sub"], "X-Identity-Tid": TENANT,
                                "X-Identity-Azp": SECRET_APP, "X-Identity-Roles": "Api.ReadWrite"}
    assert body["authorization_forwarded"] is True
    query = http.get(f"{GATE}/v1/accounts/42", headers=bearer(token), params={"expand": "balance"})
    assert query.status_code == 200 and query.json()["kind"] == "query" and query.json()["query"] == {"expand": "balance"}
    assert query.json()["identity"]["X-Identity-Oid"] == claims["oid"]


def test_token_requested_by_audience_guid_passes(mockidp, http) -> None:
    assert http.get(f"{GATE}/v1/ping", headers=bearer(get_token(http, API_APP + "/.default"))).status_code == 200


def failures(mockidp, http) -> dict[str, tuple[dict[str, str], str]]:
    from mockidp.tokens import sign

    entra = mockidp.authority("entra")
    keyset = entra.tenant_keyset(entra.tenants[TENANT])
    iss = f"{mockidp.base('entra')}/{TENANT}/v2.0"
    now = int(mockidp.clock.now())
    good = {"iss": iss, "aud": API_APP, "exp": now + 600, "roles": ["Api.ReadWrite"], "oid": "o", "tid": TENANT}
    other = mockidp.authority("avaya").mint({"sub": "x", "aud": API_APP, "roles": ["Api.ReadWrite"]})
    return {
        "missing": ({}, "JWT not present."),
        "wrong scheme": ({"Authorization": "Basic " + get_token(http)}, "JWT not present."),
        "malformed": (bearer("a.b"), "JWT Validation Failed: JWT is malformed."),
        "other authority": (bearer(other), "JWT Validation Failed: JWT signature validation failed."),
        "no exp": (bearer(sign(keyset, {k: v for k, v in good.items() if k != "exp"})), "JWT Validation Failed: JWT has no expiration time."),
        "audience": (bearer(sign(keyset, {**good, "aud": "api://someone-else"})), "JWT Validation Failed: Audience validation failed."),
        "issuer": (bearer(sign(keyset, {**good, "iss": "https://evil.example/v2.0"})), "JWT Validation Failed: Issuer validation failed."),
        "missing claims": (bearer(sign(keyset, {k: v for k, v in good.items() if k != "roles"})), "JWT token is missing the following claims: roles. Access denied."),
        "claim value": (bearer(sign(keyset, {**good, "roles": ["Api.Read"]})), "JWT Validation Failed: Claim value mismatch: roles=Api.ReadWrite."),
        "v1 token of another API": (bearer(get_token(http, "api://fivedegrees-legacy-api/.default")), "JWT Validation Failed: Audience validation failed."),
    }


CASES = ["missing", "wrong scheme", "malformed", "other authority", "no exp", "audience", "issuer", "missing claims", "claim value", "v1 token of another API"]


@pytest.mark.parametrize("case", CASES)
def test_each_failure_with_the_policy_messages(mockidp, http, case: str) -> None:
    headers, message = failures(mockidp, http)[case]
    response = http.post(f"{VERBOSE}/v1/commands", headers=headers)
    assert response.status_code == 401, response.text
    assert response.json() == {"statusCode": 401, "message": message}
    configured = http.post(f"{GATE}/v1/commands", headers=headers)
    assert (configured.status_code, configured.json()) == (401, UNAUTHORIZED)


def test_expiry_has_no_clock_skew(mockidp, http) -> None:
    mockidp.clock.set(int(mockidp.clock.now()), frozen=True)
    token = get_token(http)
    mockidp.clock.advance(3599)  # now == exp: still valid
    assert http.get(f"{GATE}/v1/ping", headers=bearer(token)).status_code == 200
    mockidp.clock.advance(1)  # one second past exp: no skew
    response = http.get(f"{VERBOSE}/v1/ping", headers=bearer(token))
    assert response.json() == {"statusCode": 401, "message": "JWT Validation Failed: Lifetime validation failed. The token is expired."}


def test_ps256_is_not_an_algorithm_validate_jwt_takes(mockidp, http) -> None:
    import jwt as pyjwt

    entra = mockidp.authority("entra")
    key = entra.tenant_keyset(entra.tenants[TENANT]).active
    pem = key.jwk.as_pem(private=True)
    token = pyjwt.encode({"iss": f"{mockidp.base('entra')}/{TENANT}/v2.0", "aud": API_APP, "exp": mockidp.clock.now() + 60, "roles": ["Api.ReadWrite"]},
                         pem, algorithm="PS256", headers={"kid": key.kid})
    response = http.get(f"{VERBOSE}/v1/ping", headers=bearer(token))
    assert response.status_code == 401 and "signature" in response.json()["message"]


def test_unknown_api_is_apim_404(mockidp, http) -> None:
    response = http.get("/entra/apim/nothing/v1/x", headers=bearer(get_token(http)))
    assert (response.status_code, response.json()) == (404, {"statusCode": 404, "message": "Resource not found"})
