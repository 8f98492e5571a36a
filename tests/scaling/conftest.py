"""Two `mockidp serve` processes on one real Redis (tests/redis_server.py), started once per module: A and B.
Clients reach the authorities as through one load balancer (X-Forwarded-Host names one public host, so both
replicas' issuers are the same), and each replica's control plane directly."""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

PUBLIC = "idp.example.test:8443"  # the address clients use, as a load balancer in front of the replicas would pass it on
FORWARDED = {"x-forwarded-host": PUBLIC, "x-forwarded-proto": "https"}


class Replica:
    def __init__(self, name: str, state_dir: Path, store: str, *extra: str) -> None:
        self.name = name
        self.proc = subprocess.Popen([sys.executable, "-m", "mockidp", "--state-dir", str(state_dir), "serve", "--port", "0", "--store", store,
                                      "--log-level", "warning", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("mockidp is ready"):
                break
        else:
            raise AssertionError(f"replica {name} exited early:\n" + "\n".join(self.lines))
        text = "\n".join(self.lines)
        self.url = re.search(r"on (https://127\.0\.0\.1:\d+)", text).group(1)  # type: ignore[union-attr]
        self.ssl = ssl.create_default_context(cafile=str(state_dir / "ca" / "ca.pem"))
        # Keep reading its output (warnings), so a full pipe never blocks it.
        threading.Thread(target=lambda: [self.lines.append(x.rstrip()) for x in self.proc.stdout or ()], daemon=True).start()

    def http(self, **kwargs: Any) -> httpx.Client:
        """A client of the authorities, as through the load balancer."""
        return httpx.Client(base_url=self.url, verify=self.ssl, headers=FORWARDED, timeout=kwargs.pop("timeout", 10), **kwargs)

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ssl, timeout=10)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def replicas(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Replica, Replica]]:
    state = tmp_path_factory.mktemp("replicas")  # one state dir: one CA, as one deployment's replicas share
    store = redis_server.url()
    a = Replica("A", state, store)
    b = Replica("B", state, store)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
def pair(replicas: tuple[Replica, Replica]) -> Iterator[tuple[Replica, Replica]]:
    """A and B, reset (through A: B follows) before and checked for server errors after each test."""
    a, b = replicas
    with a.control() as ctl:
        assert ctl.post("/_mockidp/reset", json={}).status_code in (200, 204)
    yield a, b
    with b.control() as ctl:
        errors = ctl.get("/_mockidp/server-errors").json()
    assert errors == [], errors
