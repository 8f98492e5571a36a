"""What the hardening tests share: every endpoint of every authority (enumerated, never listed by hand), values
from the default world to fill path parameters and forms with, and the table of error shapes per authority."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from mockidp.authorities.base import Endpoint
from mockidp.engine import Engine

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")
PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
SENT: Counter[str] = Counter()  # generated requests per test module, printed in the terminal summary


# --- error shapes: authority -> checker; (authority, endpoint-name pattern) overrides ----------------------------

def oauth_shape(body: Any) -> bool:
    """RFC 6749 §5.2: a JSON object with a string `error`."""
    return isinstance(body, dict) and isinstance(body.get("error"), str)


def aad_shape(body: Any) -> bool:
    """Entra / B2C: the AADSTS body, `error_codes` a list of numbers (shared/reference/entra.md)."""
    return oauth_shape(body) and isinstance(body.get("error_codes"), list) and "correlation_id" in body


def lumen_shape(body: Any) -> bool:
    return isinstance(body, dict) and {"reason", "message", "referenceError", "code"} <= set(body)


def camara_shape(body: Any) -> bool:
    """CAMARA's ErrorInfo (`status`, `code`, `message`) for the network APIs such as SIM swap."""
    return isinstance(body, dict) and {"status", "code", "message"} <= set(body)


def graph_shape(body: Any) -> bool:
    """Microsoft Graph's error (graph.microsoft.com/oidc/userinfo): `{"error": {"code", "message", ...}}`."""
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and {"code", "message"} <= set(body["error"])


def apim_shape(body: Any) -> bool:
    """Azure API Management's validate-jwt failure (and its 404): `statusCode` and `message`."""
    return isinstance(body, dict) and {"statusCode", "message"} <= set(body)


SHAPES: dict[str, Callable[[Any], bool]] = {
    "avaya": oauth_shape, "entra": aad_shape, "b2c": aad_shape, "lumen": lumen_shape, "opengateway": oauth_shape, "pfw": oauth_shape,
}
ENDPOINT_SHAPES: dict[tuple[str, str], Callable[[Any], bool]] = {
    # The gate answers validate-jwt's shape; a request the glue cannot even parse (bad query string) is answered
    # by the Entra authority before the gate runs, in the AADSTS shape.
    ("entra", "apim"): lambda body: apim_shape(body) or aad_shape(body),
    ("entra", "userinfo"): graph_shape,
    ("opengateway", "*sim*swap*"): camara_shape,
    ("opengateway", "*device*"): camara_shape,
}


def own_shape(endpoint: Endpoint) -> Callable[[Any], bool] | None:
    """An endpoint with its own error renderer (an API behind a gateway, Apigee's token route) has its own shape:
    the top-level keys that renderer puts on a sample error."""
    render = getattr(endpoint, "render_error", None)
    if render is None:
        return None
    from mockidp.errors import OAuthError

    sample = render(OAuthError("invalid_request", "sample", 400), None).json
    keys = set(sample) if isinstance(sample, dict) else set()
    return lambda body: isinstance(body, dict) and keys <= set(body)


def shape_for(authority: str, endpoint: Endpoint | str) -> Callable[[Any], bool]:
    name = endpoint if isinstance(endpoint, str) else endpoint.name
    for (auth, pattern), check in ENDPOINT_SHAPES.items():
        if auth == authority and fnmatch.fnmatchcase(name, pattern):
            return check
    own = None if isinstance(endpoint, str) else own_shape(endpoint)
    return own or SHAPES.get(authority, oauth_shape)


def glue_shape(body: Any) -> bool:
    """A path no route of the authority matched, or a method it does not take: the app-level JSON 404/405."""
    return isinstance(body, dict) and body.get("error") in ("not_found", "method_not_allowed")


