"""Starlette glue: host routing, one Mount per authority, parse each request once, consult the fault plan,
call the handler, render errors in the authority's shape, journal the exchange."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
import traceback
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.convertors import Convertor
from starlette.requests import ClientDisconnect
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from mockidp import jsonbytes, tokens
from mockidp.authorities.base import Authority, Endpoint
from mockidp.body import read_body
from mockidp.engine import Engine
from mockidp.errors import BadRequestBody, OAuthError, server_error
from mockidp.faults import Fault
from mockidp.journal import Entry, masked
from mockidp.request import Reply, Request

if TYPE_CHECKING:
    from mockidp.control.guard import ControlSettings

HOST = re.compile(r"(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]?\d{1,4}))?")
log = logging.getLogger("mockidp")


def parse_pairs(raw: bytes, what: str) -> tuple[dict[str, str], set[str]]:
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=1000)
    except UnicodeDecodeError as exc:
        raise BadRequestBody(f"{what} is not valid UTF-8") from exc
    except ValueError as exc:
        raise BadRequestBody(f"{what} is not valid application/x-www-form-urlencoded: {exc}") from exc
    out: dict[str, str] = {}
    dups: set[str] = set()
    for k, v in pairs:
        if k in out:
            dups.add(k)
        else:
            out[k] = v
    return out, dups


def external_base(scope: Scope, headers: dict[str, str], engine: Engine, prefix: str) -> str:
    if scope.get("mockidp.host_routed"):
        prefix = ""
    if engine.world.server.base_url:
        return engine.world.server.base_url.rstrip("/") + prefix
    scheme = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    scheme = scheme if scheme in ("http", "https") else scope.get("scheme", "http")
    # A Host that is no host[:port] would make an issuer URL nobody can parse (urlsplit raises): ignore it.
    forwarded = headers.get("x-forwarded-host", "").split(",")[0].strip()
    host = next((h for h in (forwarded, headers.get("host", "")) if HOST.fullmatch(h)), "")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = f"{server[0]}:{server[1]}" if server[1] else server[0]
    return f"{scheme}://{host}{prefix}"




def claimed_client(req: Request) -> str | None:
    """Who the request says it is, for the journal and fault matching (not authentication): `client_id`, the
    Basic user, or the `sub` of a `client_assertion` (RFC 7523 §3: sub is the client_id; private_key_jwt may omit
    client_id). The assertion is only read here; the authority verifies it."""
    if client_id := req.params.get("client_id") or (req.basic[0] if req.basic else None):
        return client_id
    assertion = req.params.get("client_assertion")
    if not assertion:
        return None
    try:
        sub = tokens.peek(assertion)[1].get("sub")
    except tokens.TokenInvalid:
        return None
    return sub if isinstance(sub, str) and sub else None


def header_value(value: str) -> bytes:
    """Latin-1 as HTTP carries it; a value with other characters (a Location built from a non-ASCII redirect URI)
    is percent-encoded as UTF-8, as a browser turns an IRI into a URI, rather than failing the response."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return quote(value, safe="!#$%&'()*+,/:;=?@[]~").encode("ascii")


async def send_reply(reply: Reply, send: Send) -> None:
    """The reply as ASGI messages, with the headers Starlette's Response would set (content-type, content-length)."""
    if reply.json is not None:
        body, media = jsonbytes.dumps(reply.json), b"application/json"
    elif reply.html is not None:
        body, media = reply.html.encode(), b"text/html; charset=utf-8"
    elif reply.text is not None:
        body, media = reply.text.encode(), b"text/plain; charset=utf-8"
    else:
        body, media = b"", None
    headers = [(k.lower().encode("latin-1"), header_value(v)) for k, v in reply.headers.items()]
    names = {k for k, _ in headers}
    if b"content-length" not in names and not (reply.status < 200 or reply.status in (204, 304)):
        headers.append((b"content-length", str(len(body)).encode()))
    if media is not None and b"content-type" not in names:
        headers.append((b"content-type", media))
    headers += [(k.lower().encode("latin-1"), header_value(v)) for k, v in reply.header_lines]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
            req = await self.parse(scope, receive)
            params = dict(req.params)
            if client_id := claimed_client(req):
                params.setdefault("client_id", client_id)
            fault = self.engine.faults.take_for(self.authority.name, self.endpoint.name, params)
            if fault is not None and fault.delay:
                await asyncio.sleep(fault.delay)
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
        except Exception:
            self.engine.record_server_error(traceback.format_exc())
            reply = self.render_error(server_error(), req)
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

    def record(self, scope: Scope, req: Request | None, reply: Reply, fault: Fault | None, started: float) -> None:
        params = req.params if req else {}
        client_id = claimed_client(req) if req else None
        headers = {k: v for k, v in (req.headers if req else {}).items() if k in ("authorization", "content-type", "host", "user-agent", "x-customer-number", "x-billing-account-number", "cookie")}
        self.engine.journal.record(
            Entry(
                seq=self.engine.journal.next_seq(),
                time=self.engine.clock.now(),
                authority=self.authority.name,
                endpoint=self.endpoint.name,
                method=scope["method"],
                path=scope["path"],
                status=reply.status if not (fault and fault.drop) else 0,
                client_id=client_id,
                error=reply.error or (reply.json.get("error") if isinstance(reply.json, dict) and reply.status >= 400 else None),
                params=masked(params),
                headers=masked(headers),
                fault=fault.id if fault else None,
                issued=list(reply.issued),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        )


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
            endpoint = self.endpoints.find(scope)
            if endpoint is not None:
                scope["root_path"] = scope.get("root_path", "") + endpoint.authority.prefix  # as Starlette's Mount
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
        return JSONResponse({"status": "ok"})

    endpoints = EndpointRouter(engine)
    routes: list[BaseRoute] = [Route("/healthz", healthz), *control_routes(engine), *dashboard_routes(engine), *endpoints.mounts]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.engine = engine
    return HostRouting(ControlGuard(app, engine, control or ControlSettings()), engine, endpoints)


def asgi_app(engine: Engine | None = None) -> Any:
    """An ASGI app over a fresh (or given) engine, for `uvicorn mockidp.app:asgi_app --factory` and httpx transports.
    The control plane's extra hosts and token come from MOCKIDP_ALLOWED_HOSTS / MOCKIDP_CONTROL_TOKEN, as for serve."""
    from mockidp.control.guard import ControlSettings

    return build_app(engine or Engine(), ControlSettings.from_env())
