"""A bounded soak on loopback: 20 threads send a mix of requests across the landed authorities to a dedicated
server whose journal holds them all. No answer that was not planned, the journal counts exactly what was sent,
and the process's memory stays flat after a warm-up. Bounded in count and in time (SOAK_SECONDS)."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hardening.support import CI
from mockidp.engine import Engine
from mockidp.server import MockIdpServer
from mockidp.world import load_world

THREADS = 20
PER_THREAD = 15 if CI else 25  # requests per thread and phase
SOAK_SECONDS = 20
AVAYA = "/avaya/auth/realms/demo-account/protocol/openid-connect"
ENTRA = "/entra/11111111-1111-1111-1111-111111111111"
LUMEN_APP = {"client_id": "55555555-5555-5555-5555-555555555555", "client_secret": "demo-b2c-secret"}

# (method, path, form, expected status): the planned outcome of each request of the mix.
MIX: list[tuple[str, str, dict[str, str] | None, int]] = [
    ("POST", AVAYA + "/token", {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}, 200),
    ("POST", AVAYA + "/token", {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "wrong"}, 401),
    ("GET", AVAYA + "/certs", None, 200),
    ("POST", ENTRA + "/oauth2/v2.0/token", {"grant_type": "client_credentials", "client_id": "22222222-2222-2222-2222-222222222222",
                                            "client_secret": "demo-app-secret", "scope": "api://fivedegrees-demo-api/.default"}, 200),
    ("GET", ENTRA + "/v2.0/.well-known/openid-configuration", None, 200),
    ("POST", "/b2c/lumendemo.onmicrosoft.com/B2C_1_client_credentials/oauth2/v2.0/token",
     {"grant_type": "client_credentials", "scope": "https://lumendemo.onmicrosoft.com/liam/.default", **LUMEN_APP}, 200),
    ("POST", "/lumen/oauth/v2/token", {"grant_type": "client_credentials", **LUMEN_APP}, 200),
    ("GET", "/opengateway/apigateway/jwks", None, 200),
]


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def soak_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockIdpServer]:
    world = load_world()
    world.server.journal_size = 1_000_000
    state = tmp_path_factory.mktemp("soak")
    with MockIdpServer(Engine(world, state_dir=state), state_dir=state) as server:
        yield server


def phase(server: MockIdpServer, deadline: float) -> tuple[int, Counter[str]]:
    """THREADS threads, PER_THREAD requests each, the mix in turn. Returns (sent, unplanned outcomes)."""
    import ssl

    ctx = ssl.create_default_context(cafile=str(server.ca_bundle))
    sent, unplanned = [0] * THREADS, Counter[str]()
    lock = threading.Lock()

    def run(i: int) -> None:
        with httpx.Client(base_url=server.url, verify=ctx, timeout=15) as client:
            for n in range(PER_THREAD):
                if time.monotonic() > deadline:
                    return
                method, path, form, status = MIX[(i + n) % len(MIX)]
                try:
                    resp = client.request(method, path, data=form)
                    got = str(resp.status_code)
                except httpx.HTTPError as exc:
                    got = type(exc).__name__
                sent[i] += 1
                if got != str(status):
                    with lock:
                        unplanned[f"{method} {path} -> {got}"] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SOAK_SECONDS + 30)
    return sum(sent), unplanned


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS is read from /proc")
def test_soak_answers_as_planned_journals_everything_and_keeps_memory_flat(soak_server: MockIdpServer) -> None:
    engine = soak_server.engine
    deadline = time.monotonic() + SOAK_SECONDS
    measured: list[int] = []
    for n in range(4):  # warm-up, then three measured phases
        engine.journal.clear()
        sent, unplanned = phase(soak_server, deadline)
        assert not unplanned, unplanned
        assert not engine.server_errors, engine.server_errors[-1]
        assert len(engine.journal.entries()) == sent, (len(engine.journal.entries()), sent)
        # Sessions, refresh tokens and used jtis live in the store until they expire (Keycloak keeps its sessions
        # too): move the clock past every lifetime so the store's sweep may drop them, as time does in a long run.
        engine.clock.advance(10_000)
        if n:
            measured.append(rss_bytes())
    assert time.monotonic() < deadline + 5, "the soak overran its time box"
    growth = measured[-1] - measured[0]
    assert growth < 16 * 1024 * 1024, f"RSS grew by {growth / 2**20:.1f} MiB over two phases after warm-up: {[m // 2**20 for m in measured]} MiB"
    if os.environ.get("MOCKIDP_SOAK_REPORT"):
        print(f"soak: {THREADS}x{PER_THREAD} requests per phase; RSS {[m // 2**20 for m in measured]} MiB")
