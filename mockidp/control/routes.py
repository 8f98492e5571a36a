"""The control surface, HTTP face: /_mockidp/... endpoints (off every authority's paths) over `Control`,
for tests in any language and the docker-compose stand-in. Documented at /_mockidp/openapi.json."""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mockidp import jsonbytes
from mockidp.body import read_body
from mockidp.control.openapi import openapi_document
from mockidp.control.surface import FORGERIES, Control, ControlError
from mockidp.engine import Engine
from mockidp.errors import BadRequestBody

Handler = Callable[[Request], Awaitable[Response]]


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object, its size bounded while it is read and its nesting before it is parsed."""
    try:
        raw = await read_body(request.receive, request.headers.get("content-length", ""))
    except BadRequestBody as exc:
        raise ControlError(exc.description or "the body cannot be read", exc.status) from exc
    if not raw.strip():
        return {}
    try:
        return jsonbytes.loads_object(raw)
    except jsonbytes.JsonRefused as exc:
        raise ControlError(str(exc)) from exc


def control_routes(engine: Engine) -> list[BaseRoute]:
    control = Control(engine)

    def guarded(handler: Handler) -> Handler:
        """Control errors (and wrong value types) become a JSON 4xx; anything else is mockidp's own bug, recorded
        in server-errors like an authority's, so the test that caused it fails (the plugin's teardown check)."""

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except ControlError as exc:
                return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, exc.status)
            except (TypeError, ValueError, KeyError) as exc:
                return JSONResponse({"error": "invalid_request", "error_description": f"{type(exc).__name__}: {exc}"}, 400)
            except ClientDisconnect:
                return Response(status_code=400)  # nobody is left to read it
            except Exception:
                engine.record_server_error(traceback.format_exc())
                return JSONResponse({"error": "server_error", "error_description": "mockidp hit an internal error; see /_mockidp/server-errors"}, 500)

        return run

    async def world(request: Request) -> Response:
        data = control.world()
        root = str(request.base_url).rstrip("/")
        data["authorities"] = {
            a.name: {
                "title": a.title,
                "base_url": root + a.prefix,
                "issuers": [
                    {
                        "id": i.id,
                        "issuer": root + a.prefix + i.path,
                        "jwks_uri": root + a.prefix + i.jwks_path,
                        "discovery": root + a.prefix + i.discovery_path if i.discovery_path else None,
                        "token_endpoint": root + a.prefix + i.token_path if i.token_path else None,
                    }
                    for i in a.issuers()
                ],
            }
            for a in engine.authorities.values()
        }
        return JSONResponse(data)

    async def world_part(request: Request) -> Response:
        path = request.path_params["path"]
        if request.method == "POST":
            added = control.world_add(path, await json_body(request))
            # A new realm or tenant has a key set no file holds yet: make it now, on a worker thread, rather than on
            # the event loop at its first request.
            await anyio.to_thread.run_sync(lambda: [a.issuers() for a in engine.authorities.values()])
            return JSONResponse(added, 201)
        if request.method == "DELETE":
            control.world_remove(path)
            return Response(status_code=204)
        if request.method == "PATCH":
            return JSONResponse(control.world_settings(path, await json_body(request)))
        return JSONResponse(control.world_get(path))

    async def reset(request: Request) -> Response:
        control.reset()
        return Response(status_code=204)

    async def journal(request: Request) -> Response:
        if request.method == "DELETE":
            control.clear_journal()
            return Response(status_code=204)
        q = request.query_params
        return JSONResponse(control.journal(authority=q.get("authority"), endpoint=q.get("endpoint"), client_id=q.get("client_id")))

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await json_body(request)
            if "advance" in body:
                return JSONResponse(control.advance(body["advance"]))
            if "set" in body:
                return JSONResponse(control.set_time(body["set"], bool(body.get("frozen", False))))
            if body.get("reset"):
                return JSONResponse(control.reset_time())
            raise ControlError("give one of: advance (seconds), set (epoch seconds, optional frozen), reset")
        return JSONResponse(control.time())

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            return JSONResponse(control.add_fault(**await json_body(request)).as_dict(), 201)
        if request.method == "DELETE":
            control.clear_faults()
            return Response(status_code=204)
        return JSONResponse(control.faults())

    async def fault(request: Request) -> Response:
        control.remove_fault(request.path_params["fault_id"])
        return Response(status_code=204)

    async def claims(request: Request) -> Response:
        if request.method == "POST":
            body = await json_body(request)
            plan = control.add_claims(body.pop("claims", None), **body)
            return JSONResponse(plan.as_dict(), 201)
        if request.method == "DELETE":
            control.clear_claims()
            return Response(status_code=204)
        return JSONResponse(control.claims())

    async def keys(request: Request) -> Response:
        body = await json_body(request)
        authority, action = request.path_params["authority"], request.path_params["action"]
        if action == "rotate":
            keyset = control.keyset(authority, body.get("issuer"))
            new_key = await anyio.to_thread.run_sync(keyset.new_key)  # generating a key would stall every request
            return JSONResponse(control.rotate_key(authority, body.get("issuer"), new_key))
        if action == "retire":
            return JSONResponse(control.retire_keys(authority, body.get("issuer"), body.get("kid")))
        raise ControlError("action is rotate or retire", 404)

    async def tokens(request: Request) -> Response:
        body = await json_body(request)
        authority = request.path_params["authority"]
        base = str(request.base_url).rstrip("/") + (engine.authority(authority).prefix if authority in engine.authorities else "")
        # On a worker thread: the unknown_key variant generates a key.
        token = await anyio.to_thread.run_sync(lambda: control.forge(authority, body.get("claims"), body.get("issuer"), body.get("variant", "valid"), base=body.get("base_url") or base))
        return JSONResponse({"token": token, "variant": body.get("variant", "valid"), "variants": list(FORGERIES)}, 201)

    async def ciba(request: Request) -> Response:
        return JSONResponse(control.ciba_requests(request.query_params.get("state")))

    async def ciba_decide(request: Request) -> Response:
        return JSONResponse(control.ciba_decide(request.path_params["auth_req_id"], request.path_params["action"]))

    async def ciba_subscriber(request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body.get("login_hint"), str):
            raise ControlError("login_hint is required")
        control.ciba_subscriber(body["login_hint"], body.get("decision"))
        return Response(status_code=204)

    async def devices(request: Request) -> Response:
        return JSONResponse(control.device_requests())

    async def device_decide(request: Request) -> Response:
        body = await json_body(request)
        return JSONResponse(control.device_decide(request.path_params["user_code"], request.path_params["action"], body.get("user")))

    async def server_errors(request: Request) -> Response:
        return JSONResponse(control.server_errors())

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    routes = [
        ("/_mockidp/world", world, ["GET"]),
        ("/_mockidp/world/{path:path}", world_part, ["GET", "POST", "PATCH", "DELETE"]),
        ("/_mockidp/reset", reset, ["POST"]),
        ("/_mockidp/journal", journal, ["GET", "DELETE"]),
        ("/_mockidp/time", clock, ["GET", "POST"]),
        ("/_mockidp/faults", faults, ["GET", "POST", "DELETE"]),
        ("/_mockidp/faults/{fault_id}", fault, ["DELETE"]),
        ("/_mockidp/claims", claims, ["GET", "POST", "DELETE"]),
        ("/_mockidp/keys/{authority}/{action}", keys, ["POST"]),
        ("/_mockidp/tokens/{authority}", tokens, ["POST"]),
        ("/_mockidp/ciba", ciba, ["GET"]),
        ("/_mockidp/ciba/subscribers", ciba_subscriber, ["POST"]),
        ("/_mockidp/ciba/{auth_req_id}/{action}", ciba_decide, ["POST"]),
        ("/_mockidp/device", devices, ["GET"]),
        ("/_mockidp/device/{user_code}/{action}", device_decide, ["POST"]),
        ("/_mockidp/server-errors", server_errors, ["GET"]),
        ("/_mockidp/openapi.json", openapi, ["GET"]),
    ]
    return [Route(path, guarded(handler), methods=methods) for path, handler, methods in routes]
