"""The control plane's front door: what every request under /_mockidp/ (the control API and the dashboard) must
pass before a handler sees it. mockidp runs on laptops with a browser open, so a page on any other origin, or one
that rebinds its own DNS name to 127.0.0.1, must not be able to read the world or change it.

- Host: one mockidp serves (DNS rebinding sends the attacker's own name) -> 421 otherwise.
- Origin, when present: the server's own -> 403 otherwise (a cross-origin fetch or form always carries it).
- the control token, when one is configured -> 401 otherwise.
- a state change (POST/PUT/PATCH/DELETE) carries Content-Type: application/json -> 415 otherwise: a page on another
  origin can send a "simple" request (text/plain, a form) without a CORS preflight, but not this; and no preflight
  is ever granted (no Access-Control-Allow-* header is sent anywhere), so a foreign page never gets to send it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from mockidp import jsonbytes
from mockidp.engine import Engine

PREFIX = "/_mockidp"
COOKIE = "mockidp_control"  # set by the dashboard from ?token=..., so the browser's own fetches carry the token
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~+/-]{16,}")
LOOPBACK_NAMES = ("localhost",)  # and any name under .localhost (RFC 6761 §6.3: always the loopback address)


@dataclass(frozen=True)
class ControlSettings:
    """`allowed_hosts`: names beyond the built-in ones (compose service names); `token`: None = no token needed."""

    allowed_hosts: tuple[str, ...] = ()
    token: str | None = None

    def __post_init__(self) -> None:
        # A token travels in a header and a cookie: RFC 6750's b64token characters only, and long enough to matter.
        if self.token is not None and not TOKEN_CHARS.fullmatch(self.token):
            raise ValueError("the control token must be 16 or more of the characters A-Z a-z 0-9 - . _ ~ + /")

    @classmethod
    def from_env(cls, allowed_hosts: Iterable[str] = (), token: str | None = None) -> ControlSettings:
        """Flags first, then MOCKIDP_ALLOWED_HOSTS (comma-separated) and MOCKIDP_CONTROL_TOKEN."""
        env_hosts = [h.strip() for h in os.environ.get("MOCKIDP_ALLOWED_HOSTS", "").split(",") if h.strip()]
        return cls(tuple(dict.fromkeys([*allowed_hosts, *env_hosts])), token or os.environ.get("MOCKIDP_CONTROL_TOKEN") or None)


def split_host(host: str) -> tuple[str, str]:
    """'Example:8443' -> ('example', '8443'); '[::1]:8443' -> ('::1', '8443')."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else ""
    name, _, port = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name.rstrip("."), port


def is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _wildcard(pattern: str) -> re.Pattern[str]:
    """A certificate name ('*.example.test': one label) as a full-match regex."""
    return re.compile(r"[a-z0-9-]+".join(re.escape(part) for part in pattern.lower().split("*")))


class Refusal(NamedTuple):
    status: int
    description: str
    headers: dict[str, str] = {}  # noqa: RUF012 - a NamedTuple's default, never mutated


def _error(status: int, description: str, **headers: str) -> Refusal:
    return Refusal(status, description, headers)


