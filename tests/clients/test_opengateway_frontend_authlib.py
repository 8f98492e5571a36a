"""authlib's OAuth2Client doing Open Gateway's frontend flow (authorization code, HTTP Basic at the token endpoint,
PKCE) against mockidp over HTTPS, then calling Number Verification with the token, as a channel partner's backend
does after the device came back with a code."""

from __future__ import annotations

import hashlib
import warnings

import jwt as pyjwt

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # authlib nudges toward httpx2; the httpx-based clients are what users have
    from authlib.integrations.httpx_client import OAuth2Client

APP, SECRET = "demo-camara-app", "demo-camara-secret"
REDIRECT = "http://127.0.0.1:8080/callback"  # registered in the default world; never reached: the test reads Location


def test_authlib_frontend_flow_with_pkce_then_number_verification(mockidp, http) -> None:
    gateway = mockidp.base("opengateway") + "/apigateway"
    scope = "openid dpv:FraudPreventionAndDetection number-verification:verify number-verification:device-phone-number:read"
    with OAuth2Client(APP, SECRET, scope=scope, redirect_uri=REDIRECT, code_challenge_method="S256",
                      token_endpoint_auth_method="client_secret_basic", verify=mockidp.ssl_context) as client:
        verifier = "v" * 64
        url, state = client.create_authorization_url(gateway + "/authorize", code_verifier=verifier, nonce="n-1")
        # The device's own request, over its mobile data connection: the operator sees its address.
        landed = http.get(url, headers={"x-forwarded-for": "127.0.0.1"}, follow_redirects=False)
        assert landed.status_code == 302, landed.text
        location = landed.headers["location"]
        assert location.startswith(REDIRECT + "?") and f"state={state}" in location
        token = client.fetch_token(gateway + "/token", authorization_response=location, code_verifier=verifier)
        # the purpose travels as its own claim, as for the backend flow's tokens
        assert token["token_type"] == "Bearer" and token["scope"] == "openid number-verification:verify number-verification:device-phone-number:read"
        assert pyjwt.decode(token["access_token"], options={"verify_signature": False})["purpose"] == "dpv:FraudPreventionAndDetection"
        assert pyjwt.decode(token["id_token"], options={"verify_signature": False})["nonce"] == "n-1"
        verify = gateway + "/number-verification/v0/verify"
        assert client.post(verify, json={"phoneNumber": "+34600000003"}).json() == {"devicePhoneNumberVerified": True}
        assert client.post(verify, json={"phoneNumber": "+34600000009"}).json() == {"devicePhoneNumberVerified": False}
        hashed = hashlib.sha256(b"+34600000003").hexdigest().upper()
        assert client.post(verify, json={"hashedPhoneNumber": hashed}).json() == {"devicePhoneNumberVerified": True}
        assert client.get(gateway + "/number-verification/v0/device-phone-number").json() == {"devicePhoneNumber": "+34600000003"}
    assert mockidp.journal.entries(endpoint="token")[-1]["headers"]["authorization"] == "***"  # HTTP Basic
