"""Several event loops in one process (`MockIdpServer(threads=N)`, `mockidp serve --threads N`): connections are
spread over the loops, handlers run at the same time over one engine, and nothing a request leaves behind is lost
or doubled. The single-use races run against such a server too (tests/hardening/test_races.py)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockidp.engine import Engine
from mockidp.server import MockIdpServer

TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
CC = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}
CONNECTIONS, PER_CONNECTION = 40, 10


@pytest.fixture
def two_loops(two_loop_server: MockIdpServer) -> Iterator[MockIdpServer]:
    two_loop_server.engine.reset()
    yield two_loop_server
    two_loop_server.engine.reset()


def hammer(server: MockIdpServer, send: int = PER_CONNECTION) -> list[httpx.Response]:
    """CONNECTIONS keep-alive clients, each on its own thread, each sending `send` token requests."""
    verify = ssl.create_default_context(cafile=str(server.ca_bundle))
    out: list[httpx.Response] = []
    failures: list[BaseException] = []

    def client() -> None:
        try:
            with httpx.Client(base_url=server.url, verify=verify, timeout=30) as http:
                out.extend(http.post(TOKEN, data=CC) for _ in range(send))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures[:3]
    return out


def test_connections_are_spread_over_the_loops_and_every_request_is_journaled_once(two_loops: MockIdpServer) -> None:
    before = two_loops.requests_per_loop
    responses = hammer(two_loops)
    assert Counter(r.status_code for r in responses) == Counter({200: CONNECTIONS * PER_CONNECTION})
    served = [after - b for after, b in zip(two_loops.requests_per_loop, before, strict=True)]
    assert sum(served) == CONNECTIONS * PER_CONNECTION and all(served), served  # 40 connections: both loops got some
    entries = two_loops.engine.journal.entries(endpoint="token")
    assert len(entries) == CONNECTIONS * PER_CONNECTION
    assert len({e["seq"] for e in entries}) == len(entries)  # no sequence number handed out twice
    tokens = {r.json()["access_token"] for r in responses}
    assert len(tokens) == len(responses)  # every token its own (its own jti)
    assert not two_loops.engine.server_errors


def test_a_world_change_reaches_every_loop(two_loops: MockIdpServer) -> None:
    verify = ssl.create_default_context(cafile=str(two_loops.ca_bundle))
    new = {"grant_type": "client_credentials", "client_id": "added-client", "client_secret": "added-secret"}
    with httpx.Client(base_url=two_loops.url, verify=verify) as http:
        unknown = http.post(TOKEN, data=new)
        assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_client"), unknown.text
        added = http.post("/_mockidp/world/avaya/realms/demo-account/clients", json={"client_id": "added-client", "secret": "added-secret"})
        assert added.status_code in (200, 201), added.text
    # Fresh connections land on either loop: all of them must know the new client.
    codes: Counter[int] = Counter()
    for _ in range(20):
        with httpx.Client(base_url=two_loops.url, verify=verify) as http:
            codes[http.post(TOKEN, data=new).status_code] += 1
    assert codes == Counter({200: 20})


def test_threads_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MockIdpServer(Engine(state_dir=tmp_path), state_dir=tmp_path, threads=0)
    out = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "serve", "--threads", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--threads: must be a whole number of at least 1" in out.stderr


def test_sockets_bound_for_the_loops_are_closed_when_a_later_one_cannot_be() -> None:
    """Out of file descriptors after the first of three sockets: bind_all raises, and leaves nothing open behind it."""
    script = (
        "import os, resource\n"
        "from mockidp.server import bind_all\n"
        "before = len(os.listdir('/proc/self/fd'))\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (before + 1, before + 1))  # the listing's own fd is closed again\n"
        "try:\n"
        "    bind_all('127.0.0.1', 0, 3)\n"
        "except OSError as exc:\n"
        "    print('raised', exc.errno == 24, len(os.listdir('/proc/self/fd')) == before)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "raised True True", out.stdout + out.stderr
