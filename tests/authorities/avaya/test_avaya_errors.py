"""Every failure of the Avaya A&A token endpoint (seed 001's rows and Keycloak's, shared/reference/keycloak.md):
status, `error` and `error_description` exactly, and `Cache-Control: no-store`.

These tests serve the built-in avaya world (mockidp/data/worlds/avaya.toml: the richer Avaya world: a disabled client and user, clients without a grant,
a second confidential client, a suspended account) through the session's server, via the plugin's marker."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.mockidp(world="avaya")

REALM = "/avaya/auth/realms/demo-account"
TOKEN = REALM + "/protocol/openid-connect/token"
AUTH = REALM + "/protocol/openid-connect/auth"
CLIENT = {"client_id": "demo-client", "client_secret": "demo-client-secret"}
OTHER = {"client_id": "other-client", "client_secret": "other-client-secret"}
AGENT = {"username": "demo-agent", "password": "demo-agent-password"}
REDIRECT = "http://127.0.0.1/callback"
INVALID_CLIENT = "Invalid client or Invalid client credentials"


def token(http, data=None, *, path: str = TOKEN, **kwargs):
    return http.post(path, data=data, **kwargs)


def assert_error(response, status: int, error: str, description: str | None) -> None:
    expected = {"error": error} if description is None else {"error": error, "error_description": description}
    assert (response.status_code, response.json()) == (status, expected)
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def login_code(http, client: str = "demo-client", redirect_uri: str = REDIRECT, user: str = "demo-agent", **extra: str) -> str:
    """A code for `user`, as the login page's one-click demo button would get it."""
    form = {"response_type": "code", "client_id": client, "redirect_uri": redirect_uri, "scope": "openid", "state": "s1", **extra}
    answer = http.post(AUTH, data={**form, "demo_user": user})
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]


def code_exchange(http, code: str, creds=CLIENT, redirect_uri: str = REDIRECT, **extra: str):
    return token(http, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, **creds, **extra})


# --- realm, grant_type, client authentication: the seed's rows ------------------------------------------


def test_success_carries_no_store(http) -> None:
    ok = token(http, {"grant_type": "client_credentials", **CLIENT})
    assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store" and ok.headers["pragma"] == "no-cache"


def test_unknown_account_is_404_everywhere(http) -> None:
    base = "/avaya/auth/realms/no-such-account"
    answer = token(http, {"grant_type": "client_credentials", **CLIENT}, path=base + "/protocol/openid-connect/token")
    assert (answer.status_code, answer.json()) == (404, {"error": "Realm does not exist"})  # seed 001: 404
    for path in ("", "/.well-known/openid-configuration", "/protocol/openid-connect/certs", "/protocol/openid-connect/userinfo"):
        answer = http.get(base + path)
        assert (answer.status_code, answer.json()) == (404, {"error": "Realm does not exist"}), path


def test_suspended_account(http) -> None:
    answer = token(http, {"grant_type": "client_credentials", **CLIENT}, path="/avaya/auth/realms/suspended-account/protocol/openid-connect/token")
    assert_error(answer, 403, "access_denied", "Realm not enabled")


@pytest.mark.parametrize(("form", "error", "description"), [
    ({**CLIENT}, "invalid_request", "Missing form parameter: grant_type"),
    ({"grant_type": "", **CLIENT}, "invalid_request", "Missing form parameter: grant_type"),
    ({"grant_type": "implicit", **CLIENT}, "unsupported_grant_type", "Unsupported grant_type"),
    ({"grant_type": "urn:ietf:params:oauth:grant-type:saml2-bearer", **CLIENT}, "unsupported_grant_type", "Unsupported grant_type"),
    # the device grant exists; a client without it enabled gets DeviceGrantType's refusal
    ({"grant_type": "urn:ietf:params:oauth:grant-type:device_code", **CLIENT}, "invalid_grant", "Client not allowed OAuth 2.0 Device Authorization Grant"),
])
def test_grant_type(http, form, error, description) -> None:
    assert_error(token(http, form), 400, error, description)  # seed 001: "Bad Request (400) - grant_type ... is invalid"


