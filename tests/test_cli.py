"""The command line, run as a user runs it: `mockidp serve` prints what a client needs and serves it."""

from __future__ import annotations

import argparse
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
    second, _lines = start([], tmp_path)
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

    keyset = next(i.keyset for i in Engine(state_dir=tmp_path).authority("avaya").issuers() if i.id == "demo-account")
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


def test_serve_prints_the_dashboard_url(served: list[str]) -> None:
    text = "\n".join(served)
    url = re.search(r"on (https://127\.0\.0\.1:\d+)", text).group(1)  # type: ignore[union-attr]
    dashboard = re.search(r"dashboard: (\S+)", text).group(1)  # type: ignore[union-attr]
    assert dashboard == url + "/_mockidp/"
    page = httpx.get(dashboard, verify=ssl.create_default_context(cafile=re.search(r"trust this\): (\S+)", text).group(1)))  # type: ignore[union-attr]
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_serve_on_a_port_in_use_is_one_line_naming_the_port(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: port {port} on 127.0.0.1 is already in use; choose another with --port (or MOCKIDP_PORT)"]
    assert "mockidp is ready" not in done.stdout


def test_serve_help_shows_every_default_and_its_variable(tmp_path: Path) -> None:
    from mockidp.cli import parser

    env = {**os.environ, "COLUMNS": "300", "MOCKIDP_PORT": "9444", "MOCKIDP_TLS_NAMES": "mockidp"}
    text = subprocess.run([sys.executable, "-m", "mockidp", "serve", "--help"], capture_output=True, text=True, env=env, check=True).stdout
    serve = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["serve"]
    flags = [a.option_strings[-1] for a in serve._actions if a.option_strings and a.dest != "help"]
    assert "--tls-name" in flags
    blocks = {block.split()[0]: " ".join(block.split()) for block in re.split(r"\n(?=  -)", text.split("options:", 1)[1]) if block.strip()}  # one per flag
    for flag in flags:  # a flag added later without its default and variable in its help fails here
        assert re.search(r"\(default: [^;]+; env MOCKIDP_[A-Z_]+", blocks[flag]), blocks[flag]
    assert "(default: 9444; env MOCKIDP_PORT)" in text and "(default: mockidp; env MOCKIDP_TLS_NAMES" in text
    assert "env MOCKIDP_STATE_DIR" in text


def test_tls_name_adds_a_permitted_name(tmp_path: Path) -> None:
    proc, lines = start(["--tls-name", "mockidp", "--tls-name", "idp.internal"], tmp_path)
    try:
        port = int(re.search(r"on https://127\.0\.0\.1:(\d+)", "\n".join(lines)).group(1))  # type: ignore[union-attr]
        context = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.pem"))
        import socket

        for name in ("mockidp", "idp.internal", "api.lumen.com"):
            with socket.create_connection(("127.0.0.1", port)) as raw, context.wrap_socket(raw, server_hostname=name):
                pass  # the handshake verified the chain and the name
    finally:
        proc.terminate()
        proc.wait(10)
    bad = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "serve", "--tls-name", "not a name"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "argument --tls-name: not a hostname or IP address: 'not a name'" in bad.stderr and "Traceback" not in bad.stderr
    env = {**os.environ, "MOCKIDP_TLS_NAMES": "mockidp,bad name"}
    bad = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "serve", "--port", "0"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: MOCKIDP_TLS_NAMES: not a hostname or IP address: 'bad name'"


def test_an_unconstrained_ca_in_the_state_dir_is_replaced_and_said_once(tmp_path: Path) -> None:
    import trustme

    (tmp_path / "ca").mkdir()
    old = trustme.CA()  # what mockidp made before name constraints
    old.cert_pem.write_to_path(str(tmp_path / "ca" / "ca.pem"))
    old.private_key_pem.write_to_path(str(tmp_path / "ca" / "ca.key.pem"))
    proc, lines = start([], tmp_path)
    proc.terminate()
    proc.wait(10)
    said = [line for line in lines if "replaced" in line]
    assert said == [f"mockidp replaced the CA {tmp_path / 'ca' / 'ca.pem'}: it has no name constraints (made by an older mockidp); clients must trust the new one"]
    proc, lines = start([], tmp_path)
    proc.terminate()
    proc.wait(10)
    assert not any("replaced" in line for line in lines)


def test_a_state_dir_that_cannot_hold_a_new_ca_is_one_line(tmp_path: Path) -> None:
    # Root may write anywhere, so a path taken by a directory stands in for a read-only mount.
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "ca.pem").write_text("an old CA")
    (tmp_path / "ca-issuer" / "issuer.key.pem").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "serve", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [(f"error: cannot write a new CA at {tmp_path / 'ca' / 'ca.pem'} to replace the one there (it could not "
                                                "be read as a certificate): Is a directory; choose another --state-dir (or MOCKIDP_STATE_DIR)")]
