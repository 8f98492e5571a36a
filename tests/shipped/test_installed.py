"""The installed wheel, outside the checkout: it carries its package data, `mockidp serve | world check | token`
work from any directory, and a client project's pytest run with the plugin's fixtures passes (issue 15)."""

from __future__ import annotations

import hashlib
import shutil
import ssl
import subprocess
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest

from .conftest import REPO, Shipped, free_port, wait_ready

TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
BUILT_IN = ("default", "avaya", "fivedegrees", "lumen", "opengateway", "opengateway-sandbox")


def _contents(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as z:
        return {n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist() if not n.endswith("/")}


def test_the_wheel_carries_its_data_and_the_sdist_builds_the_same_wheel(shipped: Shipped) -> None:
    names = set(_contents(shipped.wheel))
    keys = {n for n in names if n.startswith("mockidp/data/keys/")}
    assert {p.name for p in (REPO / "mockidp" / "data" / "keys").iterdir()} == {Path(n).name for n in keys}
    assert {f"mockidp/data/worlds/{w}.toml" for w in BUILT_IN if w != "default"} | {"mockidp/default_world.toml", "mockidp/templates/login.html", "mockidp/py.typed"} <= names
    assert not [n for n in names if "/ca/" in n or n.endswith("ca.key.pem")]
    assert _contents(shipped.wheel_from_sdist) == _contents(shipped.wheel)


def test_serve_from_any_directory_signs_with_the_shipped_keys(shipped: Shipped, serving: tuple[str, Path]) -> None:
    url, state = serving
    package = shipped.package_dir
    assert shipped.venv in Path(package).parents  # the installed copy, not the checkout
    verify = ssl.create_default_context(cafile=str(state / "ca" / "ca.pem"))
    with httpx.Client(base_url=url, verify=verify) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        secret = http.post(TOKEN, data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"})
        assert secret.status_code == 200, secret.text
        # private_key_jwt: the world's certificate of demo-jwt-client is a package data file; sign with its key.
        issuer = url + "/avaya/auth/realms/demo-account"
        now = int(time.time())
        assertion = pyjwt.encode({"iss": "demo-jwt-client", "sub": "demo-jwt-client", "aud": issuer, "jti": str(uuid.uuid4()), "iat": now, "exp": now + 60},
                                 (package / "data" / "keys" / "avaya-demo-jwt-client.key.pem").read_text(), algorithm="RS256")
        signed = http.post(TOKEN, data={"grant_type": "client_credentials", "client_id": "demo-jwt-client",
                                        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": assertion})
        assert signed.status_code == 200, signed.text
        # The realm signs with its shipped development key: the token verifies against the packaged certificate.
        cert = (package / "data" / "keys" / "avaya-realm-demo-account.RS256.crt.pem").read_bytes()
        from cryptography import x509

        public: Any = x509.load_pem_x509_certificate(cert).public_key()
        claims = pyjwt.decode(signed.json()["access_token"], public, algorithms=["RS256"], options={"verify_aud": False})
        assert claims["iss"] == issuer and claims["azp"] == "demo-jwt-client"


def test_world_check_of_every_built_in_world(shipped: Shipped, outside: Path) -> None:
    for name in BUILT_IN:
        out = subprocess.run([str(shipped.bin("mockidp")), "--state-dir", str(outside / "state"), "world", "check", name],
                             cwd=outside, env=shipped.env(), capture_output=True, text=True)
        assert out.returncode == 0 and f"{name}: ok" in out.stdout, out.stdout + out.stderr
    bad = subprocess.run([str(shipped.bin("mockidp")), "world", "check", "nope"], cwd=outside, env=shipped.env(), capture_output=True, text=True)
    assert bad.returncode == 1 and "built-in worlds: " + ", ".join(BUILT_IN) in bad.stderr


def test_token_and_keys_generate(shipped: Shipped, outside: Path) -> None:
    out = subprocess.run([str(shipped.bin("mockidp")), "--state-dir", str(outside / "state"), "token", "--authority", "entra", "--claim", "roles=[\"a\"]"],
                         cwd=outside, env=shipped.env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cert = (shipped.package_dir / "data" / "keys" / "entra-tenant-11111111-1111-1111-1111-111111111111.RS256.crt.pem").read_bytes()
    from cryptography import x509

    public: Any = x509.load_pem_x509_certificate(cert).public_key()
    claims = pyjwt.decode(out.stdout.strip(), public, algorithms=["RS256"], options={"verify_aud": False})
    assert claims["roles"] == ["a"]
    # The installed package's keys are package data: `keys generate` writes only where it is told.
    refused = subprocess.run([str(shipped.bin("mockidp")), "keys", "generate"], cwd=outside, env=shipped.env(), capture_output=True, text=True)
    assert refused.returncode == 2 and "--dir DIR is required" in refused.stderr
    written = subprocess.run([str(shipped.bin("mockidp")), "keys", "generate", "--dir", "mine"], cwd=outside, env=shipped.env(), capture_output=True, text=True)
    assert written.returncode == 0 and (outside / "mine" / "avaya-realm-demo-account.RS256.key.pem").is_file(), written.stderr


def test_a_client_project_passes_with_the_fixtures(shipped: Shipped, tmp_path: Path) -> None:
    project = tmp_path / "client-project"
    shutil.copytree(REPO / "examples" / "client-project", project)
    (project / "tests" / "test_builtin_world.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.mockidp(world=\"avaya\")\n"
        "def test_a_built_in_world_by_name(mockidp):\n"
        "    assert \"eu-account\" in [r.account_id for r in mockidp.engine.world.avaya.realms]\n"
    )
    result = subprocess.run([str(shipped.bin("python")), "-m", "pytest", "-q", "-p", "no:randomly"], cwd=project, env=shipped.env(),
                            capture_output=True, text=True, timeout=300)
    tests = sum(line.startswith("def test_") for p in (project / "tests").glob("test_*.py") for line in p.read_text().splitlines())
    assert result.returncode == 0 and f"{tests} passed" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.mark.parametrize("name", ["default"])
def test_the_installed_plugin_is_the_wheel(shipped: Shipped, name: str) -> None:
    """pytest in the venv loads the plugin from the installed package (its pytest11 entry point), not a source tree."""
    where = shipped.run_python("import mockidp.pytest_plugin as p; print(p.__file__)")
    assert str(shipped.venv) in where and "site-packages" in where, where


def test_the_wheel_serves_two_workers_over_redis_as_one(shipped: Shipped, outside: Path, redis_server: Any) -> None:
    """`pip install 'mockidp[redis]'`, then `mockidp serve --store redis://... --workers 2`: the installed package's
    Redis store (its change announcements included) makes a fault planned through one worker fire once, on either."""
    state, port = outside / "state", free_port()
    proc = subprocess.Popen([str(shipped.bin("mockidp")), "--state-dir", str(state), "serve", "--port", str(port),
                             "--store", redis_server.url(), "--workers", "2"],
                            cwd=outside, env=shipped.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(proc)
        time.sleep(1)  # the second worker starts after the first is ready
        verify = ssl.create_default_context(cafile=str(state / "ca" / "ca.pem"))
        cc = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}
        clients = [httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=verify) for _ in range(8)]  # the kernel spreads them
        try:
            assert all(c.post(TOKEN, data=cc).status_code == 200 for c in clients)
            planned = clients[0].post("/_mockidp/faults", json={"authority": "avaya", "endpoint": "token", "status": 503, "times": 1})
            assert planned.status_code == 201, planned.text
            assert sorted(c.post(TOKEN, data=cc).status_code for c in clients) == [200] * 7 + [503]
            assert clients[-1].get("/_mockidp/faults").json() == []
        finally:
            for c in clients:
                c.close()
    finally:
        proc.terminate()
        proc.wait(10)