class ControlGuard:
    """ASGI middleware in front of Starlette's routes; requests outside /_mockidp pass untouched (authority
    endpoints route on arbitrary real hostnames, so the Host rule is for the control plane only)."""

    def __init__(self, app: ASGIApp, engine: Engine, settings: ControlSettings) -> None:
        self.app, self.engine, self.settings = app, engine, settings
        self.token = settings.token.encode() if settings.token else None
        names = [*settings.allowed_hosts, *(n for a in engine.authorities.values() for n in a.cert_hostnames)]
        self.patterns = [_wildcard(n) for n in names]
        # the authorities' real hostnames mockidp routes on (HostRouting), as regexes
        self.patterns += [re.compile(p, re.IGNORECASE) for a in engine.authorities.values() for p in a.host_patterns]

    def host_allowed(self, name: str) -> bool:
        if is_loopback(name):
            return True
        world = self.engine.world.server
        # The engine's base URL: the world's [server] base_url, or the in-process mode's https://mockidp.local.
        if name == (urlsplit(self.engine.base_url).hostname or ""):
            return True
        if any(_wildcard(n).fullmatch(name) for n in world.hostnames):
            return True
        return any(p.fullmatch(name) for p in self.patterns)

    def own_origins(self, scope: Scope, host: str, headers: dict[bytes, bytes]) -> set[str]:
        origins = {_origin(scope.get("scheme", "http"), host)}
        # Behind a TLS-terminating proxy the browser's origin is https: a foreign page cannot add this header to a
        # simple request, and a rebinding page was already refused by its Host.
        forwarded = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[0].strip().lower()
        if forwarded in ("http", "https"):
            origins.add(_origin(forwarded, host))
        if self.engine.world.server.base_url:
            url = urlsplit(self.engine.world.server.base_url)
            origins.add(_origin(url.scheme, url.netloc))
        return origins

    def check(self, scope: Scope, headers: dict[bytes, bytes]) -> Refusal | None:
        # The Host header itself, never X-Forwarded-Host: a rebinding page may set any header on its "own" origin.
        host = headers.get(b"host", b"").decode("latin-1")
        name, _ = split_host(host)
        if not name or not self.host_allowed(name):
            # 421 Misdirected Request (RFC 9110 §15.5.20), not 403: the request is fine, but this server does not
            # answer for that name; it says exactly what a DNS-rebound request is, and that nothing was refused
            # on the caller's credentials. Add the name with --allowed-host when it really is this server.
            return _error(421, f"mockidp's control plane does not answer for the host {name or '(none)'!r}; "
                               "allow it with --allowed-host or MOCKIDP_ALLOWED_HOSTS")
        origin = headers.get(b"origin")
        if origin is not None:
            value = origin.decode("latin-1").strip().lower()
            if value not in self.own_origins(scope, host, headers):
                return _error(403, "cross-origin requests to mockidp's control plane are refused (Origin is not this server)")
        if self.token is not None and not self.token_ok(scope, headers):
            return _error(401, "mockidp's control plane needs its token: Authorization: Bearer <token> (--control-token)",
                          **{"www-authenticate": 'Bearer realm="mockidp control"'})
        if scope["method"] in STATE_CHANGING:
            ctype = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
            if ctype != "application/json":
                return _error(415, "a state change on mockidp's control plane needs Content-Type: application/json "
                                   "(even with an empty body)", accept="application/json")
        return None

    def token_ok(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        assert self.token is not None
        presented = b""
        scheme, _, value = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() == b"bearer":
            presented = value.strip()
        elif b"cookie" in headers:
            try:
                jar = SimpleCookie(headers[b"cookie"].decode("latin-1"))
            except CookieError:
                jar = SimpleCookie()
            if COOKIE in jar:
                presented = jar[COOKIE].value.encode("latin-1", "replace")
        # compare_digest: the time taken does not tell how much of a guess was right
        return hmac.compare_digest(presented, self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if self.token is not None and scope["method"] == "GET" and scope["path"] in (PREFIX, PREFIX + "/"):
            given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
            if given and hmac.compare_digest(given.encode("latin-1", "replace"), self.token) and self.check(scope, {**headers, b"authorization": b"Bearer " + self.token}) is None:
                await self.set_cookie(scope, send)
                return
        refused = self.check(scope, headers)
        if refused is None:
            await self.app(scope, receive, send)
            return
        body = jsonbytes.dumps({"error": "invalid_request", "error_description": refused.description})
        extra = [(k.encode(), v.encode()) for k, v in refused.headers.items()]
        await send({"type": "http.response.start", "status": refused.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store"), *extra]})
        await send({"type": "http.response.body", "body": body})

    async def set_cookie(self, scope: Scope, send: Send) -> None:
        """`/_mockidp/?token=...` (the link `mockidp serve` prints): the token becomes an HttpOnly, SameSite=Strict
        cookie for /_mockidp, and the browser goes on to the dashboard without the token in its address bar."""
        assert self.token is not None
        cookie = f"{COOKIE}={self.token.decode()}; Path={PREFIX}; HttpOnly; SameSite=Strict" + ("; Secure" if scope.get("scheme") == "https" else "")
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", b"/_mockidp/"), (b"set-cookie", cookie.encode("latin-1")), (b"cache-control", b"no-store"), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


def _origin(scheme: str, netloc: str) -> str:
    """scheme://host[:port] as a browser's Origin header spells it: lower case, the default port left out."""
    scheme = scheme.lower()
    name, port = split_host(netloc)
    if (scheme, port) in (("http", "80"), ("https", "443")):
        port = ""
    host = f"[{name}]" if ":" in name else name
    return f"{scheme}://{host}" + (f":{port}" if port else "")
