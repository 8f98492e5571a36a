"""The dashboard at /_mockidp/, for a person debugging a client: first what is waiting (CIBA and device requests
with Approve / Deny), the planned faults, the clock and the newest requests and control calls (parameters masked,
errors, redirects, every issued token decoded with readable dates, and which key signed it); below them the
authorities with their URLs and demo identities, and the world."""

from __future__ import annotations

import datetime
import json
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

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
    env.filters["when"] = utc
    return env


def utc(t: float) -> str:
    """An instant as a person reads it, in UTC (the engine clock's time, which a test may have moved)."""
    try:
        return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "out of range"


DATE_CLAIMS = ("iat", "nbf", "exp", "auth_time")


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
    dates = {k: utc(claims[k]) for k in DATE_CLAIMS if isinstance(claims.get(k), (int, float)) and not isinstance(claims.get(k), bool)}
    return {"header": header, "claims": claims, "signer": signer, "dates": dates}


def ciba_requests(engine: Engine) -> list[dict[str, Any]]:
    """Pending CIBA requests, when an authority of the world runs CIBA."""
    from mockidp.control.surface import Control, ControlError

    try:
        return Control(engine).ciba_requests("pending")
    except ControlError:
        return []


def device_requests(engine: Engine) -> list[dict[str, Any]]:
    from mockidp.control.surface import Control

    return Control(engine).device_requests()


def journal_view(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The newest requests and control calls, newest first, in one order (both take the journal's sequence)."""
    from mockidp.control.surface import Control

    requests = engine.journal.entries()[-limit:]
    actions = [{**a, "kind": "control"} for a in Control(engine).actions()[-limit:]]
    out = []
    for entry in sorted([*requests, *actions], key=lambda e: e["seq"], reverse=True)[:limit]:
        view = dict(entry)
        if view.get("kind") != "control":
            view["tokens"] = [decode_token(engine, t) for t in entry.get("issued", [])]
            location = entry.get("location")
            if location:
                view["redirect"] = {"to": location.split("?", 1)[0], "query": parse_qsl(urlsplit(location).query, keep_blank_values=True)}
        out.append(view)
    return out


def live(engine: Engine) -> dict[str, Any]:
    """What the live part of the page shows (refreshed every 2 s)."""
    clock = engine.clock.describe()
    return {"entries": journal_view(engine), "ciba": ciba_requests(engine), "devices": device_requests(engine),
            "faults": [f.as_dict() for f in engine.faults.pending()],
            "clock": {**clock, "date": utc(float(clock["now"]))}}


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
        html = _env().get_template("dashboard.html").render(authorities=authorities, world=world_as_dict(engine.world), **live(engine))
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    async def log_fragment(request: Request) -> Response:
        html = _env().get_template("dashboard_log.html").render(**live(engine))
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    return [Route("/_mockidp/", page), Route("/_mockidp", page), Route("/_mockidp/dashboard/live", log_fragment)]
