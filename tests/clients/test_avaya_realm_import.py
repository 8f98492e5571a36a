"""A Keycloak 26 realm export (tests/authorities/avaya/data/shop-realm.json, written to Keycloak's export format:
RealmRepresentation as `kc.sh export` writes it, hashed credentials included) imported into an Avaya world, both
from a world file's `realm_imports` and inline over `POST /_mockidp/world/avaya/realms`, then used by
python-keycloak's KeycloakOpenID."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import KeycloakError

pytestmark = pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning")
DATA = Path(__file__).parent.parent / "authorities" / "avaya" / "data"
EXPORT = json.loads((DATA / "shop-realm.json").read_text())


def openid(mockidp, client_id: str = "shop-backend", secret: str | None = "shop-backend-secret") -> KeycloakOpenID:
    return KeycloakOpenID(server_url=mockidp.base("avaya") + "/auth/", realm_name="shop", client_id=client_id,
                          client_secret_key=secret, verify=mockidp.ca_bundle)


def failure(call: Any) -> tuple[int | None, Any]:
    with pytest.raises(KeycloakError) as exc:
        call()
    return exc.value.response_code, json.loads(exc.value.response_body or b"null")


def check_the_shop(mockidp) -> None:
    kc = openid(mockidp)
    # alice's password is an exported pbkdf2-sha512 hash, carl's an older pbkdf2-sha256 one: both still sign in
    token = kc.token("alice", "alice-password", scope="openid orders")
    claims = kc.decode_token(token["access_token"])
    assert token["expires_in"] == 600 and token["refresh_expires_in"] == 3600  # accessTokenLifespan, ssoSessionIdleTimeout
    assert claims["iss"] == mockidp.base("avaya") + "/auth/realms/shop" and claims["email"] == "alice@shop.example"
    # realm roles with default-roles-shop's composites expanded, the client role, and the roles the orders scope maps
    assert set(claims["realm_access"]["roles"]) == {"default-roles-shop", "offline_access", "uma_authorization", "customer", "orders:read"}
    assert claims["resource_access"]["shop-backend"]["roles"] == ["refunds"]
    assert kc.token("carl", "carl-password")["access_token"]
    assert failure(lambda: kc.token("alice", "wrong"))[1]["error_description"] == "Invalid user credentials"

    # the service account's roles came from its service-account user
    service = kc.decode_token(kc.token(grant_type="client_credentials")["access_token"])
    assert "orders:read" in service["realm_access"]["roles"] and "refresh_token" not in kc.token(grant_type="client_credentials")
    # refreshTokenMaxReuse 1 with revokeRefreshToken: two uses, then Keycloak's refusal
    kc.refresh_token(token["refresh_token"])
    kc.refresh_token(token["refresh_token"])
    assert failure(lambda: kc.refresh_token(token["refresh_token"]))[1]["error_description"] == "Maximum allowed refresh token reuse exceeded"

    # the SPA's pkce.code.challenge.method attribute makes PKCE required
    spa = openid(mockidp, "shop-spa", None)
    url = spa.auth_url(redirect_uri="http://127.0.0.1/cb", scope="openid")
    with mockidp.http(follow_redirects=False) as http:
        answer = http.get(url)
    assert answer.status_code == 302 and "error_description=Missing+parameter%3A+code_challenge_method" in answer.headers["location"]


@pytest.mark.mockidp(world="../authorities/avaya/data/realm-import.toml")
def test_a_world_file_imports_the_realm_export(mockidp) -> None:
    check_the_shop(mockidp)
    # the imported service account holds realm-management's manage-users: it administers the realm's users
    admin = KeycloakAdmin(server_url=mockidp.base("avaya") + "/auth/", realm_name="shop", client_id="shop-backend",
                          client_secret_key="shop-backend-secret", verify=mockidp.ca_bundle)
    assert {u["username"] for u in admin.get_users()} == {"alice", "carl"}
    assert admin.get_user(admin.get_user_id("alice") or "")["attributes"] == {"loyalty": ["gold"]}


def test_the_control_api_imports_it_inline_and_lists_what_it_ignored(mockidp, http) -> None:
    answer = http.post("/_mockidp/world/avaya/realms", json=EXPORT)
    assert answer.status_code == 201, answer.text
    added = answer.json()
    assert added["account_id"] == "shop" and {c["client_id"] for c in added["clients"]} == {"shop-backend", "shop-spa", "shop-tv"}
    ignored = added["ignored"]
    assert len(ignored) == len(set(ignored))  # each once
    assert "client scope web-origins (not modelled)" in ignored and "ssoSessionMaxLifespan" in ignored
    assert "clients[3].protocolMappers" in ignored and "clientScopes: saml_organization (saml)" in ignored
    assert any(i.startswith("components.KeyProvider") for i in ignored)
    check_the_shop(mockidp)
    mockidp.reset()
    assert http.get("/avaya/auth/realms/shop/.well-known/openid-configuration").status_code == 404  # undone by the reset


def test_a_credential_mockidp_cannot_check_is_refused_not_dropped(http) -> None:
    users = [{"username": "otp-user", "credentials": [{"type": "otp", "secretData": "{}", "credentialData": "{}"}]}]
    answer = http.post("/_mockidp/world/avaya/realms", json={"realm": "strict", "users": users})
    assert answer.status_code == 400 and "credential type 'otp' is not supported" in answer.json()["error_description"]
    hashed = [{"username": "argon", "credentials": [{"type": "password", "secretData": json.dumps({"value": "eA==", "salt": "eA=="}),
                                                       "credentialData": json.dumps({"algorithm": "argon2", "hashIterations": 1})}]}]
    answer = http.post("/_mockidp/world/avaya/realms", json={"realm": "strict", "users": hashed})
    assert answer.status_code == 400 and "'argon2' is not supported" in answer.json()["error_description"]
    assert http.get("/avaya/auth/realms/strict").status_code == 404  # nothing half-imported
    # a world-file table (account_id) still goes in as before, with nothing to report
    table = http.post("/_mockidp/world/avaya/realms", json={"account_id": "plain", "users": [{"username": "u", "password": "p"}]})
    assert table.status_code == 201 and "ignored" not in table.json()


def test_realm_imports_are_read_at_world_load_only(http) -> None:
    answer = http.post("/_mockidp/world/avaya/realm_imports", json={"x": 1})
    assert answer.status_code in (400, 404)
    from mockidp.world import load_world

    with pytest.raises(ValueError, match="cannot read the realm export"):
        load_world(str(DATA / "missing-import.toml"))


@pytest.mark.parametrize("export", [
    {"realm": "odd", "roles": {"realm": "x", "client": ["not", "a", "table"]}, "clients": {"a": 1}, "users": "nobody"},
    {"realm": "odd", "clients": [{"clientId": "c", "defaultClientScopes": [{"x": 1}], "attributes": ["a"], "redirectUris": "http://x"}]},
    {"realm": "odd", "users": [{"username": "u", "realmRoles": "admin", "clientRoles": ["x"], "credentials": "pw"}]},
    {"realm": "odd", "users": [{"username": "sa", "serviceAccountClientId": "c", "clientRoles": ["x"]}], "clients": [{"clientId": "c"}],
     "roles": {"realm": [{"name": "r", "composite": True, "composites": {"client": ["x"]}}]}},
    {"realm": "odd", "accessTokenLifespan": "long", "attributes": {"oauth2DevicePollingInterval": "x"}, "components": []},
    {"realm": ["odd"]},
])
def test_an_odd_export_is_a_400_never_a_500(http, export: dict[str, Any]) -> None:
    """A realm export is hostile input: odd shapes are refused with a message, or imported as far as they make sense."""
    answer = http.post("/_mockidp/world/avaya/realms", json=export)
    assert answer.status_code in (201, 400), answer.text
    admin_token = http.post("/avaya/auth/realms/master/protocol/openid-connect/token",
                            data={"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"}).json()["access_token"]
    made = http.post("/avaya/auth/admin/realms", json={**export, "realm": "odd-admin"} if isinstance(export.get("realm"), str) else export,
                     headers={"authorization": "Bearer " + admin_token})
    assert made.status_code in (201, 400), made.text
    for path in ("clients", "users", "roles"):
        odd = http.post(f"/avaya/auth/admin/realms/demo-account/{path}", json=[1, {"a": [2]}], headers={"authorization": "Bearer " + admin_token})
        assert odd.status_code == 400, odd.text
