"""A real redis-server on a free loopback port, for the Redis store's tests (tests/core/test_store_contract.py) and
the cross-process tests (tests/scaling). `./run test` installs Debian's redis-server; without one (a machine where
nobody could apt-get it) those tests are skipped and say why, except in CI, where a missing server fails them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest


def redis_binary() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else None)
    if found is None:
        reason = "redis-server is not installed (./run test installs Debian's redis-server when run as root)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process: no persistence, loopback only; stop() and start() again on the same port (a Redis
    that goes away and comes back)."""

    def __init__(self, workdir: Path) -> None:
        self.binary, self.port, self.workdir = redis_binary(), free_port(), workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, prefix: str | None = None) -> str:
        return f"redis://127.0.0.1:{self.port}/0?prefix={prefix or 'test-' + uuid.uuid4().hex[:8]}"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                      "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
