"""The five°degrees fixture world serves on its own, and the Entra world section is checked on load."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from mockidp.engine import Engine
from mockidp.server import MockIdpServer
from mockidp.world import BUILTIN_WORLDS, WorldError, load_world

TENANT = "11111111-1111-1111-1111-111111111111"


def test_fixture_world_serves_the_gate_and_refuses_a_read_only_client(tmp_path: Path) -> None:
    engine = Engine(load_world(BUILTIN_WORLDS / "fivedegrees.toml"), state_dir=tmp_path)
    with MockIdpServer(engine, state_dir=tmp_path) as server, httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=str(server.ca_bundle))) as http:
        def token(client_id: str, secret: str) -> str:
            response = http.post(f"/entra/{TENANT}/oauth2/v2.0/token", data={"client_id": client_id, "client_secret": secret,
                                                                          "scope": "api://fivedegrees-demo-api/.default", "grant_type": "client_credentials"})
            assert response.status_code == 200, response.text
            return response.json()["access_token"]

        writer = token("22222222-2222-2222-2222-222222222222", "demo-app-secret")
        assert http.put("/entra/apim/fivedegrees/v1/x", headers={"Authorization": f"Bearer {writer}"}).status_code == 202
        reader = token("23232323-2323-2323-2323-232323232323", "demo-read-only-secret")
        refused = http.get("/entra/apim/fivedegrees-verbose/v1/x", headers={"Authorization": f"Bearer {reader}"})
        assert refused.status_code == 401
        assert refused.json() == {"statusCode": 401, "message": "JWT Validation Failed: Claim value mismatch: roles=Api.ReadWrite."}
    assert not engine.server_errors


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("[[entra.tenants]]\ntenant_id = 't'\n[[entra.tenants.apps]]\napp_id = 'a'\ngranted_roles = { 'api://x' = ['R'] }\n",
         "entra.tenants[0].apps[0].granted_roles", "no app in the tenant"),
        (("[[entra.tenants]]\ntenant_id = 't'\n[[entra.tenants.apps]]\napp_id = 'api'\napp_roles = ['R']\n"
         "[[entra.tenants.apps]]\napp_id = 'a'\ngranted_roles = { 'api' = ['Other'] }\n"), "entra.tenants[0].apps[1].granted_roles", "no app role"),
        ("[[entra.apim]]\npath = 'p'\ntenant = 'nobody'\n", "entra.apim[0].tenant", "no tenant"),
        ("[[entra.tenants]]\ntenant_id = 't'\n[[entra.apim]]\npath = 'a/b'\ntenant = 't'\n", "entra.apim[0].path", "one unique URL segment"),
    ],
)
def test_invalid_entra_worlds(tmp_path: Path, text: str, path: str, message: str) -> None:
    file = tmp_path / "world.toml"
    file.write_text(text)
    with pytest.raises(WorldError) as info:
        load_world(file)
    assert info.value.path == path and message in info.value.message