@pytest.mark.parametrize("client_id", ["no-such-client", "demo_client", "demo client", "démo-client"])
def test_invalid_client_id_is_400(http, client_id) -> None:
    answer = token(http, {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"})
    assert_error(answer, 400, "invalid_client", INVALID_CLIENT)  # seed 001: 400 (stock Keycloak: 401)


def test_missing_client_id(http) -> None:
    assert_error(token(http, {"grant_type": "client_credentials", "client_id": "", "client_secret": "x"}), 400, "invalid_client", "Missing client_id parameter")


def test_wrong_secret_post_and_basic(http) -> None:
    form = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "wrong"}
    assert_error(token(http, form), 401, "unauthorized_client", "Invalid client secret")  # seed 001's body
    answer = token(http, {"grant_type": "client_credentials"}, headers=basic("demo-client", "wrong"))
    assert_error(answer, 401, "unauthorized_client", "Invalid client secret")


def test_missing_secret(http) -> None:
    form = {"grant_type": "password", "client_id": "demo-client", "client_secret": "", **AGENT}
    assert_error(token(http, form), 401, "unauthorized_client", "Client secret not provided in request")


def test_disabled_client(http) -> None:
    form = {"grant_type": "client_credentials", "client_id": "disabled-client", "client_secret": "disabled-client-secret"}
    assert_error(token(http, form), 401, "invalid_client", INVALID_CLIENT)


def test_duplicated_parameter_after_client_authentication(http) -> None:
    body = "grant_type=client_credentials&client_id=demo-client&client_secret=demo-client-secret&scope=openid&scope=openid"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert_error(http.post(TOKEN, content=body, headers=headers), 400, "invalid_request", "duplicated parameter")
    wrong = body.replace("demo-client-secret", "wrong")
    assert_error(http.post(TOKEN, content=wrong, headers=headers), 401, "unauthorized_client", "Invalid client secret")


# --- the grants' own refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "status", "error", "description"), [
    ({"username": "demo-agent", "password": "wrong"}, 401, "invalid_grant", "Invalid user credentials"),  # seed 001: 401
    ({"username": "nobody", "password": "x"}, 401, "invalid_grant", "Invalid user credentials"),
    ({"username": "demo-agent", "password": ""}, 401, "invalid_grant", "Invalid user credentials"),
    ({"username": "", "password": "x"}, 401, "invalid_request", "Missing parameter: username"),
    ({"username": "disabled-agent", "password": "disabled-agent-password"}, 400, "invalid_grant", "Account disabled"),
    ({**AGENT, "scope": "openid nonsense"}, 400, "invalid_scope", "Invalid scopes: openid nonsense"),
])
def test_password_grant(http, form, status, error, description) -> None:
    assert_error(token(http, {"grant_type": "password", **CLIENT, **form}), status, error, description)


def test_client_not_allowed_the_grant(http) -> None:
    no_direct = {"grant_type": "password", "client_id": "no-direct-client", "client_secret": "no-direct-client-secret", **AGENT}
    assert_error(token(http, no_direct), 400, "unauthorized_client", "Client not allowed for direct access grants")
    no_service = {"grant_type": "client_credentials", "client_id": "no-service-client", "client_secret": "no-service-client-secret"}
    assert_error(token(http, no_service), 401, "unauthorized_client", "Client not enabled to retrieve service account")
    public = {"grant_type": "client_credentials", "client_id": "demo-spa"}
    assert_error(token(http, public), 401, "unauthorized_client", "Public client not allowed to retrieve service account")


def test_client_credentials_invalid_scope(http) -> None:
    answer = token(http, {"grant_type": "client_credentials", **CLIENT, "scope": "admin"})  # a scope the client may not ask for
    assert_error(answer, 400, "invalid_scope", "Invalid scopes: admin")


def test_python_keycloaks_empty_fields_count_as_absent(http) -> None:
    form = {"username": "", "password": "", "client_id": "demo-client", "grant_type": "client_credentials", "code": "",
            "redirect_uri": "", "scope": "openid", "client_secret": "demo-client-secret"}
    assert token(http, form).status_code == 200


