"""The Avaya section of a world file: the built-in avaya world (mockidp/data/worlds/avaya.toml) loads, and each cross-reference mistake is named."""

from __future__ import annotations

import pytest

from mockidp.world import BUILTIN_WORLDS, WorldError, load_world, parse_world

FIXTURE = BUILTIN_WORLDS / "avaya.toml"


def test_the_avaya_fixture_loads() -> None:
    world = load_world(FIXTURE)
    realms = {r.account_id: r for r in world.avaya.realms}
    assert set(realms) == {"demo-account", "eu-account", "suspended-account", "master"}
    demo = realms["demo-account"]
    assert (demo.access_token_lifespan, demo.refresh_token_lifespan) == (900, 9000)  # seed 001
    jwt_client = next(c for c in demo.clients if c.client_id == "demo-jwt-client")
    assert jwt_client.certificate and jwt_client.certificate.startswith("-----BEGIN CERTIFICATE-----")  # the path was read
    supervisor = next(u for u in demo.users if u.username == "demo-supervisor")
    assert supervisor.first_name and supervisor.email  # made up from the seed, the same every load
    assert load_world(FIXTURE).avaya.realms[0].users[2].email == supervisor.email


def test_the_default_world_keeps_its_demo_identities() -> None:
    realm = load_world().avaya.realms[0]
    assert realm.account_id == "demo-account"
    assert {(c.client_id, c.secret) for c in realm.clients} >= {("demo-client", "demo-client-secret"), ("demo-jwt-client", None), ("demo-spa", None)}
    assert {(u.username, u.password) for u in realm.users} >= {("demo-agent", "demo-agent-password"), ("demo-admin", "demo-admin-password")}


def realm(**changes) -> dict:
    return {"avaya": {"realms": [{"account_id": "a", "clients": [{"client_id": "c", "secret": "s"}], **changes}]}}


@pytest.mark.parametrize(("world", "path", "message"), [
    (realm(clients=[{"client_id": "bad_id"}]), "avaya.realms[0].clients[0].client_id", "only letters, digits and '-' are allowed"),
    (realm(clients=[{"client_id": "Same"}, {"client_id": "same"}]), "avaya.realms[0].clients[1].client_id", "duplicate (client ids are case-insensitive)"),
    (realm(clients=[{"client_id": "c", "optional_scopes": ["nope"]}]), "avaya.realms[0].clients[0]", "scope 'nope' is not defined in the realm's scopes"),
    (realm(clients=[{"client_id": "c", "certificate": "missing.pem"}]), "avaya.realms[0].clients[0].certificate", "no file"),
    ({"avaya": {"realms": [{"account_id": "a"}, {"account_id": "a"}]}}, "avaya.realms[1].account_id", "duplicate realm 'a'"),
    (realm(alg="HS256"), "avaya.realms[0].alg", "must be one of"),
    (realm(clients=[{"client_id": "c", "sekret": "s"}]), "avaya.realms[0].clients[0].sekret", "unknown key"),
])
def test_mistakes_are_named(world, path, message, tmp_path) -> None:
    with pytest.raises(WorldError) as err:
        parse_world(world, "test.toml", base_dir=tmp_path)
    assert err.value.path == path and message in err.value.message
