"""The HTTP face of the control surface, under /_mockidp/ (off every authority's paths)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mockidp.engine import Engine
from mockidp.faults import Fault
from mockidp.world import world_as_dict


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": "invalid_request", "error_description": message}, status)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def control_routes(engine: Engine) -> list[BaseRoute]:
    async def world(request: Request) -> Response:
        data = world_as_dict(engine.world)
        data["authorities"] = {
            a.name: {
                "title": a.title,
                "base_url": str(request.base_url).rstrip("/") + a.prefix,
                "issuers": [
                    {"id": i.id, "issuer": str(request.base_url).rstrip("/") + a.prefix + i.path, "jwks_uri": str(request.base_url).rstrip("/") + a.prefix + i.jwks_path}
                    for i in a.issuers()
                ],
            }
            for a in engine.authorities.values()
        }
        return JSONResponse(data)

    async def reset(request: Request) -> Response:
        engine.reset()
        return Response(status_code=204)

    async def journal(request: Request) -> Response:
        if request.method == "DELETE":
            engine.journal.clear()
            return Response(status_code=204)
        q = request.query_params
        return JSONResponse(engine.journal.entries(authority=q.get("authority"), endpoint=q.get("endpoint"), client_id=q.get("client_id")))

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json_body(request)
                if "advance" in body:
                    engine.clock.advance(float(body["advance"]))
                elif "set" in body:
                    engine.clock.set(float(body["set"]), frozen=bool(body.get("frozen", False)))
                elif body.get("reset"):
                    engine.clock.reset()
                else:
                    return _bad("give one of: advance (seconds), set (epoch seconds, optional frozen), reset")
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
        return JSONResponse(engine.clock.describe())

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json_body(request)
                names = {f.name for f in dataclasses.fields(Fault)} - {"id", "used"}
                unknown = set(body) - names
                if unknown:
                    return _bad(f"unknown fault field(s) {sorted(unknown)}; allowed: {sorted(names)}")
                if body.get("authority", "*") not in ("*", *engine.authorities):
                    return _bad(f"unknown authority {body['authority']!r}")
                fault = engine.faults.add(Fault(**body))
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
            return JSONResponse(fault.as_dict(), 201)
        if request.method == "DELETE":
            engine.faults.clear()
            return Response(status_code=204)
        return JSONResponse([f.as_dict() for f in engine.faults.pending()])

    async def server_errors(request: Request) -> Response:
        return JSONResponse(engine.server_errors)

    return [
        Route("/_mockidp/world", world),
        Route("/_mockidp/reset", reset, methods=["POST"]),
        Route("/_mockidp/journal", journal, methods=["GET", "DELETE"]),
        Route("/_mockidp/time", clock, methods=["GET", "POST"]),
        Route("/_mockidp/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_mockidp/server-errors", server_errors),
    ]
