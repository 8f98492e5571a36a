"""docker-compose.yml, run the way compose runs it but with no Docker engine: each service gets a temporary root
laid out as compose mounts it (a bind mount's source copied to its target under the root, a named volume as one
directory that every service mounting it shares), container paths in the environment, command and health check
prefixed with that root, and the image's `mockidp` being the installed wheel's. Nothing maps a container path
back onto the checkout, so a world or CA that only exists in the repository fails here as it fails in Docker."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockidp.engine import Engine

from .conftest import REPO, Shipped, free_port, wait_ready

# The Compose Specification's JSON Schema (compose-spec/compose-spec, schema/compose-spec.json, Apache-2.0), kept
# beside this test so the check runs in every checkout.
SCHEMA = Path(__file__).with_name("compose-spec.json")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_file_validates_against_the_schema(compose: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(compose)


def test_aliases_are_every_real_hostname_mockidp_routes_on(compose: dict[str, Any]) -> None:
    engine = Engine()
    routed = {h for a in engine.authorities.values() for h in a.real_hostnames()}
    aliases = compose["services"]["mockidp"]["networks"]["default"]["aliases"]
    assert len(aliases) == len(set(aliases)) and set(aliases) == routed
    for alias in aliases:  # each reaches an authority at the root
        assert any(a.matches_host(alias) for a in engine.authorities.values()), alias


def test_ports_are_published_on_loopback_only_and_the_state_is_a_named_volume(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port
    volumes = compose["services"]["mockidp"]["volumes"]
    assert "mockidp-state:/var/lib/mockidp" in volumes and "mockidp-state" in compose["volumes"]
    # Clients get the CA folder alone (certificates), never the state dir that holds the issuing CA's key.
    assert "mockidp-ca:/var/lib/mockidp/ca" in volumes
    assert compose["services"]["example-client"]["volumes"] == ["mockidp-ca:/mockidp-ca:ro"]
    assert all(not v.startswith(".") for v in volumes), "the built-in world needs nothing mounted"


def _image_env_and_workdir() -> tuple[dict[str, str], str]:
    """The final stage's ENV and WORKDIR of the Dockerfile: what the container starts with before compose's env."""
    final = (REPO / "Dockerfile").read_text().split("\nFROM ")[-1]
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", final, re.MULTILINE):
        env.update(re.findall(r"(\w+)=(\S+)", block))
    return env, re.findall(r"^WORKDIR (\S+)", final, re.MULTILINE)[-1]


def _prefix(value: str, root: Path) -> str:
    return str(root) + value if value.startswith("/") else value


def _lay_out(service: dict[str, Any], root: Path, volumes: Path) -> None:
    root.mkdir()
    for spec in service.get("volumes", []):
        source, target = spec.split(":")[:2]
        where = root / target.lstrip("/")
        where.parent.mkdir(parents=True, exist_ok=True)
        if source.startswith((".", "/")):  # a bind mount: the source as it is in the repository
            (shutil.copytree if (REPO / source).is_dir() else shutil.copy2)(REPO / source, where)
        else:  # a named volume: one directory, the same for every service that mounts it
            (volumes / source).mkdir(parents=True, exist_ok=True)
            where.symlink_to(volumes / source)


def test_the_service_serves_its_health_check_passes_and_the_example_client_gets_a_token(
    compose: dict[str, Any], shipped: Shipped, tmp_path: Path
) -> None:
    service, client = compose["services"]["mockidp"], compose["services"]["example-client"]
    volumes = tmp_path / "volumes"
    root, client_root = tmp_path / "mockidp", tmp_path / "example-client"
    _lay_out(service, root, volumes)
    _lay_out(client, client_root, volumes)
    image_env, workdir = _image_env_and_workdir()
    env = {name: _prefix(str(value), root) for name, value in {**image_env, **service["environment"]}.items()}
    port = free_port()
    env.update(MOCKIDP_HOST="127.0.0.1", MOCKIDP_PORT=str(port))  # loopback and a free port: the only changes
    cwd = root / workdir.lstrip("/")
    cwd.mkdir(parents=True, exist_ok=True)
    command = [_prefix(a, root) for a in service["command"]]
    assert command[0] == "mockidp"
    proc = subprocess.Popen([str(shipped.bin("mockidp")), *command[1:]], cwd=cwd, env=shipped.env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(proc)
        kind, *health = service["healthcheck"]["test"]
        assert kind == "CMD" and health[0] == "python"
        health = [re.sub(r"'(/[^']*)'", lambda m: repr(_prefix(m.group(1), root)), a) for a in health]
        checked = subprocess.run([str(shipped.bin("python")), *health[1:]], cwd=cwd, env=shipped.env(**env), capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        # The image's own HEALTHCHECK too (it finds the CA through MOCKIDP_STATE_DIR, prefixed above).
        image_check = re.search(r"^HEALTHCHECK (?:[^\n]*\\\n)*\s*CMD (\[[^\n]*\])$", _dockerfile_final_stage(), re.MULTILINE)
        assert image_check is not None
        image_health = json.loads(image_check.group(1))
        assert image_health[0] == "python"
        checked = subprocess.run([str(shipped.bin("python")), *image_health[1:]], cwd=cwd, env=shipped.env(**env), capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        # The example client's curl, its CA read from the named volume under its own root; the real hostname is
        # connected to the loopback port (the network alias's job in compose).
        args = [_prefix(a, client_root) for a in client["command"]]
        host = re.search(r"https://([^/:]+)", args[-1]).group(1)  # type: ignore[union-attr]
        assert host in service["networks"]["default"]["aliases"]
        got = subprocess.run(["curl", "--silent", "--show-error", "--connect-to", f"{host}:443:127.0.0.1:{port}", *args],
                             capture_output=True, text=True, timeout=30)
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["token_type"].lower() == "bearer"
        shared = [p for p in (volumes / "mockidp-ca").rglob("*") if p.is_file()]
        assert [p.name for p in shared] == ["ca.pem"] and all(b"PRIVATE KEY" not in p.read_bytes() for p in shared)
    finally:
        proc.terminate()
        proc.wait(10)


def _dockerfile_final_stage() -> str:
    return (REPO / "Dockerfile").read_text().split("\nFROM ")[-1]


def test_the_image_installs_the_wheel_pinned_runs_as_a_user_and_checks_its_health() -> None:
    final = _dockerfile_final_stage()
    install = next(line for line in final.splitlines() if "pip install" in line)
    assert "--constraint" in install and ".whl" in install and " -e " not in install
    user = re.findall(r"^USER (\S+)", final, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD", final, re.MULTILINE) and "/healthz" in final
    assert "COPY keys" not in final and "ca.key" not in (REPO / "Dockerfile").read_text()


def test_constraints_pin_every_runtime_dependency() -> None:
    """constraints.txt (./run constraints) pins each of pyproject's runtime dependencies, and what they need, to
    one version that the dependency's own specifier allows."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not a pin: {line!r}"
            pins[canonicalize_name(name)] = version.strip()
    linux = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "extra": ""}
    for text in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(linux):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt does not pin {req.name} (run ./run constraints)"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {req}"
    assert len(pins) > len(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])  # the closure too
