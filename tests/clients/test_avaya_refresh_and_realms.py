"""python-keycloak's KeycloakOpenID against Keycloak's refresh-token settings (`revokeRefreshToken`,
`refreshTokenMaxReuse`: TokenManager.validateTokenReuse) and against the default world's two account realms,
which must refuse each other's tokens at userinfo, introspection and the stand-in Avaya API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

from mockidp.tokens import sign

pytestmark = pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning")

USER = "demo-agent"


def openid(mockidp, realm: str = "demo-account", secret: str = "demo-client-secret") -> KeycloakOpenID:
    return KeycloakOpenID(server_url=mockidp.base("avaya") + "/auth/", realm_name=realm, client_id="demo-client",
                          client_secret_key=secret, verify=mockidp.ca_bundle)


def second(mockidp) -> KeycloakOpenID:
    return openid(mockidp, "demo-account-2", "demo-client-2-secret")


def realm_settings(mockidp, revoke: bool, max_reuse: int = 0) -> None:
    """Switch the realm's refresh settings through the world-change path (validated, undone by the reset)."""
    def change(world):
        realm = next(r for r in world.avaya.realms if r.account_id == "demo-account")
        realm.revoke_refresh_token, realm.refresh_token_max_reuse = revoke, max_reuse

    mockidp.engine.change_world("avaya", change)


def body(exc: pytest.ExceptionInfo[Any]) -> Any:
    return json.loads(exc.value.response_body)


def refused(kc: KeycloakOpenID, refresh_token: str) -> tuple[int | None, Any]:
    with pytest.raises(KeycloakPostError) as exc:
        kc.refresh_token(refresh_token)
    return exc.value.response_code, body(exc)


def userinfo(kc: KeycloakOpenID, token: str) -> dict[str, Any]:
    info = kc.userinfo(token)
    assert isinstance(info, dict)
    return info


def test_by_default_an_old_refresh_token_keeps_working(mockidp) -> None:
    """Keycloak's default realm (`revokeRefreshToken: false`): no reuse tracking, so workers sharing one refresh
    token all succeed, and nothing ends the session."""
    kc = openid(mockidp)
    first = kc.token(USER, "demo-agent-password")
    for _ in range(3):
        assert kc.refresh_token(first["refresh_token"])["session_state"] == first["session_state"]
    mockidp.advance(60)
    newer = kc.refresh_token(first["refresh_token"])
    assert kc.refresh_token(newer["refresh_token"])["access_token"]
    assert kc.refresh_token(first["refresh_token"])["access_token"]  # still not stale: only the revoke setting judges that
    assert kc.introspect(first["access_token"])["active"] is True


def test_revoke_refresh_token_makes_it_single_use_and_detaches_on_reuse(mockidp) -> None:
    realm_settings(mockidp, revoke=True)
    kc = openid(mockidp)
    first = kc.token(USER, "demo-agent-password")
    successor = kc.refresh_token(first["refresh_token"])
    assert refused(kc, first["refresh_token"]) == (400, {"error": "invalid_grant", "error_description": "Maximum allowed refresh token reuse exceeded"})
    # the refusal detached the client session: its newer tokens stop working too, a new login does not
    assert refused(kc, successor["refresh_token"]) == (400, {"error": "invalid_grant", "error_description": "Session doesn't have required client"})
    assert kc.introspect(successor["access_token"]) == {"active": False}
    assert kc.refresh_token(kc.token(USER, "demo-agent-password")["refresh_token"])["access_token"]


def test_revoke_refresh_token_refuses_a_stale_token(mockidp) -> None:
    """An older refresh token presented after its successor was used: "Stale token" (issued before the client
    session's last refresh). Keycloak compares whole seconds, so the clock moves between the refreshes."""
    realm_settings(mockidp, revoke=True)
    kc = openid(mockidp)
    first = kc.token(USER, "demo-agent-password")
    successor = kc.refresh_token(first["refresh_token"])
    mockidp.advance(5)
    # introspection runs the same check without counting: the spent token is inactive, its successor active
    assert kc.introspect(first["refresh_token"]) == {"active": False}
    assert kc.introspect(successor["refresh_token"])["active"] is True
    third = kc.refresh_token(successor["refresh_token"])
    assert refused(kc, first["refresh_token"]) == (400, {"error": "invalid_grant", "error_description": "Stale token"})
    assert refused(kc, third["refresh_token"])[1]["error_description"] == "Session doesn't have required client"


