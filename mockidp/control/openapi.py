"""The OpenAPI 3.1 description of the /_mockidp/ control endpoints (served at /_mockidp/openapi.json)."""

from __future__ import annotations

from typing import Any

from mockidp.control.surface import FORGERIES

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, *, body: dict[str, Any] | None = None, ok: int = 200, result: dict[str, Any] | None = None, params: list[str] = (), query: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    op: dict[str, Any] = {"summary": summary, "responses": {str(ok): {"description": "done"}, "400": {"description": "bad request", "content": {"application/json": {"schema": ERROR}}}}}
    if result is not None:
        op["responses"][str(ok)]["content"] = {"application/json": {"schema": result}}
    parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params]
    parameters += [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in query]
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    return op


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


S, INT, N, B = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
ANYOBJ = {"type": "object", "additionalProperties": True}

FAULT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "authority": S, "endpoint": S, "times": {"type": "integer", "minimum": 1}, "match": {"type": "object", "additionalProperties": S},
        "status": {"type": "integer", "minimum": 100, "maximum": 599}, "body": {}, "error": S, "error_description": S,
        "headers": {"type": "object", "additionalProperties": S}, "delay": {"type": "number", "minimum": 0, "maximum": 60},
        "drop": B, "reset_connection": B, "malformed": B, "retry_after": INT,
    },
}


GUARD = {  # what control/guard.py answers before any handler (docs/hardening.md, "Control plane")
    "401": "the control token is required (--control-token) and was not sent as Authorization: Bearer",
    "403": "the Origin header is not this server's own origin",
    "415": "a state change without Content-Type: application/json (even with an empty body)",
    "421": "the Host is not one mockidp serves (loopback, its real hostnames, --allowed-host)",
}


def _guarded(paths: dict[str, Any]) -> dict[str, Any]:
    for operations in paths.values():
        for method, op in operations.items():
            if method in ("post", "put", "patch", "delete"):
                op.setdefault("requestBody", {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}})
            for status, text in GUARD.items():
                op["responses"].setdefault(status, {"description": text, "content": {"application/json": {"schema": ERROR}}})
    return paths


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "mockidp control surface", "version": "1", "description": "Control a running mockidp from tests in any language. Every state change "
                 "sends Content-Type: application/json; a browser page on another origin is refused."},
        "paths": _guarded({
            "/_mockidp/world": {"get": _op("The world in force, with each authority's URLs (secrets included: it is a mock)", result=ANYOBJ)},
            "/_mockidp/world/{path}": {
                "get": _op("Read a part of the world, e.g. avaya/realms/demo-account/clients", params=["path"]),
                "post": _op("Add or replace one item of a world list (validated like a world file); avaya/realms also takes a Keycloak realm export, and its answer then lists what was ignored", body=ANYOBJ, ok=201, params=["path"]),
                "delete": _op("Remove one item of a world list, e.g. avaya/realms/demo-account/users/demo-agent", ok=204, params=["path"]),
                "patch": _op("Change settings of a world section (its single-valued fields), e.g. opengateway {\"camara_version\": \"v1\"}; answers the section's settings", body=ANYOBJ, params=["path"]),
            },
            "/_mockidp/reset": {"post": _op("Back to the loaded world: time, state, journal, faults, claims, keys", ok=204)},
            "/_mockidp/journal": {
                "get": _op("Recorded requests, secrets masked", query=["authority", "endpoint", "client_id"], result={"type": "array", "items": ANYOBJ}),
                "delete": _op("Clear the journal", ok=204),
            },
            "/_mockidp/time": {
                "get": _op("The server clock", result=_obj(now=N, offset=N, frozen=B)),
                "post": _op("Move the clock: {advance: seconds} | {set: epoch, frozen: bool} | {reset: true}", body=_obj(advance=N, set=N, frozen=B, reset=B)),
            },
            "/_mockidp/faults": {
                "get": _op("Planned faults, in the order they will be consumed", result={"type": "array", "items": FAULT}),
                "post": _op("Plan a fault for the next matching request(s)", body=FAULT, ok=201),
                "delete": _op("Forget every planned fault", ok=204),
            },
            "/_mockidp/faults/{fault_id}": {"delete": _op("Forget one planned fault", ok=204, params=["fault_id"])},
            "/_mockidp/claims": {
                "get": _op("Planned claims"),
                "post": _op("Extra or overriding claims for the next token(s) of a client (times: null = all)", body=_obj(claims=ANYOBJ, authority=S, client_id=S, times={"type": ["integer", "null"]}), ok=201),
                "delete": _op("Forget every planned claim", ok=204),
            },
            "/_mockidp/keys/{authority}/{action}": {
                "post": _op("rotate: a new active key, the old one still published; retire: unpublish old keys (or one kid)", body=_obj(issuer=S, kid=S), params=["authority", "action"]),
            },
            "/_mockidp/tokens/{authority}": {
                "post": _op("Mint a token, or a deliberately bad one, for testing your own resource server",
                            body=_obj(claims=ANYOBJ, issuer=S, variant={"type": "string", "enum": list(FORGERIES)}, base_url=S), ok=201,
                            params=["authority"], result=_obj(token=S, variant=S)),
            },
            "/_mockidp/ciba": {"get": _op("Open Gateway CIBA requests (?state=pending|granted|denied|expired|redeemed)", query=["state"], result={"type": "array", "items": ANYOBJ})},
            "/_mockidp/ciba/subscribers": {
                "post": _op("Answer every future request of a subscriber: {login_hint, decision: grant|deny|expire|never|null}", body=_obj(login_hint=S, decision={"type": ["string", "null"]}), ok=204),
            },
            "/_mockidp/ciba/{auth_req_id}/{action}": {
                "post": _op("The subscriber's out-of-band consent for one pending request: action approve|deny|expire", params=["auth_req_id", "action"]),
            },
            "/_mockidp/device": {"get": _op("Pending device authorization requests (RFC 8628) of every authority, oldest first", result={"type": "array", "items": ANYOBJ})},
            "/_mockidp/device/{user_code}/{action}": {
                "post": _op("The person at the verification page: action approve (as {user}, default the authority's first demo user) | deny", body=_obj(user=S), params=["user_code", "action"]),
            },
            "/_mockidp/server-errors": {"get": _op("Tracebacks of unhandled errors since the last reset (should be empty)")},
            "/_mockidp/openapi.json": {"get": _op("This document")},
        }),
        "components": {"schemas": {"Error": _obj(error=S, error_description=S)}},
    }
