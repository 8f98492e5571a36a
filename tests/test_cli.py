"""The command line, run as a user runs it: `mockidp serve` prints what a client needs and serves it."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt as pyjwt
import pytest


def start(args: list[str], state_dir: Path) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "--state-dir", str(state_dir), "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:  # readiness: the server prints its URLs only once it is listening
        lines.append(line.rstrip())
        if line.startswith("mockidp is ready"):
            break
    else:
        raise AssertionError("mockidp serve exited early:\n" + "\n".join(lines))
    return proc, lines


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[str]]:
    proc, lines = start([], tmp_path)
    yield lines
    proc.terminate()
    proc.wait(10)


def test_serve_prints_urls_credentials_and_ca(served: list[str], tmp_path: Path) -> None:
    text = "\n".join(served)
    url = re.search(r"on (https://127\.0\.0\.1:\d+)", text).group(1)  # type: ignore[union-attr]
    ca = re.search(r"CA bundle \(trust this\): (\S+)", text).group(1)  # type: ignore[union-attr]
    assert Path(ca) == tmp_path / "ca" / "ca.pem"
    for expected in ("demo-client / demo-client-secret", "demo-agent / demo-agent-password", "22222222-2222-2222-2222-222222222222 / demo-app-secret",
                     "55555555-5555-5555-5555-555555555555 / demo-b2c-secret", "demo-app-id / demo-app-secret", "tel:+34655555555"):
        assert expected in text
    verify = ssl.create_default_context(cafile=ca)
    assert httpx.get(url + "/healthz", verify=verify).json() == {"status": "ok"}
    discovery = re.search(r"discovery: (\S+avaya\S+)", text).group(1)  # type: ignore[union-attr]
    assert httpx.get(discovery, verify=verify).json()["issuer"] == url + "/avaya/auth/realms/demo-account"


def test_restart_reuses_the_ca(tmp_path: Path) -> None:
    first, _ = start([], tmp_path)
    first.terminate()
    first.wait(10)
    ca = (tmp_path / "ca" / "ca.pem").read_bytes()
    second, lines = start([], tmp_path)
    try:
        assert (tmp_path / "ca" / "ca.pem").read_bytes() == ca
    finally:
        second.terminate()
        second.wait(10)


def test_no_tls_serves_plain_http(tmp_path: Path) -> None:
    proc, lines = start(["--no-tls"], tmp_path)
    try:
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", "\n".join(lines)).group(1)  # type: ignore[union-attr]
        assert httpx.get(url + "/healthz").status_code == 200
        assert not any("CA bundle" in line for line in lines)
    finally:
        proc.terminate()
        proc.wait(10)


def test_token_command_mints_a_verifiable_token(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "token", "--authority", "avaya", "--claim", "sub=alice", "--claim", 'roles=["a","b"]', "--base-url", "https://127.0.0.1:8443"],
        capture_output=True, text=True, check=True,
    )
    token = out.stdout.strip()
    from mockidp.engine import Engine

    keyset = Engine(state_dir=tmp_path).authority("avaya").realms["demo-account"].keyset
    claims = pyjwt.decode(token, pyjwt.PyJWK(keyset.jwks()["keys"][0]).key, algorithms=["RS256"], options={"verify_aud": False})
    assert claims["sub"] == "alice" and claims["roles"] == ["a", "b"]
    assert claims["iss"] == "https://127.0.0.1:8443/avaya/auth/realms/demo-account"
    bad = subprocess.run([sys.executable, "-m", "mockidp", "token", "--authority", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown authority" in bad.stderr


def test_keys_generate_writes_missing_keys_only(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "mockidp", "keys", "generate", "--dir", str(tmp_path)], capture_output=True, text=True, check=True)
    assert "avaya: avaya-realm-demo-account" in out.stdout
    written = sorted(p.name for p in tmp_path.glob("*.key.pem"))
    assert "avaya-realm-demo-account.RS256.key.pem" in written and "entra-demo-cert-app.key.pem" in written
    before = {p: p.read_bytes() for p in tmp_path.glob("*.pem")}
    subprocess.run([sys.executable, "-m", "mockidp", "keys", "generate", "--dir", str(tmp_path)], capture_output=True, text=True, check=True)
    assert {p: p.read_bytes() for p in tmp_path.glob("*.pem")} == before


def test_serve_with_two_threads(tmp_path: Path) -> None:
    proc, lines = start(["--threads", "2"], tmp_path)
    try:
        url = re.search(r"on (https://127\.0\.0\.1:\d+)", "\n".join(lines)).group(1)  # type: ignore[union-attr]
        verify = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.pem"))
        form = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}
        for _ in range(4):  # fresh connections: either loop may take each
            with httpx.Client(base_url=url, verify=verify) as http:
                assert http.post("/avaya/auth/realms/demo-account/protocol/openid-connect/token", data=form).status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(("env", "flag"), [("MOCKIDP_THREADS", "--threads"), ("MOCKIDP_PORT", "--port")])
def test_a_bad_environment_value_is_a_usage_error_of_serve_only(tmp_path: Path, env: str, flag: str) -> None:
    environ = {**os.environ, env: "abc"}
    served = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "serve"], capture_output=True, text=True, env=environ, timeout=60)
    assert served.returncode == 2 and f"argument {flag}: must be" in served.stderr and "Traceback" not in served.stderr
    checked = subprocess.run([sys.executable, "-m", "mockidp", "world", "check", "mockidp/default_world.toml"], capture_output=True, text=True, env=environ, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert checked.returncode == 0, checked.stderr  # the other commands never read it
