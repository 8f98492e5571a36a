"""`mockidp serve --workers N`: N processes on one port over one Redis, and the refusal without a shared store."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
from scaling_helpers import AVAYA, Replica, single_use_refresh

CLIENT = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}


def test_more_workers_than_one_need_a_shared_store(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "serve", "--port", "0", "--workers", "2"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == ["error: --workers 2 needs a shared store: add --store redis://HOST:6379/0 (or MOCKIDP_STORE)"]


def test_a_store_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    from redis_server import free_port

    done = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "serve", "--port", "0", "--store",
                           f"redis://127.0.0.1:{free_port()}/0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and "the state store at redis://127.0.0.1" in done.stderr


def leaf_certificate(port: int, context: ssl.SSLContext) -> bytes:
    """The server certificate a fresh connection sees: each worker process made its own under the one CA."""
    with socket.create_connection(("127.0.0.1", port)) as raw, context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return tls.getpeercert(binary_form=True) or b""


def test_two_workers_serve_one_port_as_one_mockidp(redis_server: Any, tmp_path: Path) -> None:
    served = Replica("workers", tmp_path, redis_server.url(), "--workers", "2")
    try:
        assert any(line.startswith("mockidp worker 2 serving on " + served.url) for line in served.lines), served.lines
        port = int(served.url.rsplit(":", 1)[1])
        certs = {leaf_certificate(port, served.ssl) for _ in range(40)}
        assert len(certs) == 2  # new connections reach both processes (the kernel spreads them: SO_REUSEPORT)
        single_use_refresh(served)
        tokens, jwks = [], []
        for _ in range(10):  # a fresh connection each: either worker
            with httpx.Client(base_url=served.url, verify=served.ssl) as http:
                tokens.append(http.post(AVAYA + "/token", data=CLIENT).json()["refresh_token"])
                jwks.append(http.get(AVAYA + "/certs").json())
        assert all(j == jwks[0] for j in jwks)  # one key set
        for refresh in tokens:  # each refresh token once, on whichever worker
            with httpx.Client(base_url=served.url, verify=served.ssl) as http:
                first = http.post(AVAYA + "/token", data={**CLIENT, "grant_type": "refresh_token", "refresh_token": refresh})
            with httpx.Client(base_url=served.url, verify=served.ssl) as http:
                again = http.post(AVAYA + "/token", data={**CLIENT, "grant_type": "refresh_token", "refresh_token": refresh})
            assert (first.status_code, again.status_code) == (200, 400)
            assert pyjwt.decode(first.json()["access_token"], options={"verify_signature": False})["azp"] == "demo-client"
    finally:
        served.stop()
