"""PyJWT's PyJWKClient verifies Entra tokens from the discovered `jwks_uri`; the JWKS of every other mockidp issuer
refuses them."""

from __future__ import annotations

import ssl

import jwt as pyjwt
import pytest

TENANT = "11111111-1111-1111-1111-111111111111"
API_APP = "44444444-4444-4444-4444-444444444444"


def entra_token(http, scope: str = "api://fivedegrees-demo-api/.default") -> str:
    response = http.post(f"/entra/{TENANT}/oauth2/v2.0/token", data={
        "client_id": "22222222-2222-2222-2222-222222222222", "client_secret": "demo-app-secret", "scope": scope, "grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def context(mockidp) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(mockidp.ca_bundle))


def test_pyjwk_client_verifies_from_the_discovered_jwks_uri(mockidp, http) -> None:
    config = http.get(f"/entra/{TENANT}/v2.0/.well-known/openid-configuration").json()
    token = entra_token(http)
    key = pyjwt.PyJWKClient(config["jwks_uri"], ssl_context=context(mockidp)).get_signing_key_from_jwt(token)
    claims = pyjwt.decode(token, key.key, algorithms=["RS256"], audience=API_APP, issuer=config["issuer"])
    assert claims["tid"] == TENANT and claims["roles"] == ["Api.ReadWrite"]


def test_v1_token_verifies_with_the_v1_metadata(mockidp, http) -> None:
    config = http.get(f"/entra/{TENANT}/.well-known/openid-configuration").json()
    token = entra_token(http, "api://fivedegrees-legacy-api/.default")
    key = pyjwt.PyJWKClient(config["jwks_uri"], ssl_context=context(mockidp)).get_signing_key_from_jwt(token)
    claims = pyjwt.decode(token, key.key, algorithms=["RS256"], audience="api://fivedegrees-legacy-api", issuer=config["issuer"])
    assert claims["ver"] == "1.0"


def other_jwks_uris(mockidp) -> list[str]:
    return [mockidp.url + a.prefix + i.jwks_path for a in mockidp.engine.authorities.values() if a.name != "entra" for i in a.issuers()]


def test_every_other_authority_refuses_the_token(mockidp, http) -> None:
    token = entra_token(http)
    uris = other_jwks_uris(mockidp)
    assert len(uris) >= 5
    for uri in uris:
        client = pyjwt.PyJWKClient(uri, ssl_context=context(mockidp))
        with pytest.raises(pyjwt.PyJWKClientError):
            client.get_signing_key_from_jwt(token)  # no key with the token's kid
        for key in client.get_signing_keys():  # and no key verifies it regardless of kid
            with pytest.raises(pyjwt.InvalidSignatureError):
                pyjwt.decode(token, key.key, algorithms=["RS256", "PS256", "ES256"], options={"verify_aud": False})
