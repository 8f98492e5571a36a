"""Run mockidp in a background thread: one uvicorn server on a pre-bound socket (port 0 by default), HTTPS
with the local CA unless told otherwise. Readiness is an event set when uvicorn has started, never a sleep."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mockidp.app import build_app
from mockidp.engine import Engine
from mockidp.tls import TlsFiles, server_certificate


class _IncompleteResponseFilter(logging.Filter):
    """A planned dropped connection is not an error worth a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_IncompleteResponseFilter())


class CorkedTransport:
    """A transport whose writes in one step of the event loop leave as one write. uvicorn writes a response's head
    and its body separately: over TLS that made two records and two send() calls for every token, which cost
    about 8 % of the tokens per second (benchmarks/RESULTS.md). Everything but writing is the wrapped transport's."""

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Iterable[bytes]) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():  # the peer left: nobody to write to, as uvicorn itself would judge
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a `CorkedTransport`."""

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when sock.proto says TCP
    # (asyncio/base_events.py _set_nodelay). Without it Nagle and delayed ACKs cost ~40 ms per response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def all_hostnames(engine: Engine) -> list[str]:
    names = [n for a in engine.authorities.values() for n in a.cert_hostnames]
    return names + list(engine.world.server.hostnames)


class MockIdpServer:
    """`with MockIdpServer() as idp:` serves the engine's authorities until the block ends."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        state_dir: Path | None = None,
        log_level: str = "warning",
    ) -> None:
        self.engine = engine or Engine(state_dir=state_dir)
        self.host, self.port, self.tls = host, port, tls
        self.state_dir = state_dir or self.engine.state_dir
        self.log_level = log_level
        self.tls_files: TlsFiles | None = None
        self._thread: threading.Thread | None = None
        self._server: _Server | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ca_bundle(self) -> Path | None:
        return self.tls_files.ca_bundle if self.tls_files else None

    def start(self, timeout: float = 30) -> MockIdpServer:
        sock = bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self.engine.base_url = self.url
        ssl: dict[str, str] = {}
        if self.tls:
            self.tls_files = server_certificate(self.state_dir / "ca", self.state_dir / "tls" / str(self.port), all_hostnames(self.engine))
            ssl = {"ssl_certfile": str(self.tls_files.server_pem)}
        # Always httptools (a dependency), never h11, whose 16 KiB limit on a request head would answer a large bearer
        # token with a bare 400 before the authority could judge it.
        config = uvicorn.Config(build_app(self.engine), http=CorkedHttpToolsProtocol, log_level=self.log_level,
                                lifespan="off", access_log=False, **ssl)  # type: ignore[arg-type]
        ready = threading.Event()
        self._server = _Server(config, ready)

        def run() -> None:
            try:
                assert self._server is not None
                self._server.run(sockets=[sock])
            except BaseException as exc:  # noqa: BLE001 - reported to the thread that waits
                self._error = exc
            finally:
                ready.set()
                sock.close()

        self._thread = threading.Thread(target=run, name=f"mockidp:{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or self._error is not None or not self._server.started:
            self.stop()
            raise RuntimeError(f"mockidp did not start on {self.url}: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def serve_forever(self) -> None:
        """Block the calling thread until the server stops (Ctrl-C stops it)."""
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def __enter__(self) -> MockIdpServer:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
