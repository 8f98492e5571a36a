"""The dashboard at /_mockidp/: authorities and their URLs, the world, a live request log with every issued
token decoded (and which key signed it), pending CIBA requests with Approve / Deny, and the fault plan."""

from __future__ import annotations

import datetime
import json
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from mockidp.engine import Engine
from mockidp.tokens import TokenInvalid, peek
from mockidp.world import world_as_dict


@cache
def _env() -> Environment:
    env = Environment(loader=PackageLoader("mockidp", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=False, default=str)
    env.filters["when"] = lambda t: datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%H:%M:%S")
    return env


def decode_token(engine: Engine, token: str) -> dict[str, Any]:
    """Header and claims of a token, and which authority's issuer key (by kid) signed it."""
    try:
        header, claims = peek(token)
    except TokenInvalid:
        return {"opaque": token[:24] + "…"}
    signer = "unknown key"
    for authority in engine.authorities.values():
        for issuer in authority.issuers():
            if issuer.keyset.find(header.get("kid")) is not None:
                signer = f"{authority.name} / {issuer.id} (kid {header.get('kid')})"
    if header.get("alg", "").startswith("HS"):
        signer = f"HMAC ({header['alg']}): an opaque refresh token"
    return {"header": header, "claims": claims, "signer": signer}


def ciba_requests(engine: Engine) -> list[dict[str, Any]]:
    """Pending CIBA requests, when an authority of the world runs CIBA."""
    from mockidp.control.surface import Control, ControlError

    try:
        return Control(engine).ciba_requests("pending")
    except ControlError:
        return []


def journal_view(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    entries = engine.journal.entries()[-limit:]
    out = []
    for entry in reversed(entries):
        view = dict(entry)
        view["tokens"] = [decode_token(engine, t) for t in entry.get("issued", [])]
        out.append(view)
    return out


def dashboard_routes(engine: Engine) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        root = str(request.base_url).rstrip("/")
        authorities = [
            {"name": a.name, "title": a.title, "base": root + a.prefix,
             "issuers": [{"id": i.id, "issuer": root + a.prefix + i.path, "jwks": root + a.prefix + i.jwks_path,
                          "discovery": root + a.prefix + i.discovery_path if i.discovery_path else None} for i in a.issuers()],
             "demo": a.demo_lines()}
            for a in engine.authorities.values()
        ]
        html = _env().get_template("dashboard.html").render(
            authorities=authorities, world=world_as_dict(engine.world), entries=journal_view(engine), ciba=ciba_requests(engine),
            faults=[f.as_dict() for f in engine.faults.pending()], clock=engine.clock.describe(),
        )
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    async def log_fragment(request: Request) -> Response:
        html = _env().get_template("dashboard_log.html").render(entries=journal_view(engine), ciba=ciba_requests(engine), faults=[f.as_dict() for f in engine.faults.pending()])
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    return [Route("/_mockidp/", page), Route("/_mockidp", page), Route("/_mockidp/dashboard/live", log_fragment)]
