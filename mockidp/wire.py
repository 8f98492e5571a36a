"""The HTTP wire around an endpoint, free of routing: form decoding, the external base URL a request was sent to,
who a request says it is, and a Reply as ASGI messages."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote

from starlette.types import Scope, Send

from mockidp import jsonbytes, tokens
from mockidp.errors import BadRequestBody
from mockidp.request import Reply, Request

if TYPE_CHECKING:
    from mockidp.engine import Engine

HOST = re.compile(r"(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]?\d{1,4}))?")


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
