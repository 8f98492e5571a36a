"""The stand-in Avaya API (seed 001, "Making an API Call": 401 missing or invalid token, 403 insufficient
privileges), Keycloak's token response fields and claims, and the real-hostname routing of the Avaya realms."""

from __future__ import annotations

import jwt as pyjwt
import pytest

REALM = "/avaya/auth/realms/demo-account"
TOKEN = REALM + "/protocol/openid-connect/token"
CLIENT = {"client_id": "demo-client", "client_secret": "demo-client-secret"}
AGENT = {"username": "demo-agent", "password": "demo-agent-password"}
ADMIN = {"username": "demo-admin", "password": "demo-admin-password"}
KEYCLOAK_ORDER = ["access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type", "id_token",
                  "not-before-policy", "session_state", "scope"]


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def get_token(http, **form: str) -> dict:
    answer = http.post(TOKEN, data={**CLIENT, **form})
    assert answer.status_code == 200, answer.text
    return answer.json()


def call(http, token: str | None, path: str = "/v1/agents/me", method: str = "GET"):
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    return http.request(method, "/avaya/api" + path, headers=headers)


def assert_401(answer) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.json()["message"] == "Missing or Invalid token."  # seed 001's words
    assert answer.headers["www-authenticate"].startswith("Bearer ")


# --- the resource server ---------------------------------------------------------------------------------


def test_200_with_the_role(http) -> None:
    token = get_token(http, grant_type="password", **AGENT)["access_token"]
    answer = call(http, token)
    assert answer.status_code == 200
    assert answer.json()["account"] == "demo-account" and answer.json()["azp"] == "demo-client" and "agent" in answer.json()["roles"]


def test_403_without_the_role(http) -> None:
    token = get_token(http, grant_type="password", **ADMIN)["access_token"]  # an admin is not an agent
    answer = call(http, token)
    assert answer.status_code == 403
    assert answer.json()["message"] == "Token validation successful, but insufficient privileges."  # seed 001
    assert answer.json()["required_roles"] == ["agent"]
    assert call(http, token, "/v1/admin/users", "POST").status_code == 200


def test_scope_maps_to_roles(http) -> None:
    service = get_token(http, grant_type="client_credentials")["access_token"]
    assert call(http, service, "/v1/admin/users", "POST").status_code == 403
    # the service account holds interactions:read itself; the `interactions` scope would add it too
    assert call(http, service, "/v1/interactions/42").status_code == 200


def test_401_missing_token(http) -> None:
    assert_401(call(http, None))
    assert_401(http.get("/avaya/api/v1/agents/me", headers={"authorization": "Basic ZGVtbzpkZW1v"}))


@pytest.mark.parametrize("variant", ["unknown_key", "other_authority_key", "alg_none", "hs256_public_key", "truncated", "expired", "wrong_issuer"])
def test_401_forged(http, mockidp, variant) -> None:
    forged = mockidp.avaya.mint({"typ": "Bearer", "azp": "demo-client", "realm_access": {"roles": ["agent"]}}, variant=variant)
    assert_401(call(http, forged))


def test_a_minted_token_with_the_role_passes(http, mockidp) -> None:
    """The control for the forged variants above: same claims, valid."""
    minted = mockidp.avaya.mint({"typ": "Bearer", "azp": "demo-client", "realm_access": {"roles": ["agent"]}})
    assert call(http, minted).status_code == 200


def test_401_wrong_signature(http) -> None:
    token = get_token(http, grant_type="password", **AGENT)["access_token"]
    head, body, sig = token.split(".")
    assert_401(call(http, f"{head}.{body}.{sig[:-4]}AAAA"))


def test_401_wrong_issuer_signed_by_the_realm(http, mockidp) -> None:
    """Signed with the realm's own key, but naming an issuer that is not this server."""
    token = mockidp.authority("avaya").mint({"iss": "https://evil.example/auth/realms/demo-account", "typ": "Bearer", "sub": "x",
                                             "realm_access": {"roles": ["agent"]}})
    assert_401(call(http, token))


