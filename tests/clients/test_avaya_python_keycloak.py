"""python-keycloak's KeycloakOpenID against the Avaya A&A emulation (seed 001) over HTTPS: every call it makes for a
client of an Avaya account realm, and the exception it raises on each failure the seed documents."""

from __future__ import annotations

import json

import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakGetError, KeycloakPostError

pytestmark = pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning")  # python-keycloak's own httpx use

REALM = "demo-account"
CLIENT, SECRET = "demo-client", "demo-client-secret"
USER, PASSWORD = "demo-agent", "demo-agent-password"


def openid(mockidp, client_id: str = CLIENT, secret: str | None = SECRET, realm: str = REALM) -> KeycloakOpenID:
    return KeycloakOpenID(
        server_url=mockidp.base("avaya") + "/auth/", realm_name=realm, client_id=client_id,
        client_secret_key=secret, verify=mockidp.ca_bundle,
    )


def body(exc: pytest.ExceptionInfo) -> dict:  # type: ignore[type-arg]
    return json.loads(exc.value.response_body)


def test_well_known_certs_and_public_key(mockidp) -> None:
    kc = openid(mockidp)
    issuer = mockidp.base("avaya") + f"/auth/realms/{REALM}"
    wk = kc.well_known()
    assert wk["issuer"] == issuer
    assert wk["token_endpoint"] == issuer + "/protocol/openid-connect/token"
    assert wk["jwks_uri"] == issuer + "/protocol/openid-connect/certs"
    assert set(wk["grant_types_supported"]) == {"authorization_code", "password", "client_credentials", "refresh_token",
                                                "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code"}
    assert wk["token_endpoint_auth_methods_supported"] == ["private_key_jwt", "client_secret_basic", "client_secret_post"]
    assert wk["code_challenge_methods_supported"] == ["plain", "S256"]
    assert wk["device_authorization_endpoint"] == issuer + "/protocol/openid-connect/auth/device"

    keys = kc.certs()["keys"]
    assert keys and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig" and keys[0]["x5c"]
    pem = "-----BEGIN PUBLIC KEY-----\n" + kc.public_key() + "\n-----END PUBLIC KEY-----"
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    assert load_pem_public_key(pem.encode()).public_numbers().e == 65537  # type: ignore[union-attr]


def test_password_grant_userinfo_decode_introspect(mockidp) -> None:
    kc = openid(mockidp)
    token = kc.token(USER, PASSWORD)
    # seed 001: 900 / 9000 and lower-case "bearer"
    assert (token["expires_in"], token["refresh_expires_in"], token["token_type"]) == (900, 9000, "bearer")
    assert token["scope"] == "openid profile email" and token["id_token"] and token["session_state"]

    claims = kc.decode_token(token["access_token"])
    assert claims["preferred_username"] == USER and claims["azp"] == CLIENT and claims["typ"] == "Bearer"
    assert claims["iss"] == mockidp.base("avaya") + f"/auth/realms/{REALM}"
    assert claims["sid"] == token["session_state"]
    assert set(claims["realm_access"]["roles"]) == {"default-roles-demo-account", "agent"}
    id_claims = kc.decode_token(token["id_token"])
    assert id_claims["aud"] == CLIENT and id_claims["typ"] == "ID"

    info = kc.userinfo(token["access_token"])
    assert info == {"sub": claims["sub"], "email_verified": True, "name": "Demo Agent", "preferred_username": USER,
                    "given_name": "Demo", "family_name": "Agent", "email": "demo.agent@example.com"}

    seen = kc.introspect(token["access_token"])
    assert seen["active"] is True and seen["username"] == USER and seen["client_id"] == CLIENT and seen["token_type"] == "Bearer"
    assert kc.introspect(token["refresh_token"])["typ"] == "Refresh"
    assert kc.introspect("not-a-token") == {"active": False}


def test_client_credentials_with_python_keycloaks_empty_fields(mockidp) -> None:
    kc = openid(mockidp)
    token = kc.token(grant_type="client_credentials")  # sends username=&password=&code=&redirect_uri=
    entry = mockidp.journal.entries(endpoint="token")[-1]
    assert entry["params"]["username"] == "" and entry["status"] == 200
    claims = kc.decode_token(token["access_token"])
    assert claims["preferred_username"] == "service-account-demo-client" and claims["client_id"] == CLIENT
    assert "sid" in claims  # seed 001's client-credentials answer carries a refresh token and a session_state
    assert token["refresh_expires_in"] == 9000 and token["session_state"] == claims["sid"]
    assert kc.decode_token(token["id_token"])["azp"] == CLIENT


