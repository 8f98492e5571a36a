"""The control surface: each control through both faces (Python and /_mockidp/ HTTP)."""

from __future__ import annotations

import jwt as pyjwt
import pytest

TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
CERTS = "/avaya/auth/realms/demo-account/protocol/openid-connect/certs"
JSON = {"content-type": "application/json"}  # every state change on the control plane says it is JSON (415 otherwise)
CC = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def test_world_read_add_remove_over_http(mockidp, http) -> None:
    assert http.get("/_mockidp/world/avaya/realms/demo-account/clients/demo-client").json()["secret"] == "demo-client-secret"
    added = http.post("/_mockidp/world/avaya/realms/demo-account/clients", json={"client_id": "ci-bot", "secret": "s3", "roles": ["agent"]})
    assert added.status_code == 201, added.text
    token = http.post(TOKEN, data={"grant_type": "client_credentials", "client_id": "ci-bot", "client_secret": "s3"})
    assert token.status_code == 200
    assert "agent" in claims_of(token.json()["access_token"])["realm_access"]["roles"]
    assert http.delete("/_mockidp/world/avaya/realms/demo-account/clients/ci-bot", headers=JSON).status_code == 204
    assert http.post(TOKEN, data={"grant_type": "client_credentials", "client_id": "ci-bot", "client_secret": "s3"}).status_code == 400
    # reset goes back to the loaded world
    http.post("/_mockidp/world/avaya/realms/demo-account/users", json={"username": "temp", "password": "pw"})
    mockidp.reset()
    assert http.get("/_mockidp/world/avaya/realms/demo-account/users/temp").status_code == 404


def test_world_changes_are_validated(http) -> None:
    bad = http.post("/_mockidp/world/avaya/realms/demo-account/clients", json={"client_id": "x", "sekret": "s"})
    assert bad.status_code == 400 and "sekret: unknown key" in bad.json()["error_description"]
    bad_id = http.post("/_mockidp/world/avaya/realms/demo-account/clients", json={"client_id": "not ok!"})
    assert bad_id.status_code == 400 and "only letters" in bad_id.json()["error_description"]
    assert http.get("/_mockidp/world/avaya/nope").status_code == 404
    assert http.post("/_mockidp/world/avaya/realms/demo-account/clients", content=b"[1]", headers=JSON).status_code == 400


def test_world_add_realm_through_python_face(mockidp, http) -> None:
    mockidp.control.world_add("avaya/realms", {"account_id": "acme", "clients": [{"client_id": "acme-app", "secret": "pw"}]})
    response = http.post("/avaya/auth/realms/acme/protocol/openid-connect/token", data={"grant_type": "client_credentials", "client_id": "acme-app", "client_secret": "pw"})
    assert response.status_code == 200
    # the new realm has its own keys, not demo-account's
    acme_kid = pyjwt.get_unverified_header(response.json()["access_token"])["kid"]
    assert acme_kid not in [k["kid"] for k in http.get(CERTS).json()["keys"]]


