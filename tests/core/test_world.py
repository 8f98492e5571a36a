"""World files: validated on load with the file, the key path and what is wrong; Faker fills what is left out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mockidp.world import DEFAULT_WORLD, WorldError, load_world, parse_world, world_as_dict


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "world.toml"
    path.write_text(text)
    return path


def test_default_world_has_the_contract_identities() -> None:
    world = load_world()
    realm = world.avaya.realms[0]
    assert realm.account_id == "demo-account"
    assert {(c.client_id, c.secret) for c in realm.clients} >= {("demo-client", "demo-client-secret")}
    assert {(u.username, u.password) for u in realm.users} >= {("demo-agent", "demo-agent-password")}
    tenant = world.entra.tenants[0]
    assert tenant.tenant_id == "11111111-1111-1111-1111-111111111111"
    assert "fivedegrees-demo.onmicrosoft.com" in tenant.domains
    apps = {a.app_id: a for a in tenant.apps}
    assert apps["22222222-2222-2222-2222-222222222222"].secrets == ["demo-app-secret"]
    assert apps["33333333-3333-3333-3333-333333333333"].certificates[0].startswith("-----BEGIN CERTIFICATE-----")
    assert apps["44444444-4444-4444-4444-444444444444"].identifier_uris == ["api://fivedegrees-demo-api"]
    assert "Api.ReadWrite" in apps["44444444-4444-4444-4444-444444444444"].app_roles
    lumen = {a.client_id: a for a in world.lumen.apps}["55555555-5555-5555-5555-555555555555"]
    assert (lumen.secret, lumen.bans, lumen.customer_number, lumen.environment) == ("demo-b2c-secret", ["5-ABCDEF12", "5-XYZ98765"], "1-DEMO1234", "test")
    assert world.b2c.tenants[0].name == "lumendemo" and "B2C_1_client_credentials" in world.b2c.tenants[0].policies
    assert world.lumen.liam_api == "https://lumendemo.onmicrosoft.com/liam"
    og = {a.client_id: a for a in world.opengateway.apps}["demo-app-id"]
    assert og.secret == "demo-app-secret" and "dpv:FraudPreventionAndDetection#sim-swap" in og.purposes
    hints = {s.login_hint for s in world.opengateway.subscribers}
    assert {"tel:+34655555555", "tel:+34666666666", "ipport:80.90.34.2:16790"} <= hints


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("[avaya]\nrealmz = []\n", "avaya.realmz", "unknown key"),
        ("[[avaya.realms]]\naccount_id = 'a'\naccess_token_lifespan = 'long'\n", "avaya.realms[0].access_token_lifespan", "expected an integer"),
        ("[[avaya.realms]]\nenabled = true\n", "avaya.realms[0].account_id", "missing required key"),
        ("[[avaya.realms]]\naccount_id = 'a'\n[[avaya.realms.clients]]\nclient_id = 'bad id!'\n", "avaya.realms[0].clients[0].client_id", "only letters"),
        ("[[avaya.realms]]\naccount_id = 'a'\nalg = 'HS256'\n", "avaya.realms[0].alg", "must be one of"),
        ("[[entra.tenants]]\ntenant_id = 't'\n[[entra.tenants.apps]]\napp_id = 'x'\ncertificates = ['nope.pem']\n", "entra.tenants[0].apps[0].certificates[0]", "no file"),
        ("server = 3\n", "server", "expected a table"),
    ],
)
def test_invalid_worlds_name_file_path_and_problem(tmp_path: Path, text: str, path: str, message: str) -> None:
    file = write(tmp_path, text)
    with pytest.raises(WorldError) as info:
        load_world(file)
    assert info.value.path == path
    assert message in info.value.message
    assert str(file) in str(info.value)


def test_not_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="not valid TOML"):
        load_world(write(tmp_path, "[[[["))


def test_faker_fills_missing_identity_fields_repeatably() -> None:
    data: dict[str, Any] = {"avaya": {"realms": [{"account_id": "r", "users": [{"username": "u1", "password": "p"}, {"username": "u2", "password": "p", "email": "set@example.com"}]}]}}
    first, second = parse_world(data), parse_world({**data, "avaya": {"realms": [dict(data["avaya"]["realms"][0], users=[dict(u) for u in data["avaya"]["realms"][0]["users"]])]}})
    u1, u2 = first.avaya.realms[0].users
    assert u1.first_name and u1.last_name and u1.email and "@" in u1.email
    assert u2.email == "set@example.com"
    assert (u1.first_name, u1.email) == (second.avaya.realms[0].users[0].first_name, second.avaya.realms[0].users[0].email)
    other_seed = parse_world({**data, "server": {"seed": 99}})
    assert other_seed.avaya.realms[0].users[0].email != u1.email


def test_world_serialises_for_the_control_endpoint() -> None:
    data = world_as_dict(load_world())
    assert data["avaya"]["realms"][0]["clients"][0]["secret"] == "demo-client-secret"  # a mock: secrets included


def test_world_check_command(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "mockidp", "world", "check", str(DEFAULT_WORLD)], capture_output=True, text=True)
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "mockidp", "world", "check", str(write(tmp_path, "[nope]\n"))], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "nope: unknown key" in bad.stderr and "world.toml" in bad.stderr