def test_refresh_rotates_and_old_token_is_single_use(mockidp) -> None:
    def revoke(world):  # single use is Keycloak's revokeRefreshToken, off by default (test_avaya_refresh_and_realms.py)
        world.avaya.realms[0].revoke_refresh_token = True

    mockidp.engine.change_world("avaya", revoke)
    kc = openid(mockidp)
    first = kc.token(USER, PASSWORD)
    mockidp.clock.advance(60)
    second = kc.refresh_token(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"] and second["session_state"] == first["session_state"]
    assert kc.decode_token(second["access_token"])["iat"] >= kc.decode_token(first["access_token"])["iat"] + 60
    with pytest.raises(KeycloakPostError) as reused:
        kc.refresh_token(first["refresh_token"])
    assert reused.value.response_code == 400
    assert body(reused) == {"error": "invalid_grant", "error_description": "Maximum allowed refresh token reuse exceeded"}
    # Keycloak detaches the client session on reuse: the newest tokens of that login stop working too.
    with pytest.raises(KeycloakPostError) as detached:
        kc.refresh_token(second["refresh_token"])
    assert body(detached) == {"error": "invalid_grant", "error_description": "Session doesn't have required client"}
    assert kc.introspect(second["access_token"]) == {"active": False}


def test_refresh_token_expires(mockidp) -> None:
    kc = openid(mockidp)
    token = kc.token(USER, PASSWORD)
    mockidp.clock.advance(9001)
    with pytest.raises(KeycloakPostError) as expired:
        kc.refresh_token(token["refresh_token"])
    assert expired.value.response_code == 400
    assert body(expired) == {"error": "invalid_grant", "error_description": "Token is not active"}


def test_logout_ends_the_session(mockidp) -> None:
    kc = openid(mockidp)
    token = kc.token(USER, PASSWORD)
    assert kc.logout(token["refresh_token"]) == {}  # python-keycloak accepts only 204
    assert kc.introspect(token["access_token"]) == {"active": False}
    with pytest.raises(KeycloakPostError) as after:
        kc.refresh_token(token["refresh_token"])
    assert body(after) == {"error": "invalid_grant", "error_description": "Session not active"}
    with pytest.raises(KeycloakAuthenticationError) as userinfo:
        kc.userinfo(token["access_token"])
    assert userinfo.value.response_code == 401


def test_wrong_secret(mockidp) -> None:
    with pytest.raises(KeycloakAuthenticationError) as exc:
        openid(mockidp, secret="wrong").token(USER, PASSWORD)
    assert exc.value.response_code == 401
    assert body(exc) == {"error": "unauthorized_client", "error_description": "Invalid client secret"}  # seed 001


def test_wrong_password(mockidp) -> None:
    with pytest.raises(KeycloakAuthenticationError) as exc:
        openid(mockidp).token(USER, "wrong")
    assert exc.value.response_code == 401  # seed 001: 401 for a wrong username/password combination
    assert body(exc) == {"error": "invalid_grant", "error_description": "Invalid user credentials"}


def test_unknown_realm(mockidp) -> None:
    kc = openid(mockidp, realm="no-such-account")
    with pytest.raises(KeycloakPostError) as exc:
        kc.token(USER, PASSWORD)
    assert exc.value.response_code == 404  # seed 001: "Not Found (404) - account id is invalid"
    assert body(exc) == {"error": "Realm does not exist"}
    with pytest.raises(KeycloakGetError) as wk:
        kc.well_known()
    assert wk.value.response_code == 404 and body(wk) == {"error": "Realm does not exist"}


def test_unknown_client(mockidp) -> None:
    with pytest.raises(KeycloakPostError) as exc:
        openid(mockidp, client_id="no-such-client").token(USER, PASSWORD)
    assert exc.value.response_code == 400  # seed 001: "Bad Request (400) - grant_type or client_id is invalid"
    assert body(exc) == {"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"}


def test_client_id_is_case_insensitive(mockidp) -> None:
    token = openid(mockidp, client_id="DEMO-Client").token(grant_type="client_credentials")
    assert openid(mockidp).decode_token(token["access_token"])["azp"] == CLIENT


def test_garbage_refresh_token(mockidp) -> None:
    kc = openid(mockidp)
    with pytest.raises(KeycloakPostError) as garbage:
        kc.refresh_token("garbage")
    assert garbage.value.response_code == 400
    assert body(garbage) == {"error": "invalid_grant", "error_description": "Invalid refresh token"}  # seed 001's body
