"""python-keycloak's KeycloakAdmin (sync and async) against the Avaya realms' admin REST API, as test fixtures use
it: the master realm's admin (admin / admin via admin-cli) creates a client, a user, a realm role and its mapping,
and KeycloakOpenID then gets tokens with them. Then a service account holding realm-management roles, and the
401 / 403 / 404 / 409 rows (bodies: Keycloak's KeycloakErrorHandler and ErrorResponse)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import KeycloakError

pytestmark = pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning")
REALM = "demo-account"


def server(mockidp) -> str:
    return mockidp.base("avaya") + "/auth/"


def admin(mockidp, realm: str = REALM, **kwargs: Any) -> KeycloakAdmin:
    options: dict[str, Any] = {"username": "admin", "password": "admin", "user_realm_name": "master", **kwargs}
    return KeycloakAdmin(server_url=server(mockidp), realm_name=realm, verify=mockidp.ca_bundle, **options)


def openid(mockidp, client_id: str, secret: str | None = None, realm: str = REALM) -> KeycloakOpenID:
    return KeycloakOpenID(server_url=server(mockidp), realm_name=realm, client_id=client_id, client_secret_key=secret,
                          verify=mockidp.ca_bundle)


def failure(call: Any) -> tuple[int | None, Any]:
    with pytest.raises(KeycloakError) as exc:
        call()
    return exc.value.response_code, json.loads(exc.value.response_body or b"null")


def test_admin_creates_client_user_role_and_mapping_then_tokens_work(mockidp) -> None:
    kc = admin(mockidp)
    client_uuid = kc.create_client({"clientId": "orders-service", "serviceAccountsEnabled": True, "directAccessGrantsEnabled": True,
                                    "redirectUris": ["http://127.0.0.1/*"]})
    assert kc.get_client_id("orders-service") == client_uuid
    client = kc.get_client(client_uuid)
    assert client["clientId"] == "orders-service" and client["publicClient"] is False and client["serviceAccountsEnabled"] is True
    secret = kc.get_client_secrets(client_uuid)["value"]
    assert secret and kc.get_client_secrets(client_uuid) == {"type": "secret", "value": secret}

    user_id = kc.create_user({"username": "Carol", "email": "carol@example.com", "firstName": "Carol", "lastName": "Jones", "enabled": True})
    assert kc.get_user_id("carol") == user_id and kc.get_user(user_id)["username"] == "carol"
    kc.set_user_password(user_id, "carol-password", temporary=False)
    kc.create_realm_role({"name": "orders:write", "description": "may place orders"})
    role = kc.get_realm_role("orders:write")
    assert role["description"] == "may place orders" and role["clientRole"] is False
    kc.assign_realm_roles(user_id, [role])
    assert "orders:write" in [r["name"] for r in kc.get_realm_roles_of_user(user_id)]

    tokens = openid(mockidp, "orders-service", secret)
    token = tokens.token("carol", "carol-password")
    claims = tokens.decode_token(token["access_token"])
    assert claims["sub"] == user_id and claims["azp"] == "orders-service" and "orders:write" in claims["realm_access"]["roles"]
    assert claims["email"] == "carol@example.com"
    service = tokens.decode_token(tokens.token(grant_type="client_credentials")["access_token"])
    assert service["sub"] == kc.get_client_service_account_user(client_uuid)["id"]

    # regenerating the secret retires the old one; deleting the client ends its grants
    new_secret = kc.generate_client_secrets(client_uuid)["value"]
    assert new_secret != secret
    assert openid(mockidp, "orders-service", new_secret).token(grant_type="client_credentials")["access_token"]
    code, _ = failure(lambda: tokens.token(grant_type="client_credentials"))
    assert code == 401
    kc.delete_client(client_uuid)
    assert failure(lambda: kc.get_client(client_uuid)) == (404, {"error": "Could not find client"})


def test_admin_changes_are_undone_by_the_reset(mockidp) -> None:
    kc = admin(mockidp)
    kc.create_user({"username": "temp-user", "enabled": True})
    assert kc.users_count() == 3  # demo-agent, demo-admin, temp-user
    mockidp.reset()
    assert admin(mockidp).users_count() == 2
    assert admin(mockidp).get_user_id("temp-user") is None


def test_users_search_update_temporary_password_and_delete(mockidp) -> None:
    kc = admin(mockidp)
    assert [u["username"] for u in kc.get_users({"search": "demo"})] == ["demo-admin", "demo-agent"]
    assert [u["username"] for u in kc.get_users({"username": "demo-agent", "exact": True})] == ["demo-agent"]
    assert kc.users_count({"email": "admin"}) == 1
    user_id = kc.create_user({"username": "dave", "credentials": [{"type": "password", "value": "dave-pw", "temporary": True}]})
    tokens = openid(mockidp, "demo-client", "demo-client-secret")
    assert failure(lambda: tokens.token("dave", "dave-pw")) == (400, {"error": "invalid_grant", "error_description": "Account is not fully set up"})
    kc.set_user_password(user_id, "dave-new-pw", temporary=False)
    assert tokens.token("dave", "dave-new-pw")["access_token"]
    kc.update_user(user_id, {"firstName": "David", "enabled": False})
    assert kc.get_user(user_id)["firstName"] == "David" and kc.get_user(user_id)["enabled"] is False
    assert failure(lambda: tokens.token("dave", "dave-new-pw"))[1]["error_description"] == "Account disabled"
    kc.delete_user(user_id)
    assert failure(lambda: kc.get_user(user_id)) == (404, {"error": "User not found"})


def test_client_roles_and_a_service_account_admin(mockidp) -> None:
    """A service account holding realm-management roles administers its own realm, and nothing else."""
    kc = admin(mockidp)
    cid = kc.create_client({"clientId": "provisioner", "serviceAccountsEnabled": True})
    management = kc.get_client_id("realm-management")
    assert management is not None
    sa = kc.get_client_service_account_user(cid)
    wanted = [r for r in kc.get_client_roles(management) if r["name"] in ("manage-users", "view-clients")]
    kc.assign_client_role(sa["id"], management, wanted)
    assert {r["name"] for r in kc.get_client_roles_of_user(sa["id"], management)} == {"manage-users", "view-clients"}
    secret = kc.get_client_secrets(cid)["value"]

    bot = KeycloakAdmin(server_url=server(mockidp), realm_name=REALM, client_id="provisioner", client_secret_key=secret,
                        verify=mockidp.ca_bundle)
    assert bot.create_user({"username": "erin"}) == bot.get_user_id("erin")
    assert {c["clientId"] for c in bot.get_clients()} >= {"demo-client", "provisioner", "realm-management"}
    code, answer = failure(lambda: bot.create_client({"clientId": "not-allowed"}))  # no manage-clients
    assert (code, answer) == (403, {"error": "HTTP 403 Forbidden"})
    other = KeycloakAdmin(server_url=server(mockidp), realm_name="demo-account-2", user_realm_name=REALM, client_id="provisioner",
                          client_secret_key=secret, verify=mockidp.ca_bundle)
    assert failure(lambda: other.get_users())[0] == 403  # a realm's token manages that realm only

    api = kc.create_client_role(cid, {"name": "jobs:run"})
    assert api == "jobs:run" and kc.get_client_role(cid, "jobs:run")["clientRole"] is True
    assert failure(lambda: kc.create_client_role(cid, {"name": "jobs:run"})) == (409, {"errorMessage": "Role with name jobs:run already exists"})
    assert failure(lambda: kc.get_client_role(cid, "nope")) == (404, {"error": "Could not find role"})


def test_refusals_401_403_404_409(mockidp, http) -> None:
    base = "/avaya/auth/admin/realms/demo-account/clients"
    assert (http.get(base).status_code, http.get(base).json()) == (401, {"error": "HTTP 401 Unauthorized"})
    assert http.get(base, headers={"authorization": "Bearer not-a-token"}).status_code == 401
    agent = openid(mockidp, "demo-client", "demo-client-secret").token("demo-agent", "demo-agent-password")["access_token"]
    answer = http.get(base, headers={"authorization": "Bearer " + agent})
    assert (answer.status_code, answer.json()) == (403, {"error": "HTTP 403 Forbidden"})

    kc = admin(mockidp)
    assert failure(lambda: kc.create_client({"clientId": "demo-client"})) == (409, {"errorMessage": "Client demo-client already exists"})
    assert failure(lambda: kc.create_user({"username": "demo-agent"})) == (409, {"errorMessage": "User exists with same username"})
    assert failure(lambda: kc.create_user({"username": "x", "email": "demo.agent@example.com"})) == (409, {"errorMessage": "User exists with same email"})
    assert failure(lambda: kc.create_realm_role({"name": "agent"})) == (409, {"errorMessage": "Role with name agent already exists"})
    assert failure(lambda: kc.get_realm_role("nope")) == (404, {"error": "Could not find role"})
    assert failure(lambda: admin(mockidp, realm="no-such-realm").get_clients()) == (404, {"error": "Realm not found."})
    spa = kc.get_client_id("demo-spa")
    assert spa is not None
    assert failure(lambda: kc.get_client_service_account_user(spa)) == (
        400, {"error": "Service account not enabled for the client 'demo-spa'"})
    bad = kc.create_client  # a validation failure is a 400 ErrorResponse, and leaves the world as it was
    code, answer = failure(lambda: bad({"clientId": "bad client id"}))
    assert code == 400 and "only letters, digits and '-'" in answer["errorMessage"]
    assert kc.get_client_id("bad client id") is None
    for method in ("get", "post"):
        garbage = http.request(method.upper(), base, headers={"authorization": "Bearer x"}, content=b"{")
        assert garbage.status_code == 401


def test_realms_create_get_update_delete(mockidp) -> None:
    kc = admin(mockidp, realm="master")
    assert {r["realm"] for r in kc.get_realms()} >= {"master", "demo-account", "demo-account-2"}
    kc.create_realm({"realm": "fixture-realm", "enabled": True, "accessTokenLifespan": 120, "revokeRefreshToken": True,
                     "clients": [{"clientId": "app", "secret": "app-secret", "directAccessGrantsEnabled": True}],
                     "users": [{"username": "fay", "enabled": True, "credentials": [{"type": "password", "value": "fay-pw"}]}]})
    assert kc.get_realm("fixture-realm")["accessTokenLifespan"] == 120
    assert failure(lambda: kc.create_realm({"realm": "fixture-realm"}))[0] == 409
    token = openid(mockidp, "app", "app-secret", realm="fixture-realm").token("fay", "fay-pw")
    assert token["expires_in"] == 120
    kc.update_realm("fixture-realm", {"accessTokenLifespan": 240, "displayName": "Fixture"})
    assert kc.get_realm("fixture-realm")["displayName"] == "Fixture"
    kc.delete_realm("fixture-realm")
    assert failure(lambda: kc.get_realm("fixture-realm")) == (404, {"error": "Realm not found."})


def test_async_admin(mockidp) -> None:
    async def run() -> None:
        kc = admin(mockidp)
        client_uuid = await kc.a_create_client({"clientId": "async-app", "directAccessGrantsEnabled": True})
        secret = (await kc.a_get_client_secrets(client_uuid))["value"]
        user_id = await kc.a_create_user({"username": "gus", "enabled": True})
        await kc.a_set_user_password(user_id, "gus-pw", temporary=False)
        await kc.a_create_realm_role({"name": "async-role"})
        await kc.a_assign_realm_roles(user_id, [await kc.a_get_realm_role("async-role")])
        tokens = openid(mockidp, "async-app", secret)
        token = await tokens.a_token("gus", "gus-pw")
        assert "async-role" in tokens.decode_token(token["access_token"])["realm_access"]["roles"]
        assert [u["username"] for u in await kc.a_get_users({"username": "gus"})] == ["gus"]

    asyncio.run(run())


def test_the_admin_api_on_the_real_host(http) -> None:
    """At the root of a real `*.cc.avayacloud.com` host too, with Locations of that host."""
    host = {"host": "eu1.cc.avayacloud.com"}
    token = http.post("/auth/realms/master/protocol/openid-connect/token", headers=host,
                      data={"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"}).json()["access_token"]
    auth = {**host, "authorization": "Bearer " + token}
    assert http.get("/auth/admin/realms/demo-account/clients", headers=host).status_code == 401
    made = http.post("/auth/admin/realms/demo-account/roles", headers=auth, json={"name": "host-role"})
    assert made.status_code == 201 and made.headers["location"] == "https://eu1.cc.avayacloud.com/auth/admin/realms/demo-account/roles/host-role"
    assert made.content == b""
    assert http.get("/auth/admin/realms/demo-account/roles/host-role", headers=auth).json()["name"] == "host-role"


def test_an_expired_admin_token_is_refreshed_by_keycloak_admin(mockidp) -> None:
    """master's access tokens live 60 s: past that, the admin call's 401 makes KeycloakAdmin refresh and retry."""
    kc = admin(mockidp)
    assert kc.users_count() == 2
    mockidp.advance(120)
    assert kc.users_count() == 2
    refreshes = [e for e in mockidp.journal.entries(endpoint="token") if e["params"].get("grant_type") == "refresh_token"]
    assert refreshes and refreshes[-1]["status"] == 200


def test_get_keys_lists_the_realms_signing_keys_the_active_one_first(mockidp, http) -> None:
    """KeycloakAdmin.get_keys (GET admin/realms/{realm}/keys): KeysMetadataRepresentation; after a rotation the new key
    is ACTIVE and the old one PASSIVE, each verifying its own tokens (PyJWT, from publicKey alone)."""
    import base64

    import jwt as pyjwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    kc = admin(mockidp)
    before = kc.get_keys()
    assert before["active"] == {"RS256": before["keys"][0]["kid"]} and [k["status"] for k in before["keys"]] == ["ACTIVE"]
    key = before["keys"][0]
    assert (key["type"], key["algorithm"], key["use"]) == ("RSA", "RS256", "SIG") and key["validTo"] > 0
    jwks = http.get("/avaya/auth/realms/demo-account/protocol/openid-connect/certs").json()
    assert [k["kid"] for k in jwks["keys"]] == [key["kid"]] and jwks["keys"][0]["x5c"] == [key["certificate"]]
    old_token = openid(mockidp, "demo-client", "demo-client-secret").token(grant_type="client_credentials")["access_token"]
    assert http.post("/_mockidp/keys/avaya/rotate", json={}).status_code == 200
    after = kc.get_keys()
    assert [k["status"] for k in after["keys"]] == ["ACTIVE", "PASSIVE"] and after["keys"][1]["kid"] == key["kid"]
    assert after["active"] == {"RS256": after["keys"][0]["kid"]}
    new_token = openid(mockidp, "demo-client", "demo-client-secret").token(grant_type="client_credentials")["access_token"]
    for token, listed in ((new_token, after["keys"][0]), (old_token, after["keys"][1])):
        public = serialization.load_der_public_key(base64.b64decode(listed["publicKey"]))
        assert isinstance(public, rsa.RSAPublicKey)
        assert pyjwt.get_unverified_header(token)["kid"] == listed["kid"]
        assert pyjwt.decode(token, public, algorithms=["RS256"], options={"verify_aud": False})["azp"] == "demo-client"
    agent = openid(mockidp, "demo-client", "demo-client-secret").token("demo-agent", "demo-agent-password")["access_token"]
    refused = http.get("/avaya/auth/admin/realms/demo-account/keys", headers={"authorization": "Bearer " + agent})
    assert (refused.status_code, refused.json()) == (403, {"error": "HTTP 403 Forbidden"})