# --- refresh tokens ------------------------------------------------------------------------------------


def refresh(http, refresh_token: str, creds=CLIENT):
    return token(http, {"grant_type": "refresh_token", "refresh_token": refresh_token, **creds})


def revoke_refresh_tokens(mockidp, max_reuse: int = 0, realm: str = "demo-account") -> None:
    """The realm's `revoke_refresh_token` on (Keycloak's default is off), as an admin would switch it."""
    world = mockidp.engine.changing_world()
    config = next(r for r in world.avaya.realms if r.account_id == realm)
    config.revoke_refresh_token, config.refresh_token_max_reuse = True, max_reuse
    mockidp.engine.world_changed()


def test_refresh_token_failures(http, mockidp) -> None:
    revoke_refresh_tokens(mockidp)  # the single-use rows below need Keycloak's revokeRefreshToken on
    first = token(http, {"grant_type": "password", **CLIENT, **AGENT}).json()
    assert_error(refresh(http, ""), 400, "invalid_request", "Missing parameter: refresh_token")
    assert_error(refresh(http, "garbage"), 400, "invalid_grant", "Invalid refresh token")  # seed 001's body
    assert_error(refresh(http, first["access_token"]), 400, "invalid_grant", "Invalid refresh token")  # not a refresh token
    assert_error(refresh(http, first["refresh_token"], OTHER), 400, "invalid_grant",
                 "Invalid refresh token. Token client and authorized client don't match")
    second = refresh(http, first["refresh_token"])
    assert second.status_code == 200
    assert_error(refresh(http, first["refresh_token"]), 400, "invalid_grant", "Maximum allowed refresh token reuse exceeded")

    later = token(http, {"grant_type": "password", **CLIENT, **AGENT}).json()
    mockidp.clock.advance(9001)
    assert_error(refresh(http, later["refresh_token"]), 400, "invalid_grant", "Token is not active")


def test_refresh_narrows_scope_but_never_widens(http) -> None:
    first = token(http, {"grant_type": "password", **CLIENT, **AGENT, "scope": "openid interactions"}).json()
    narrowed = token(http, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **CLIENT, "scope": "openid profile"})
    assert narrowed.json()["scope"] == "openid profile"
    wider = token(http, {"grant_type": "refresh_token", "refresh_token": narrowed.json()["refresh_token"], **CLIENT, "scope": "routing"})
    assert_error(wider, 400, "invalid_scope", "Invalid scopes: routing")


def test_refresh_after_user_disabled_at_runtime(http, mockidp) -> None:
    first = token(http, {"grant_type": "password", **CLIENT, **AGENT}).json()
    world = mockidp.engine.changing_world()
    next(u for u in world.avaya.realms[0].users if u.username == "demo-agent").enabled = False
    mockidp.engine.world_changed()
    # the world change reloads the realm; the session lives in the store and survives, the user does not
    assert_error(refresh(http, first["refresh_token"]), 400, "invalid_grant", "User disabled")


# --- authorization codes ---------------------------------------------------------------------------------


def test_code_failures(http, mockidp) -> None:
    assert_error(token(http, {"grant_type": "authorization_code", **CLIENT, "redirect_uri": REDIRECT}), 400, "invalid_request", "Missing parameter: code")
    assert_error(code_exchange(http, ""), 400, "invalid_grant", "Code not valid")  # an empty code reaches the lookup
    assert_error(code_exchange(http, "not-a-code"), 400, "invalid_grant", "Code not valid")

    code = login_code(http)
    assert code_exchange(http, code).status_code == 200
    assert_error(code_exchange(http, code), 400, "invalid_grant", "Code not valid")  # replayed

    expired = login_code(http)
    mockidp.clock.advance(61)  # the realm's code lifespan is 60 s
    assert_error(code_exchange(http, expired), 400, "invalid_grant", "Code not valid")

    assert_error(code_exchange(http, login_code(http), redirect_uri=REDIRECT + "/other"), 400, "invalid_grant", "Incorrect redirect_uri")
    assert_error(code_exchange(http, login_code(http), OTHER), 400, "invalid_grant", "Auth error: Found different client_id in clientSession")
    # the redirect_uri is compared before the client (Keycloak's AuthorizationCodeGrantType)
    assert_error(code_exchange(http, login_code(http), OTHER, redirect_uri="http://x/"), 400, "invalid_grant", "Incorrect redirect_uri")


