"""Starlette glue: host routing, one Mount per authority, parse each request once, consult the fault plan,
call the handler, render errors in the authority's shape, journal the exchange."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import socket
import struct
import time
import traceback
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.convertors import Convertor
from starlette.requests import ClientDisconnect
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from mockidp.authorities.base import Authority, Endpoint
from mockidp.body import read_body
from mockidp.engine import Engine
from mockidp.errors import OAuthError, server_error
from mockidp.faults import Fault
from mockidp.journal import Entry, masked
from mockidp.logs import log_request
from mockidp.request import Reply, Request
from mockidp.store import StoreUnavailable
from mockidp.wire import claimed_client, external_base, parse_pairs, send_reply

if TYPE_CHECKING:
    from mockidp.control.guard import ControlSettings

log = logging.getLogger("mockidp")


class EndpointApp:
    """The ASGI app behind one authority endpoint."""

    def __init__(self, engine: Engine, authority: Authority, endpoint: Endpoint) -> None:
        self.engine, self.authority, self.endpoint = engine, authority, endpoint
        # An endpoint with its own wire format (an API behind the gateway) renders even the glue's errors itself.
        self.render_error = endpoint.render_error or authority.render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        req: Request | None = None
        fault: Fault | None = None
        try:
            self.engine.begin_request()  # a shared store: what other processes changed (one read; nothing in memory)
            req = await self.parse(scope, receive)
            params = dict(req.params)
            if client_id := claimed_client(req):
                params.setdefault("client_id", client_id)
            fault = self.engine.faults.take_for(self.authority.name, self.endpoint.name, params)
            if fault is not None and fault.delay:
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.reset_connection:
                self.record(scope, req, Reply(0, error="connection_reset"), fault, started)
                await self.reset_connection(send)
                return
            if fault is not None and fault.drop:
                self.record(scope, req, Reply(0, error="connection_dropped"), fault, started)
                await self.drop(send)
                return
            if fault is not None and (fault.status is not None or fault.error or fault.malformed):
                reply = self.fault_reply(fault, req)
            else:
                reply = await self.call(req)
        except ClientDisconnect:  # the client went away before its request was whole: nobody to answer, no error of ours
            self.record(scope, req, Reply(0, error="client_disconnected"), fault, started)
            return
        except OAuthError as err:
            reply = self.render_error(err, req)
        except StoreUnavailable as exc:  # Redis is away: RFC 6749 §5.2's temporarily_unavailable, in the vendor's shape
            log.warning("%s", exc)
            reply = self.render_error(OAuthError("temporarily_unavailable", "the state store is unavailable; retry later", 503,
                                                 headers={"retry-after": "1"}), req)
        except Exception:
            self.engine.record_server_error(traceback.format_exc())
            reply = self.render_error(server_error(), req)
        finally:
            self.engine.end_request()
        # Journal first: a client that got its answer may read the journal at once (no race with the send).
        self.record(scope, req, reply, fault, started)
        await send_reply(reply, send)

    async def call(self, req: Request) -> Reply:
        try:
            result = self.endpoint.handler(req)
            if inspect.isawaitable(result):
                result = await result
            return result
        except OAuthError as err:
            return self.render_error(err, req)

    async def parse(self, scope: Scope, receive: Receive) -> Request:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query, qdups = parse_pairs(scope.get("query_string", b""), "the query string")
        body = await read_body(receive, headers.get("content-length", ""))
        form: dict[str, str] = {}
        fdups: set[str] = set()
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if body and ctype == "application/x-www-form-urlencoded":
            form, fdups = parse_pairs(body, "the request body")
        client = scope.get("client") or ("", 0)
        path, root = scope["path"], scope.get("root_path", "")  # Mount keeps the full path and moves the prefix to root_path
        return Request(
            method=scope["method"],
            path=path[len(root):] if root and path.startswith(root) else path,
            base=external_base(scope, headers, self.engine, self.authority.prefix),
            headers=headers,
            query=query,
            form=form,
            duplicates=qdups | fdups,
            path_params={k: str(v) for k, v in scope.get("path_params", {}).items()},
            client_host=client[0],
            body=body,
        )

    def fault_reply(self, fault: Fault, req: Request) -> Reply:
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["retry-after"] = str(fault.retry_after)
        if fault.malformed:
            return Reply(fault.status or 200, text='{"access_token": "', headers={"content-type": "application/json", **headers})
        if fault.error:
            err = self.authority.named_error(fault.error, fault.error_description)
            if fault.status is not None:
                err.status = fault.status
            reply = self.render_error(err, req)
            reply.headers.update(headers)
            return reply
        status = fault.status or 500
        if isinstance(fault.body, (dict, list)):
            return Reply(status, json=fault.body, headers=headers)
        if fault.body is not None:
            return Reply(status, text=str(fault.body), headers=headers)
        return self.render_error(OAuthError("temporarily_unavailable", f"injected fault {fault.id}", status, headers=headers), req)

    @staticmethod
    async def drop(send: Send) -> None:
        # Promise a body, send a fragment, stop: the server closes the connection mid-response.
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b"{", "more_body": False})
        except Exception:
            log.debug("dropped connection as planned")

    @classmethod
    async def reset_connection(cls, send: Send) -> None:
        """Reset the TCP connection before any byte of a response (RST: SO_LINGER 0, then abort). ASGI has no
        message for it, so this reaches uvicorn's transport through its `send` (a bound method of the request
        cycle, uvicorn/protocols/http/httptools_impl.py RequestResponseCycle.transport). With no transport (the
        in-process transports) the response is cut as `drop` cuts it."""
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            await cls.drop(send)
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        # Let the loop deliver connection_lost, so uvicorn sees a disconnected client rather than an app that
        # "returned without starting response" (which it would log as an error and answer with a 500).
        for _ in range(10):
            if getattr(cycle, "disconnected", True):
                break
            await asyncio.sleep(0)

    def record(self, scope: Scope, req: Request | None, reply: Reply, fault: Fault | None, started: float) -> None:
        params = req.params if req else {}
        client_id = claimed_client(req) if req else None
        headers = {k: v for k, v in (req.headers if req else {}).items() if k in ("authorization", "content-type", "host", "user-agent", "x-customer-number", "x-billing-account-number", "cookie")}
        entry = Entry(
            seq=self.engine.journal.next_seq(),
            time=self.engine.clock.now(),
            authority=self.authority.name,
            endpoint=self.endpoint.name,
            method=scope["method"],
            path=scope["path"],
            status=reply.status if not (fault and (fault.drop or fault.reset_connection)) else 0,
            client_id=client_id,
            error=reply.error or (reply.json.get("error") if isinstance(reply.json, dict) and reply.status >= 400 else None),
            params=masked(params),
            headers=masked(headers),
            fault=fault.id if fault else None,
            issued=list(reply.issued),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            error_description=reply.json.get("error_description") if isinstance(reply.json, dict) and reply.status >= 400 else None,
            location=reply.headers.get("location") if 300 <= reply.status < 400 else None,
        )
        self.engine.journal.record(entry)
        log_request(vars(entry))


class EndpointRouter:
    """Authority endpoints straight to their app: the same matches, in the same order, as Starlette's
    Mount/Route would make (which walk every route with a regex), for the paths that must be cheap. A miss, a
    method the endpoint does not take, or any other path goes to Starlette, which answers 404/405/redirects."""

    def __init__(self, engine: Engine) -> None:
        # per authority prefix: its endpoints in route order, and the static paths no earlier route also matches
        self.routes: dict[str, list[tuple[re.Pattern[str], dict[str, Convertor[Any]], frozenset[str], EndpointApp]]] = {}
        self.static: dict[str, tuple[frozenset[str], EndpointApp]] = {}
        self.mounts: list[BaseRoute] = []  # the same endpoint apps as Starlette routes, for what falls through
        for authority in engine.authorities.values():
            table = self.routes.setdefault(authority.prefix, [])
            inner: list[BaseRoute] = []
            for ep in authority.endpoints():
                app = EndpointApp(engine, authority, ep)
                inner.append(Route(ep.path, app, methods=list(ep.methods), name=f"{authority.name}:{ep.name}"))
                full = authority.prefix + ep.path
                regex, _, convertors = compile_path(full)
                methods = frozenset(ep.methods) | ({"HEAD"} if "GET" in ep.methods else set())
                if not convertors and not any(r.match(full) for r, *_ in table):
                    self.static.setdefault(full, (methods, app))
                table.append((regex, convertors, methods, app))
            self.mounts.append(Mount(authority.prefix, routes=inner, name=authority.name))

    def find(self, scope: Scope) -> EndpointApp | None:
        path, method = scope["path"], scope["method"]
        hit = self.static.get(path)
        if hit is not None:
            return hit[1] if method in hit[0] else None
        second = path.find("/", 1)
        table = self.routes.get(path[:second] if second > 0 else path)
        for regex, convertors, methods, app in table or ():
            match = regex.match(path)
            if match is not None:
                if method not in methods:
                    return None  # Starlette may still find a later route for this method, or answer 405
                scope["path_params"] = {k: convertors[k].convert(v) for k, v in match.groupdict().items()}
                return app
        return None


class HostRouting:
    """Requests whose Host is an authority's real hostname are served at the root, as the real host serves them.
    Authority endpoints are then found by `EndpointRouter`; everything else is Starlette's."""

    def __init__(self, app: ASGIApp, engine: Engine, endpoints: EndpointRouter) -> None:
        self.app, self.engine, self.endpoints = app, engine, endpoints
        self.hosts = [(re.compile("|".join(f"(?:{p})" for p in a.host_patterns), re.IGNORECASE), a)
                      for a in engine.authorities.values() if a.host_patterns]
        self.prefixes = {a.prefix.strip("/") for a in engine.authorities.values()} | {"_mockidp", "healthz"}

    def root_segment(self, scope: Scope, path: str) -> Scope:
        """A path at the root whose first segment an authority claims (`Authority.claims_root_segment`) is served
        as under that authority's prefix, with root-form URLs, as a host-routed request is. Another authority's
        prefix is never claimed, so no root path shadows it."""
        segment = path[1:].split("/", 1)[0]
        if not segment or segment in self.prefixes:
            return scope
        for authority in self.engine.authorities.values():
            if authority.claims_root_segment(segment):
                scope = dict(scope, path=authority.prefix + path, raw_path=None)
                scope["mockidp.host_routed"] = True
                return scope
        return scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not path.startswith(("/_mockidp", "/healthz")):
            host = ""
            for k, v in scope.get("headers", []):
                if k in (b"x-forwarded-host", b"host"):
                    host = v.decode("latin-1").split(",")[0].strip()
                    if k == b"x-forwarded-host":
                        break
            hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host
            for pattern, authority in self.hosts:
                if pattern.fullmatch(hostname) and not path.startswith(authority.prefix + "/"):
                    scope = dict(scope, path=authority.prefix + path, raw_path=None)
                    scope["mockidp.host_routed"] = True
                    break
            else:
                scope = self.root_segment(scope, path)
            endpoint = self.endpoints.find(scope)
            if endpoint is not None:
                scope["root_path"] = scope.get("root_path", "") + endpoint.authority.prefix  # as Starlette's Mount
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SharedState:
    """Everything but the authority endpoints (the control plane, the dashboard, /healthz) first takes what other
    processes changed in a shared store; a store that is away answers 503 (so a health check fails over)."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app, self.engine = app, engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.engine.shared:
            await self.app(scope, receive, send)
            return
        try:
            self.engine.begin_request()
        except StoreUnavailable as exc:
            await store_unavailable(StarletteRequest(scope), exc)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.engine.end_request()


async def store_unavailable_handler(request: StarletteRequest, exc: Exception) -> Response:
    return store_unavailable(request, exc)


def store_unavailable(request: StarletteRequest, exc: Exception) -> Response:
    log.warning("%s", exc)
    return JSONResponse({"error": "temporarily_unavailable", "error_description": "the state store is unavailable; retry later"},
                        503, headers={"retry-after": "1"})


async def not_found(request: StarletteRequest, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    text = {404: "Not found", 405: "Method not allowed"}.get(status, "Error")
    return JSONResponse({"error": "not_found" if status == 404 else "method_not_allowed", "error_description": f"{text}: {request.method} {request.url.path}"}, status)


def build_app(engine: Engine, control: ControlSettings | None = None) -> ASGIApp:
    """`control`: who the control plane (/_mockidp/) answers besides loopback, and its token (control/guard.py)."""
    from mockidp.control.dashboard import dashboard_routes
    from mockidp.control.guard import ControlGuard, ControlSettings
    from mockidp.control.routes import control_routes

    async def healthz(request: StarletteRequest) -> Response:
        engine.store.ping()  # a shared store that hangs or is away: 503, so a load balancer fails over
        return JSONResponse({"status": "ok"})

    endpoints = EndpointRouter(engine)
    routes: list[BaseRoute] = [Route("/healthz", healthz), *control_routes(engine), *dashboard_routes(engine), *endpoints.mounts]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found, StoreUnavailable: store_unavailable_handler})
    app.state.engine = engine
    return HostRouting(SharedState(ControlGuard(app, engine, control or ControlSettings()), engine), engine, endpoints)


def asgi_app(engine: Engine | None = None) -> Any:
    """An ASGI app over a fresh (or given) engine, for `uvicorn mockidp.app:asgi_app --factory` and httpx transports.
    The control plane's extra hosts and token come from MOCKIDP_ALLOWED_HOSTS / MOCKIDP_CONTROL_TOKEN, as for serve."""
    from mockidp.control.guard import ControlSettings

    return build_app(engine or Engine(), ControlSettings.from_env())