def check_response(resp: httpx.Response, authority: str, endpoint: Endpoint | str, what: str) -> None:
    """Never a 5xx, never a traceback, and an error in the authority's own shape (or an HTML page / bare 401)."""
    text = resp.text
    assert resp.status_code < 500, f"{what} -> {resp.status_code}: {text[:500]}"
    assert not TRACEBACK.search(text), f"{what} leaked a traceback: {text[:500]}"
    if resp.status_code < 400 or resp.request.method == "HEAD":
        return
    ctype = resp.headers.get("content-type", "")
    if "json" in ctype:
        body = json.loads(text)
        # A path or method no route of this endpoint takes may fall to another route of the authority, or to the glue.
        other_route = resp.status_code in (404, 405) and (glue_shape(body) or SHAPES.get(authority, oauth_shape)(body))
        assert shape_for(authority, endpoint)(body) or other_route, (
            f"{what} -> {resp.status_code}: not {authority}'s error shape: {text[:300]}")
    elif "html" in ctype:
        assert "<html" in text.lower() or "<!doctype" in text.lower(), f"{what}: an HTML error without a page"
    else:
        assert resp.status_code == 401 and "www-authenticate" in resp.headers and not text, f"{what} -> {resp.status_code} {ctype!r}: {text[:200]}"


# --- endpoints and world values -------------------------------------------------------------------------------

def catalogue_engine() -> Engine:
    """An engine over the default world, only to enumerate endpoints and world values at collection time."""
    return Engine(state_dir=Path(tempfile.mkdtemp(prefix="mockidp-hardening-")))


def all_endpoints(engine: Engine) -> list[tuple[str, str, Endpoint]]:
    """(authority, prefix, endpoint) for every endpoint of every authority, as they land."""
    return [(a.name, a.prefix, ep) for a in engine.authorities.values() for ep in a.endpoints()]


def world_values(node: Any, field_name: str = "", out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Every string in the world, keyed by the field it sits in: `account_id`, `client_id`, `policies`, ..."""
    out = out if out is not None else {}
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            world_values(getattr(node, f.name), f.name, out)
    elif isinstance(node, dict):
        for k, v in node.items():
            out.setdefault("_keys", set()).add(str(k))
            world_values(v, field_name, out)
    elif isinstance(node, (list, tuple)):
        for v in node:
            world_values(v, field_name, out)
    elif isinstance(node, str) and len(node) < 200 and "-----" not in node:
        out.setdefault(field_name, set()).add(node)
    return out


# Which world fields name a path parameter. A parameter not listed here is filled from every world string.
PARAM_FIELDS = {
    "realm": ("account_id",), "tenant": ("tenant_id", "domains"), "domain": ("name", "tenant_id", "b2c_tenant"),
    "policy": ("policies", "b2c_policy"), "api": ("path",), "path": ("path",),
}


def path_values(values: dict[str, set[str]], param: str) -> list[str]:
    fields = PARAM_FIELDS.get(param)
    found = {v for f in fields for v in values.get(f, ())} if fields else set().union(*values.values())
    if param == "domain":
        found |= {v + ".onmicrosoft.com" for v in values.get("name", ())}
    if param == "tenant":
        found |= {"common", "organizations", "consumers"}
    return sorted(v.lstrip("/").replace("*", "x") for v in found if v)


def fill(path: str, params: dict[str, str]) -> str:
    return PARAM.sub(lambda m: params[m.group(1)], path)


def path_params(path: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in PARAM.finditer(path)]


def credential_pairs(engine: Engine) -> list[tuple[str, str]]:
    """(client id, secret) pairs of the world, for Basic headers that get past client authentication."""
    pairs: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        if dataclasses.is_dataclass(node):
            d = {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}
            cid = d.get("client_id") or d.get("app_id")
            secret = d.get("secret")
            if not isinstance(secret, str) and isinstance(d.get("secrets"), list) and d["secrets"]:
                secret = d["secrets"][0]
            if isinstance(cid, str) and isinstance(secret, str):
                pairs.append((cid, secret))
            for v in d.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(engine.world)
    return pairs


def demo_secrets(engine: Engine) -> set[str]:
    """Every secret and password of the world (for the never-logged checks)."""
    out: set[str] = set()

    def walk(node: Any) -> None:
        if dataclasses.is_dataclass(node):
            for f in dataclasses.fields(node):
                value = getattr(node, f.name)
                if f.name in ("secret", "password", "secrets"):
                    out.update([value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)])
                walk(value)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(engine.world)
    return {s for s in out if s}