@pytest.mark.parametrize("other", ["entra", "lumen", "b2c"])
def test_401_token_of_another_authority(http, mockidp, other) -> None:
    token = mockidp.authority(other).mint({"sub": "x", "typ": "Bearer", "roles": ["agent"], "realm_access": {"roles": ["agent"]}})
    assert_401(call(http, token))


def test_401_token_of_another_realm(http, mockidp) -> None:
    """A realm's key never vouches for another realm's issuer."""
    other = mockidp.authority("avaya").realms["demo-account"].keyset
    from mockidp.tokens import sign

    token = sign(other, {"iss": mockidp.base("avaya") + "/auth/realms/other-account", "typ": "Bearer", "sub": "x", "exp": 9999999999})
    assert_401(call(http, token))


def test_401_expired(http, mockidp) -> None:
    token = get_token(http, grant_type="password", **AGENT)["access_token"]
    mockidp.clock.advance(899)
    assert call(http, token).status_code == 200
    mockidp.clock.advance(2)  # seed 001: expires_in 900
    assert_401(call(http, token))


def test_401_after_logout_and_revoke(http) -> None:
    oidc = REALM + "/protocol/openid-connect"
    token = get_token(http, grant_type="password", **AGENT)
    assert http.post(oidc + "/revoke", data={**CLIENT, "token": token["access_token"]}).status_code == 200
    assert_401(call(http, token["access_token"]))
    other = get_token(http, grant_type="password", **AGENT)
    assert http.post(oidc + "/logout", data={**CLIENT, "refresh_token": other["refresh_token"]}).status_code == 204
    assert_401(call(http, other["access_token"]))


def test_refresh_token_and_id_token_are_not_access_tokens(http) -> None:
    token = get_token(http, grant_type="password", scope="openid", **AGENT)
    assert_401(call(http, token["refresh_token"]))
    assert_401(call(http, token["id_token"]))


def test_unknown_route_is_404(http) -> None:
    assert http.get("/avaya/api/v1/nothing-here").status_code == 404


# --- the token response and the claims ------------------------------------------------------------------


def test_token_response_field_order(http) -> None:
    answer = http.post(TOKEN, data={"grant_type": "password", "scope": "openid", **CLIENT, **AGENT})
    assert list(answer.json()) == KEYCLOAK_ORDER
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert (body["expires_in"], body["refresh_expires_in"], body["token_type"], body["not-before-policy"]) == (900, 9000, "bearer", 0)
    without_openid = get_token(http, grant_type="password", **AGENT)
    assert list(without_openid) == [k for k in KEYCLOAK_ORDER if k != "id_token"]  # id_token only for openid
    # seed 001's client-credentials answer: a refresh token and a session_state, no id_token without openid
    assert list(get_token(http, grant_type="client_credentials")) == [k for k in KEYCLOAK_ORDER if k != "id_token"]


def test_user_access_token_claims(http) -> None:
    body = get_token(http, grant_type="password", scope="openid interactions", **AGENT)
    claims = claims_of(body["access_token"])
    header = pyjwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["kid"]
    assert claims["typ"] == "Bearer" and claims["azp"] == "demo-client" and claims["sid"] == body["session_state"]
    assert claims["preferred_username"] == "demo-agent" and claims["aud"] == "account"
    assert claims["realm_access"] == {"roles": ["default-roles-demo-account", "agent", "interactions:read"]}  # + the scope's role
    assert claims["scope"] == "openid profile email interactions"
    assert claims["exp"] - claims["iat"] == 900
    assert (claims["email"], claims["given_name"], claims["family_name"], claims["email_verified"]) == ("demo.agent@example.com", "Demo", "Agent", True)
    assert "auth_time" not in claims  # only a browser login has one


def test_service_account_claims(http) -> None:
    claims = claims_of(get_token(http, grant_type="client_credentials")["access_token"])
    assert claims["preferred_username"] == "service-account-demo-client" and claims["client_id"] == "demo-client"
    assert claims["clientHost"] == "127.0.0.1" and claims["email_verified"] is False
    assert claims["realm_access"] == {"roles": ["default-roles-demo-account", "interactions:read"]}