def test_refresh_token_max_reuse_allows_n_plus_one_uses(mockidp) -> None:
    realm_settings(mockidp, revoke=True, max_reuse=2)
    kc = openid(mockidp)
    first = kc.token(USER, "demo-agent-password")
    for _ in range(3):  # max_reuse + 1
        kc.refresh_token(first["refresh_token"])
    assert refused(kc, first["refresh_token"])[1]["error_description"] == "Maximum allowed refresh token reuse exceeded"


def test_the_settings_are_validated_and_undone_by_the_reset(mockidp) -> None:
    realm_settings(mockidp, revoke=True)
    assert mockidp.engine.world.avaya.realms[0].revoke_refresh_token is True
    mockidp.reset()
    kc = openid(mockidp)
    first = kc.token(USER, "demo-agent-password")
    kc.refresh_token(first["refresh_token"])
    assert kc.refresh_token(first["refresh_token"])["access_token"]  # back to Keycloak's default
    from mockidp.world_edit import ControlError

    def bad(world):
        world.avaya.realms[0].refresh_token_max_reuse = -1

    with pytest.raises(ControlError, match="refresh_token_max_reuse"):
        mockidp.engine.change_world("avaya", bad)


# --- two realms ------------------------------------------------------------------------------------------


def test_each_realm_refuses_the_others_tokens(mockidp) -> None:
    one, two = openid(mockidp), second(mockidp)
    mine = one.token(USER, "demo-agent-password")
    theirs = two.token(USER, "demo-agent-2-password")
    # the same username in both realms, two people
    assert userinfo(one, mine["access_token"])["email"] == "demo.agent@example.com"
    assert userinfo(two, theirs["access_token"])["email"] == "demo.agent2@example.com"
    assert one.decode_token(mine["access_token"])["sub"] != two.decode_token(theirs["access_token"])["sub"]

    with pytest.raises(KeycloakAuthenticationError) as exc:
        two.userinfo(mine["access_token"])
    assert (exc.value.response_code, body(exc)) == (
        401, {"error": "invalid_token", "error_description": "Token verification failed"})
    assert two.introspect(mine["access_token"]) == {"active": False}
    assert one.introspect(theirs["access_token"]) == {"active": False}
    assert two.introspect(mine["refresh_token"]) == {"active": False}  # a refresh token is the realm's own HS512 too
    with pytest.raises(KeycloakPostError) as refresh:
        two.refresh_token(mine["refresh_token"])
    assert body(refresh)["error_description"] == "Invalid refresh token"
    # a realm's client secret is its own
    with pytest.raises(KeycloakAuthenticationError) as secret:
        openid(mockidp, "demo-account-2", "demo-client-secret").token(USER, "demo-agent-2-password")
    assert body(secret)["error_description"] == "Invalid client secret"


def test_the_api_refuses_a_token_claiming_the_other_realm(mockidp, http) -> None:
    """The stand-in API serves every account; it judges a token by its issuer's keys, so realm 1's key cannot
    vouch for realm 2's issuer."""
    one = openid(mockidp)
    mine = one.token(USER, "demo-agent-password")
    api = "/avaya/api/v1/agents/me"
    assert http.get(api, headers={"authorization": "Bearer " + mine["access_token"]}).json()["account"] == "demo-account"
    theirs = second(mockidp).token(USER, "demo-agent-2-password")
    assert http.get(api, headers={"authorization": "Bearer " + theirs["access_token"]}).json()["account"] == "demo-account-2"

    claims = {**one.decode_token(mine["access_token"]), "iss": mockidp.base("avaya") + "/auth/realms/demo-account-2"}
    forged = sign(mockidp.authority("avaya").realms["demo-account"].keyset, claims)
    answer = http.get(api, headers={"authorization": "Bearer " + forged})
    assert answer.status_code == 401 and answer.json()["message"] == "Missing or Invalid token."
