"""The command line for a person debugging (issue 22): `serve`'s request log, `world check` on a partial world,
`token --variant`, and the world files' JSON Schema."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import jsonschema
import jwt as pyjwt
import pytest
from test_cli import start

from mockidp.engine import Engine
from mockidp.world import WorldError, builtin_worlds, parse_world
from mockidp.world_schema import world_schema

REPO = Path(__file__).resolve().parent.parent
TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
WRONG = "a-wrong-secret-that-must-not-be-logged"


def serve_and_log(tmp_path: Path, *args: str) -> list[str]:
    """Serve, send a good and a bad token request, stop with SIGTERM; every line it wrote after being ready."""
    proc, lines = start(list(args), tmp_path)
    try:
        url = re.search(r"on (https://127\.0\.0\.1:\d+)", "\n".join(lines)).group(1)  # type: ignore[union-attr]
        verify = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.pem"))
        with httpx.Client(base_url=url, verify=verify) as http:
            assert http.post(TOKEN, data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}).status_code == 200
            assert http.post(TOKEN + "?client_secret=" + WRONG, data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": WRONG}).status_code == 401
    finally:
        proc.terminate()
        rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    return rest.splitlines()


def test_serve_logs_one_line_per_request_and_one_at_shutdown(tmp_path: Path) -> None:
    after = serve_and_log(tmp_path)
    requests = [line for line in after if TOKEN in line]
    assert len(requests) == 2, after
    assert re.fullmatch(r"\S+Z info    POST /avaya\S+/token 200 client_id=demo-client \d+\.\d ms", requests[0]), requests[0]
    assert re.fullmatch(r"\S+Z info    POST /avaya\S+/token 401 client_id=demo-client error=unauthorized_client \d+\.\d ms", requests[1]), requests[1]
    assert not any(WRONG in line for line in after)
    assert re.fullmatch(r"mockidp stopped after \d+\.\d s on https://127\.0\.0\.1:\d+", after[-1]), after[-1]


def test_serve_logs_json_for_machines(tmp_path: Path) -> None:
    after = serve_and_log(tmp_path, "--log-format", "json")
    records = [json.loads(line) for line in after if line.startswith("{")]
    requests = [r for r in records if r.get("endpoint") == "token"]
    assert [(r["status"], r["client_id"], r["error"], r["authority"], r["method"]) for r in requests] == [
        (200, "demo-client", None, "avaya", "POST"), (401, "demo-client", "unauthorized_client", "avaya", "POST")]
    assert all(r["level"] == "info" and r["time"].endswith("Z") and isinstance(r["ms"], float) for r in requests)
    assert not any(WRONG in line for line in after)


def mockidp_cli(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(state), *args], capture_output=True, text=True, timeout=60)


def test_world_check_of_a_partial_world_reports_only_its_authorities(tmp_path: Path) -> None:
    world = tmp_path / "only-og.toml"
    world.write_text('[[opengateway.apps]]\nclient_id = "a"\nsecret = "s"\n')
    done = mockidp_cli("world", "check", str(world), state=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, f"{world}: ok (opengateway: 1 issuer(s))")
    bare = tmp_path / "server-only.toml"
    bare.write_text("[server]\nseed = 7\n")
    assert mockidp_cli("world", "check", str(bare), state=tmp_path).stdout.strip() == f"{bare}: ok (no authority section)"


@pytest.mark.parametrize("variant, error", [("expired", pyjwt.ExpiredSignatureError), ("not-yet-valid", pyjwt.ImmatureSignatureError),
                                            ("wrong_issuer", pyjwt.InvalidIssuerError), ("unknown_key", pyjwt.InvalidSignatureError),
                                            ("alg_none", pyjwt.InvalidAlgorithmError), ("truncated", pyjwt.DecodeError)])
def test_token_variants_are_the_control_apis_forgeries(tmp_path: Path, variant: str, error: type[Exception]) -> None:
    done = mockidp_cli("token", "--authority", "avaya", "--variant", variant, state=tmp_path)
    assert done.returncode == 0, done.stderr
    issuer = next(i for i in Engine(state_dir=tmp_path).authority("avaya").issuers() if i.id == "demo-account")
    key = pyjwt.PyJWK(issuer.keyset.jwks()["keys"][0]).key
    with pytest.raises(error):
        pyjwt.decode(done.stdout.strip(), key, algorithms=["RS256"], issuer="https://127.0.0.1:8443/avaya/auth/realms/demo-account",
                     options={"verify_aud": False})


def test_an_unknown_token_variant_is_a_usage_error_naming_the_variants(tmp_path: Path) -> None:
    done = mockidp_cli("token", "--authority", "avaya", "--variant", "wrong-key", state=tmp_path)
    assert done.returncode == 2 and "choose one of valid, expired, not_yet_valid" in done.stderr and "Traceback" not in done.stderr


def test_world_schema_is_printed_committed_and_validates_the_built_in_worlds(tmp_path: Path) -> None:
    printed = json.loads(mockidp_cli("world", "schema", state=tmp_path).stdout)
    assert printed == world_schema() == json.loads((REPO / "docs" / "world.schema.json").read_text()), "run: ./run mockidp world schema > docs/world.schema.json"
    validator = jsonschema.Draft202012Validator(printed)
    validator.check_schema(printed)
    for name, path in builtin_worlds().items():
        errors = list(validator.iter_errors(tomllib.loads(path.read_text())))
        assert errors == [], (name, errors[:3])


@pytest.mark.parametrize("world, where", [
    ({"avaya": {"realms": [{"account_id": "r", "clients": [{"client_id": "c", "secrett": "s"}]}]}}, "secrett"),
    ({"avaya": {"realms": [{"account_id": "r", "access_token_lifespan": "long"}]}}, "access_token_lifespan"),
    ({"entra": {"tenants": [{"tenant_id": "t", "alg": "HS256"}]}}, "alg"),
    ({"nowhere": {}}, "nowhere"),
])
def test_world_schema_rejects_what_the_loader_rejects(world: dict, where: str) -> None:
    errors = list(jsonschema.Draft202012Validator(world_schema()).iter_errors(world))
    assert errors and any(where in (str(e.path) + e.message) for e in errors), errors
    with pytest.raises(WorldError, match=where):  # the loader agrees
        parse_world(world, "w.toml")
