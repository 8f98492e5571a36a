"""docker-compose.yml: valid against the Compose schema, consistent with the CLI and the repository, and its
command really serves when run directly (no Docker engine runs here)."""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml

from mockidp.cli import parser

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO.parent / "shared" / "reference" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.mark.skipif(not SCHEMA.exists(), reason="the Compose schema lives in ../shared/reference beside the checkout")
def test_compose_file_validates_against_the_schema(compose: dict) -> None:
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(compose)


def test_command_environment_and_paths_match_the_cli_and_repo(compose: dict) -> None:
    service = compose["services"]["mockidp"]
    assert service["command"][0] == "mockidp"
    args = parser().parse_args(service["command"][1:])
    assert args.command == "serve"
    cli_source = (REPO / "mockidp" / "cli.py").read_text()
    for name in service["environment"]:
        assert f'"{name}"' in cli_source, f"{name} is not read by the CLI"
    for volume in service["volumes"]:
        host = volume.split(":")[0]
        assert (REPO / host).exists(), host
    assert (REPO / "Dockerfile").exists()
    aliases = service["networks"]["default"]["aliases"]
    assert {"login.microsoftonline.com", "api.lumen.com", "sandbox.opengateway.telefonica.com"} <= set(aliases)
    assert "/healthz" in " ".join(service["healthcheck"]["test"])


def test_the_compose_command_serves(compose: dict, tmp_path: Path) -> None:
    """Run the service's exact command with its environment, container paths mapped onto the repository."""
    service = compose["services"]["mockidp"]
    mounts = {v.split(":")[1]: REPO / v.split(":")[0] for v in service["volumes"]}
    env = dict(os.environ)
    for name, value in service["environment"].items():
        for inside, outside in mounts.items():
            if str(value).startswith(inside):
                value = str(outside) + str(value)[len(inside):]
        env[name] = str(value)
    state = tmp_path / "state"
    state.mkdir()
    (state / "ca").symlink_to(mounts["/var/lib/mockidp/ca"])
    env.update(MOCKIDP_STATE_DIR=str(state), MOCKIDP_PORT="0", MOCKIDP_HOST="127.0.0.1")  # loopback, any free port
    proc = subprocess.Popen([sys.executable, "-m", "mockidp", *service["command"][1:]], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("mockidp is ready"):
                break
        text = "".join(lines)
        url = re.search(r"on (https://127\.0\.0\.1:\d+)", text).group(1)  # type: ignore[union-attr]
        ca = REPO / "keys" / "ca" / "ca.pem"
        verify = ssl.create_default_context(cafile=str(ca))
        assert httpx.get(url + "/healthz", verify=verify).json() == {"status": "ok"}
        # The example client's request, with the real hostname carried in the Host header.
        response = httpx.post(url + "/auth/realms/demo-account/protocol/openid-connect/token", headers={"host": "eu1.cc.avayacloud.com"},
                              data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}, verify=verify)
        assert response.status_code == 200, response.text
    finally:
        proc.terminate()
        proc.wait(10)