def test_replayed_code_revokes_the_first_exchange(http) -> None:
    code = login_code(http)
    first = code_exchange(http, code).json()
    assert_error(code_exchange(http, code), 400, "invalid_grant", "Code not valid")
    assert_error(refresh(http, first["refresh_token"]), 400, "invalid_grant", "Session doesn't have required client")
    introspected = token(http, {"token": first["access_token"], **CLIENT}, path=TOKEN + "/introspect")
    assert introspected.json() == {"active": False}


def test_failed_client_authentication_does_not_spend_the_code(http) -> None:
    code = login_code(http)
    assert_error(code_exchange(http, code, {"client_id": "demo-client", "client_secret": "wrong"}), 401, "unauthorized_client", "Invalid client secret")
    assert code_exchange(http, code).status_code == 200


@pytest.mark.parametrize(("challenge", "verifier", "description"), [
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, None, "PKCE code verifier not specified"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "", "PKCE verification failed: Invalid code verifier"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "x" * 42, "PKCE verification failed: Invalid code verifier"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "y" * 43, "PKCE verification failed: Code mismatch"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "S256"}, "x" * 43, "PKCE verification failed: Code mismatch"),
    ({}, "x" * 43, "PKCE code verifier specified but challenge not present in authorization"),
])
def test_pkce_failures(http, challenge, verifier, description) -> None:
    code = login_code(http, **challenge)
    extra = {} if verifier is None else {"code_verifier": verifier}
    assert_error(code_exchange(http, code, **extra), 400, "invalid_grant", description)


def test_disabled_user_cannot_log_in_on_the_page(http) -> None:
    form = {"response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT, "username": "disabled-agent", "password": "disabled-agent-password"}
    page = http.post(AUTH, data=form)
    assert page.status_code == 200 and 'id="login-error"' in page.text and "Account is disabled" in page.text


def test_standard_flow_disabled_redirects_the_error(http) -> None:
    answer = http.get(AUTH, params={"response_type": "code", "client_id": "no-browser-client", "redirect_uri": REDIRECT, "state": "s9"})
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["unauthorized_client"] and query["state"] == ["s9"]


# --- other endpoints' refusals -----------------------------------------------------------------------------


def test_userinfo_introspect_logout_refusals(http) -> None:
    oidc = REALM + "/protocol/openid-connect"
    bare = http.get(oidc + "/userinfo")
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == 'Bearer realm="demo-account"' and bare.content == b""
    bad = http.get(oidc + "/userinfo", headers={"authorization": "Bearer garbage"})
    assert bad.status_code == 401 and bad.json() == {"error": "invalid_token", "error_description": "Token verification failed"}
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    no_openid = token(http, {"grant_type": "client_credentials", **CLIENT}).json()["access_token"]
    forbidden = http.get(oidc + "/userinfo", headers={"authorization": f"Bearer {no_openid}"})
    assert (forbidden.status_code, forbidden.json()) == (403, {"error": "insufficient_scope", "error_description": "Missing openid scope"})

    public = http.post(oidc + "/token/introspect", data={"client_id": "demo-spa", "token": no_openid})
    assert (public.status_code, public.json()) == (403, {"error": "invalid_request", "error_description": "Client not allowed."})

    assert_error(http.post(oidc + "/logout", data={**CLIENT, "refresh_token": "garbage"}), 400, "invalid_grant", "Invalid refresh token")
    # LogoutEndpoint.logoutToken: the client first, then the refresh token, whose absence Keycloak words so.
    assert_error(http.post(oidc + "/logout", data=CLIENT), 400, "invalid_request", "No refresh token")
    assert http.post(oidc + "/logout", data={"client_id": CLIENT["client_id"], "client_secret": "wrong"}).status_code == 401
    assert http.post(oidc + "/revoke", data={**CLIENT, "token": "garbage"}).status_code == 200  # RFC 7009 §2.2