@pytest.mark.mockidp(world="avaya")
def test_resource_access_from_a_scope(http) -> None:
    """The built-in avaya world's `routing` scope maps to client roles of routing-api: resource_access, and aud."""
    without = get_token(http, grant_type="client_credentials")["access_token"]
    assert "resource_access" not in claims_of(without)
    assert call(http, without, "/v1/routing/queues/1", "PUT").status_code == 403
    token = get_token(http, grant_type="client_credentials", scope="routing")["access_token"]
    claims = claims_of(token)
    assert claims["resource_access"] == {"routing-api": {"roles": ["routing:read", "routing:write"]}}
    assert claims["aud"] == "routing-api"
    assert call(http, token, "/v1/routing/queues/1", "PUT").status_code == 200


@pytest.mark.mockidp(world="avaya")
def test_stock_keycloak_realm_settings(http) -> None:
    """The built-in avaya world's eu-account: its own lifespans, no refresh token with client credentials."""
    answer = http.post("/avaya/auth/realms/eu-account/protocol/openid-connect/token",
                       data={"grant_type": "client_credentials", "client_id": "eu-client", "client_secret": "eu-client-secret"}).json()
    assert list(answer) == ["access_token", "expires_in", "refresh_expires_in", "token_type", "not-before-policy", "scope"]
    assert (answer["expires_in"], answer["refresh_expires_in"]) == (300, 0)
    assert "sid" not in claims_of(answer["access_token"])


# --- the real hostname ------------------------------------------------------------------------------------


def test_avayacloud_host_routing(http) -> None:
    host = {"host": "eu1.cc.avayacloud.com"}
    wk = http.get("/auth/realms/demo-account/.well-known/openid-configuration", headers=host)
    assert wk.status_code == 200
    assert wk.json()["issuer"] == "https://eu1.cc.avayacloud.com/auth/realms/demo-account"
    assert wk.json()["token_endpoint"] == "https://eu1.cc.avayacloud.com/auth/realms/demo-account/protocol/openid-connect/token"
    # the seed's curl line, as the real host would get it
    answer = http.post("/auth/realms/demo-account/protocol/openid-connect/token", headers=host,
                       data={"grant_type": "client_credentials", **CLIENT})
    claims = claims_of(answer.json()["access_token"])
    assert claims["iss"] == "https://eu1.cc.avayacloud.com/auth/realms/demo-account"
    assert http.get("/api/v1/interactions", headers={**host, "authorization": f"Bearer {answer.json()['access_token']}"}).status_code == 200
    missing = http.get("/auth/realms/nope/.well-known/openid-configuration", headers=host)
    assert (missing.status_code, missing.json()) == (404, {"error": "Realm does not exist"})


def test_client_credentials_grants_leave_no_state_behind(mockidp, http) -> None:
    """Seed 001 gives every client-credentials grant a refresh token and a session; neither is kept as a live record
    (a load test must not grow memory), yet refresh, rotation, reuse detection and logout all still work."""
    form = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}
    url = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
    world = mockidp.engine.changing_world()
    world.avaya.realms[0].revoke_refresh_token = True  # reuse detection is Keycloak's revokeRefreshToken (off by default)
    mockidp.engine.world_changed()
    first = http.post(url, data=form).json()
    for _ in range(20):
        http.post(url, data=form)
    store = mockidp.engine.store
    assert not any(store.items(kind, mockidp.clock.now()) for kind in ("avaya-session-ended", "avaya-refresh-spent", "avaya-refresh-reuse"))
    refreshed = http.post(url, data={**form, "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200
    reused = http.post(url, data={**form, "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert reused.json()["error_description"] == "Maximum allowed refresh token reuse exceeded"
    introspected = http.post(url + "/introspect", data={"client_id": "demo-client", "client_secret": "demo-client-secret", "token": first["access_token"]}).json()
    assert introspected["active"] is False  # the reuse detached the session its access token belongs to
    assert not any(k.startswith("mockidp.") for k in introspected)