def test_key_rotation_and_retirement_over_http(mockidp, http) -> None:
    old = http.get(CERTS).json()["keys"][0]["kid"]
    rotated = http.post("/_mockidp/keys/avaya/rotate", json={"issuer": "demo-account"}).json()
    assert rotated["active"] != old and set(rotated["published"]) == {old, rotated["active"]}
    token = http.post(TOKEN, data=CC).json()["access_token"]
    assert pyjwt.get_unverified_header(token)["kid"] == rotated["active"]
    assert len(http.get(CERTS).json()["keys"]) == 2
    retired = http.post("/_mockidp/keys/avaya/retire", json={}).json()
    assert retired["retired"] == [old]
    assert [k["kid"] for k in http.get(CERTS).json()["keys"]] == [rotated["active"]]
    assert http.post("/_mockidp/keys/avaya/retire", json={"kid": rotated["active"]}).status_code == 400
    assert http.post("/_mockidp/keys/nope/rotate", json={}).status_code == 404


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("valid", None),
        ("expired", pyjwt.ExpiredSignatureError),
        ("not_yet_valid", pyjwt.ImmatureSignatureError),
        ("wrong_audience", pyjwt.InvalidAudienceError),
        ("wrong_issuer", pyjwt.InvalidIssuerError),
        ("unknown_key", pyjwt.InvalidSignatureError),
        ("other_authority_key", pyjwt.InvalidSignatureError),
        ("alg_none", pyjwt.InvalidAlgorithmError),
        ("hs256_public_key", pyjwt.InvalidAlgorithmError),
        ("truncated", pyjwt.InvalidSignatureError),
    ],
)
def test_forged_tokens_fail_a_careful_resource_server(http, variant: str, expected) -> None:
    minted = http.post("/_mockidp/tokens/avaya", json={"claims": {"aud": "my-api"}, "variant": variant})
    assert minted.status_code == 201
    token = minted.json()["token"]
    issuer = http.get("/avaya/auth/realms/demo-account/.well-known/openid-configuration").json()["issuer"]
    jwks = pyjwt.PyJWKSet.from_dict(http.get(CERTS).json())
    key = jwks.keys[0].key

    def check() -> dict:
        return pyjwt.decode(token, key, algorithms=["RS256"], audience="my-api", issuer=issuer)

    if expected is None:
        assert check()["aud"] == "my-api"
    else:
        with pytest.raises((expected, pyjwt.DecodeError)):
            check()


def test_forged_tokens_are_refused_by_mockidps_own_resource_server(mockidp, http) -> None:
    for variant in ("expired", "unknown_key", "other_authority_key", "alg_none", "hs256_public_key", "truncated", "wrong_issuer"):
        token = mockidp.avaya.mint({"typ": "Bearer", "realm_access": {"roles": ["agent"]}}, variant=variant)
        assert http.get("/avaya/api/v1/agents/me", headers={"authorization": f"Bearer {token}"}).status_code == 401, variant
    good = mockidp.avaya.mint({"typ": "Bearer", "realm_access": {"roles": ["agent"]}})
    assert http.get("/avaya/api/v1/agents/me", headers={"authorization": f"Bearer {good}"}).status_code == 200


def test_forge_errors(http) -> None:
    assert http.post("/_mockidp/tokens/avaya", json={"variant": "bogus"}).status_code == 400
    assert http.post("/_mockidp/tokens/nope", json={}).status_code == 404
    assert http.post("/_mockidp/tokens/avaya", json={"issuer": "no-realm"}).status_code == 404


def test_openapi_document_lists_every_control_route(mockidp, http) -> None:
    from starlette.routing import Route

    from mockidp.control.routes import control_routes

    doc = http.get("/_mockidp/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    served = {r.path.replace(":path}", "}") for r in control_routes(mockidp.engine) if isinstance(r, Route)}
    assert served == set(doc["paths"])


def test_journal_filters_and_clear_over_http(http) -> None:
    http.post(TOKEN, data=CC)
    http.get(CERTS)
    assert [e["endpoint"] for e in http.get("/_mockidp/journal", params={"authority": "avaya"}).json()] == ["token", "certs"]
    assert http.get("/_mockidp/journal", params={"client_id": "demo-client"}).json()[0]["endpoint"] == "token"
    assert http.delete("/_mockidp/journal", headers=JSON).status_code == 204
    assert http.get("/_mockidp/journal").json() == []


def test_handles_give_client_urls(mockidp) -> None:
    avaya = mockidp.avaya
    assert avaya.issuer == mockidp.url + "/avaya/auth/realms/demo-account"
    assert avaya.jwks_url.endswith("/protocol/openid-connect/certs")
    assert avaya.discovery_url.endswith("/.well-known/openid-configuration")
    entra = mockidp.handle("entra", "11111111-1111-1111-1111-111111111111")
    assert entra.issuer.endswith("/entra/11111111-1111-1111-1111-111111111111/v2.0")
    with pytest.raises(AttributeError):
        mockidp.nonexistent  # noqa: B018


