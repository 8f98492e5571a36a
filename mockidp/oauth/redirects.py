"""Redirect URIs an authorization server may send a browser to (RFC 6749 §3.1.2, §10.6, §10.15; RFC 9700 §4.1).

What is checked here holds for every authority, whatever a client registered: `unsafe` refuses URIs with userinfo
(`http://localhost@evil.example/`: the browser goes to evil.example), URIs that already carry authorization-response
parameters (the attacker's `code` / `state` would come first, RFC 9207's mix-up), fragments (RFC 6749 §3.1.2), and
schemes other than http(s) for a confidential web client (`javascript:`, `data:`). How a URI is matched against
what was registered is the authority's: `pattern_match` is Keycloak's, Entra's is in authorities/entra/browser.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlsplit

# Parameters the authorization server adds itself (RFC 6749 §4.1.2 / §4.1.2.1, RFC 9207, OIDC Session Management).
RESPONSE_PARAMS = frozenset({"code", "state", "iss", "session_state", "error", "error_description", "error_uri"})
# Schemes that run or embed content in the browser: never a redirect target, not even for a native app.
SCRIPT_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})
# Keycloak's RedirectUtils.UNSAFE_PATH_PATTERN: a '..' segment, plain or encoded, turns wildcards off.
_UNSAFE_PATH = re.compile(r"(/|%2[fF]|%5[cC]|\\)(%2[eE]|\.){2}(/|%2[fF]|%5[cC]|\\)|(/|%2[fF]|%5[cC]|\\)(%2[eE]|\.){2}$")

# What a client that registers nothing may use: the loopback interfaces, any port, any path (RFC 8252 §7.3). Keycloak
# patterns, written so that no other host can match them ("http://localhost*" would match http://localhost.evil.example).
LOOPBACK_PATTERNS = (
    "http://127.0.0.1/*", "http://127.0.0.1:*", "http://localhost/*", "http://localhost:*", "http://[::1]/*", "http://[::1]:*",
    "https://127.0.0.1/*", "https://127.0.0.1:*", "https://localhost/*", "https://localhost:*",
)


def unsafe(uri: str, *, confidential: bool = True) -> str | None:
    """Why `uri` may never receive an authorization response (or a post-logout redirect); None when it may.
    `confidential`: a web client with a credential, which only ever has http(s) callbacks; a public (native) client
    may use a private-use scheme (RFC 8252 §7.1), still never a script scheme."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "not a URI"
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            return "no host"
        if "@" in parts.netloc:
            return "userinfo"
    elif not scheme or scheme in SCRIPT_SCHEMES or confidential:
        return f"scheme {scheme or '(none)'}"
    if "#" in uri:
        return "fragment"
    carried = RESPONSE_PARAMS.intersection(name for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    if carried:
        return f"already carries {', '.join(sorted(carried))}"
    return None


def pattern_match(pattern: str, uri: str) -> bool:
    """Keycloak's valid redirect URIs (RedirectUtils.matchesRedirects): exact, or a prefix when the pattern ends in
    '*' (the query is not compared then; "http://x/cb/*" also takes "http://x/cb"). No wildcard for a URI with a
    '..' segment. A bare "*" matches NOTHING here: stock RedirectUtils still takes it for any http(s) URI, which
    makes every client an open redirector; Keycloak's own secure-redirect-uris-enforcer client policy refuses it,
    and RFC 9700 §4.1.3 asks for exact matching. mockidp sides with those."""
    if pattern == "*":
        return False
    if pattern.endswith("*") and "?" not in pattern:
        if _UNSAFE_PATH.search(urlsplit(uri).path):
            return False
        bare = uri.split("?", 1)[0].split("#", 1)[0]
        prefix = pattern[:-1]
        return bare.startswith(prefix) or (len(prefix) > 1 and prefix.endswith("/") and bare == prefix[:-1])
    return uri == pattern


def allowed(uri: str | None, registered: Iterable[str], *, confidential: bool, match: Callable[[str, str], bool] = pattern_match) -> bool:
    """Whether the browser may be sent to `uri`: not `unsafe`, and matching one of the client's registered URIs by
    the authority's rule (`match(registered, uri)`, Keycloak's `pattern_match` unless told otherwise)."""
    return bool(uri) and unsafe(uri or "", confidential=confidential) is None and any(match(r, uri or "") for r in registered)
