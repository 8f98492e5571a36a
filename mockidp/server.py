"""Run mockidp in a background thread: one uvicorn server on a pre-bound socket (port 0 by default), HTTPS
with the local CA unless told otherwise. Readiness is an event set when uvicorn has started, never a sleep."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Self

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mockidp.app import build_app
from mockidp.control.guard import ControlSettings
from mockidp.engine import Engine
from mockidp.tls import TlsFiles, parse_name, server_certificate


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
        return int(self._transport.get_write_buffer_size()) + sum(map(len, self._pending))

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

    def connection_made(self, transport: Any) -> None:
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]


STOP_GRACE = 1  # seconds a stopping server lets requests in flight (a planned delay, a held poll) finish


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ready: threading.Event, serving: Callable[[asyncio.AbstractEventLoop], None] | None = None) -> None:
        super().__init__(config)
        self.ready, self._serving = ready, serving

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self._serving is not None and self.started:
            self._serving(asyncio.get_running_loop())
        self.ready.set()


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when sock.proto says TCP
    # (asyncio/base_events.py _set_nodelay). Without it Nagle and delayed ACKs cost ~40 ms per response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def bind_all(host: str, port: int, count: int, reuse_port: bool = False) -> list[socket.socket]:
    """One listening socket per event loop. With several, each is its own SO_REUSEPORT socket on the same port, so
    that the kernel spreads new connections over the loops (one shared socket would let whichever loop wakes first
    accept a whole burst of connections). `reuse_port`: other processes bind the same port too (`--workers`)."""
    if count == 1:
        return [bind(host, port, reuse_port=reuse_port)]
    socks = [bind(host, port, reuse_port=True)]
    try:
        while len(socks) < count:
            socks.append(bind(host, socks[0].getsockname()[1], reuse_port=True))
    except BaseException:
        for sock in socks:  # none of the ones already bound is left listening
            sock.close()
        raise
    return socks


class BindError(OSError):
    """The listening socket could not be bound (the port is taken, or the host is not one of this machine's)."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.host, self.port, self.cause = host, port, cause


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
        threads: int = 1,
        allowed_hosts: Iterable[str] = (),
        control_token: str | None = None,
        tls_names: Iterable[str] = (),
        reuse_port: bool = False,
    ) -> None:
        """`threads` > 1 serves with that many event loops, each on its own thread, over one engine. A signature
        releases the GIL, so one loop's Python runs while another's token is signed: with 2 on 2 cores, ~1.5x the
        RS256 tokens/s of one; not for ES256, whose cheap signatures gain less than the GIL hand-offs cost
        (benchmarks/RESULTS.md). For load: control calls (world changes, reset) then run while other loops serve,
        so a request in flight may see the world from just before or just after a change.

        `tls_names` are more hostnames or addresses for the server certificate and the CA's name constraints, e.g.
        a compose service name (`mockidp`) that client containers use. `reuse_port`: bind with SO_REUSEPORT, so
        that worker processes over one shared store serve the same port (`mockidp serve --workers N`)."""
        if threads < 1:
            raise ValueError("threads must be at least 1")
        # The control plane (/_mockidp/) answers loopback names and the world's own names; `allowed_hosts` adds
        # others (a compose service name), and so does the address it is bound to. `control_token`: when set, the
        # control plane wants it as a bearer token (control/guard.py).
        bound = [] if host in ("0.0.0.0", "::", "") else [host]
        self.control = ControlSettings(tuple(dict.fromkeys([*allowed_hosts, *bound])), control_token)
        self.tls_names = [str(parse_name(n)) for n in tls_names]  # a bad name fails here, not at start()
        self.engine = engine or Engine(state_dir=state_dir)
        self.host, self.port, self.tls = host, port, tls
        self.state_dir = state_dir or self.engine.state_dir
        self.log_level = log_level
        self.threads = threads
        self.reuse_port = reuse_port
        self.tls_files: TlsFiles | None = None
        self._loops: list[tuple[_Server, threading.Thread]] = []
        self._errors: list[BaseException] = []

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ca_bundle(self) -> Path | None:
        return self.tls_files.ca_bundle if self.tls_files else None

    def start(self, timeout: float = 30) -> MockIdpServer:
        self._errors = []
        try:
            socks = bind_all(self.host, self.port, self.threads, self.reuse_port)
        except OSError as exc:
            raise BindError(self.host, self.port, exc) from exc
        self.port = socks[0].getsockname()[1]
        self.engine.base_url = self.url
        ssl: dict[str, str] = {}
        if self.tls:
            try:
                self.tls_files = server_certificate(self.state_dir / "ca", self.state_dir / "tls" / str(self.port),
                                                    [*all_hostnames(self.engine), *self.tls_names])
            except BaseException:
                for sock in socks:
                    sock.close()
                raise
            ssl = {"ssl_certfile": str(self.tls_files.server_pem)}
        for n, sock in enumerate(socks):
            # proxy_headers off: uvicorn would otherwise take X-Forwarded-For from any loopback peer as the client's
            # address; whether to trust it is the world's call (`[opengateway] trust_forwarded_for`), and issuers
            # read X-Forwarded-Proto/-Host themselves (app.external_base).
            # Always httptools (a dependency), never h11, whose 16 KiB limit on a request head would answer a large
            # bearer token with a bare 400 before the authority could judge it. One app per loop: nothing of
            # Starlette's is shared between loops, only the engine.
            config = uvicorn.Config(build_app(self.engine, self.control), http=CorkedHttpToolsProtocol, log_level=self.log_level,
                                    lifespan="off", access_log=False, proxy_headers=False, timeout_graceful_shutdown=STOP_GRACE, **ssl)  # type: ignore[arg-type]
            server = _Server(config, threading.Event(), self.engine.serving if n == 0 else None)  # background work: one loop
            name = f"mockidp:{self.port}" + (f":{n}" if self.threads > 1 else "")
            self._loops.append((server, threading.Thread(target=self._run, args=(server, sock), name=name, daemon=True)))
        for _, thread in self._loops:
            thread.start()
        deadline = time.monotonic() + timeout
        for server, _ in self._loops:
            if not server.ready.wait(max(0.0, deadline - time.monotonic())) or self._errors or not server.started:
                self.stop()
                raise RuntimeError(f"mockidp did not start on {self.url}: {self._errors[0] if self._errors else 'timed out'!r}")
        return self

    @property
    def requests_per_loop(self) -> list[int]:
        """Requests each event loop has served since start (one number per thread)."""
        return [server.server_state.total_requests for server, _ in self._loops]

    def _run(self, server: _Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:
            self._errors.append(exc)
        finally:
            server.ready.set()
            sock.close()

    def stop(self) -> None:
        for server, _ in self._loops:
            server.should_exit = True
        for _, thread in self._loops:
            if thread.ident is not None:
                thread.join(timeout=10)
        self._loops = []

    def serve_forever(self) -> None:
        """Block the calling thread until the server stops (Ctrl-C stops it)."""
        assert self._loops, "start() first"
        try:
            while alive := [thread for _, thread in self._loops if thread.is_alive()]:
                alive[0].join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