def test_runtime_changes_never_touch_the_loaded_world(mockidp) -> None:
    for round_ in range(3):  # change, reset, change again: every round starts from the loaded world
        assert mockidp.engine.world is mockidp.engine.loaded_world
        mockidp.control.world_add("avaya/realms/demo-account/users", {"username": f"temp{round_}", "password": "pw"})
        users = [u.username for u in mockidp.engine.loaded_world.avaya.realms[0].users]
        assert not any(u.startswith("temp") for u in users)
        mockidp.reset()
def test_planned_claims_next_token_and_permanent(mockidp, http) -> None:
    planned = http.post("/_mockidp/claims", json={"claims": {"tenant": "blue", "azp": "spoofed"}, "authority": "avaya", "client_id": "demo-client"})
    assert planned.status_code == 201
    first = claims_of(http.post(TOKEN, data=CC).json()["access_token"])
    second = claims_of(http.post(TOKEN, data=CC).json()["access_token"])
    assert (first["tenant"], first["azp"]) == ("blue", "spoofed")
    assert "tenant" not in second
    mockidp.add_claims({"tier": "gold"}, authority="avaya", times=None)
    assert all(claims_of(http.post(TOKEN, data=CC).json()["access_token"])["tier"] == "gold" for _ in range(3))
    assert http.post("/_mockidp/claims", json={"claims": {}}).status_code == 400




def test_ciba_consent_over_http(mockidp, http) -> None:
    auth = ("demo-app-id", "demo-app-secret")
    purpose = "dpv:FraudPreventionAndDetection#sim-swap"
    started = http.post("/opengateway/apigateway/bc-authorize", auth=auth, data={"login_hint": "tel:+34655555555", "purpose": purpose}).json()
    rid = started["auth_req_id"]
    pending = http.get("/_mockidp/ciba", params={"state": "pending"}).json()
    assert [r["auth_req_id"] for r in pending] == [rid]
    assert http.post(f"/_mockidp/ciba/{rid}/approve", json={}).status_code == 200
    assert http.post(f"/_mockidp/ciba/{rid}/approve", json={}).status_code == 409  # no longer pending
    assert http.post("/_mockidp/ciba/nope/approve", json={}).status_code == 404
    assert http.post(f"/_mockidp/ciba/{rid}/bless", json={}).status_code == 404
    token = http.post("/opengateway/apigateway/token", auth=auth, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": rid})
    assert token.status_code == 200 and token.json()["access_token"]
    # every future request of a subscriber
    assert http.post("/_mockidp/ciba/subscribers", json={"login_hint": "tel:+34655555555", "decision": "deny"}).status_code == 204
    denied = http.post("/opengateway/apigateway/bc-authorize", auth=auth, data={"login_hint": "tel:+34655555555", "purpose": purpose}).json()
    poll = http.post("/opengateway/apigateway/token", auth=auth, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": denied["auth_req_id"]})
    assert poll.json()["error"] == "access_denied"
    assert http.post("/_mockidp/ciba/subscribers", json={"login_hint": "tel:+34000000000", "decision": "deny"}).status_code == 404
    assert http.post("/_mockidp/ciba/subscribers", json={"login_hint": "tel:+34655555555", "decision": "maybe"}).status_code == 400


def test_every_issuer_names_its_token_endpoint(mockidp, http) -> None:
    """The handles give clients a token_url for every issuer that has one, and it answers POSTs."""
    for authority in mockidp.engine.authorities.values():
        for issuer in authority.issuers():
            if authority.name == "lumen" and issuer.id == "digest":
                continue  # App Key + Digest has no token endpoint: its keys sign nonces
            if authority.name == "workload":
                continue  # a workload issuer has no token endpoint: it signs what a workload presents to Entra
            handle = mockidp.handle(authority.name, issuer.id)
            assert handle.token_url, (authority.name, issuer.id)
            response = http.post(handle.token_url, data={})
            assert 400 <= response.status_code < 500, (handle.token_url, response.status_code)
