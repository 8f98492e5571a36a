"""App Key + Digest: the deprecated mechanism of the Lumen APIs (seed 000: "currently listed as deprecated and is in
the process of being retired"). A call carries the application key header plus HTTP Digest credentials (RFC 7616:
qop=auth, MD5 or SHA-256). Its own issuer and keys: the Digest issuer signs its nonces, so a nonce is verified,
not looked up, and expires by the engine clock; replays are refused by nonce count through the store.

- The header is `X-Level3-Application-Key`: the name Lumen's (formerly Level 3's) legacy APIs used, as public
  client code that calls them shows. Those clients paired it with `X-Level3-Digest` (an HMAC of
  `X-Level3-Digest-Time`); the issue asks for RFC 7616 Digest instead, so that standard clients can be tested.
- 401s carry one `WWW-Authenticate: Digest` line per algorithm the application may use, in its order of
  preference, sharing one nonce and opaque (RFC 7616 §3.7 and its §3.9.1 example); `stale=true` when only the
  nonce's age failed (§3.3).
- Every answer to a Digest call says the mechanism is retiring the way Lumen's own client reads it
  (terraform-provider-lumen bare_metal_client.go): `Deprecation: true`, `Sunset: <date>`, `Link: <...>`.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from urllib.request import parse_http_list, parse_keqv_list

from mockidp.authorities.lumen.context import LumenContext
from mockidp.authorities.lumen.errors import lumen_error, missing_credentials, render_lumen_error
from mockidp.authorities.lumen.world import HASHES, DigestApp, DigestSettings
from mockidp.errors import OAuthError
from mockidp.keys import KeySet
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, sign, verify

APP_KEY_HEADER = "x-level3-application-key"
NC_SEEN = "lumen-digest-nc"


class Digest:
    """The Digest issuer of the Lumen authority: authenticates calls and shapes the answers to them."""

    ISSUER_PATH = "/digest"

    def __init__(self, context: LumenContext) -> None:
        self.context = context

    @property
    def settings(self) -> DigestSettings:
        return self.context.config.digest

    @property
    def keyset(self) -> KeySet:
        return self.context.keyset("digest")

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.keyset.jwks())

    def opaque(self) -> str:
        return hashlib.sha256(f"{self.settings.realm}:{self.keyset.active.kid}".encode()).hexdigest()[:32]

    def app_of(self, req: Request) -> DigestApp | None:
        key = req.headers.get(APP_KEY_HEADER)
        return next((a for a in self.context.config.digest_apps if key and hmac.compare_digest(a.app_key.encode(), key.encode())), None)

    # --- the answers -----------------------------------------------------------------------------------

    def challenges(self, req: Request, stale: bool = False) -> list[tuple[str, str]]:
        app = self.app_of(req)
        nonce = sign(self.keyset, {"iss": req.base + self.ISSUER_PATH, "iat": int(self.context.now),
                                   "exp": int(self.context.now) + self.settings.nonce_lifetime, "jti": str(uuid.uuid4())})
        algorithms = app.algorithms if app is not None else list(HASHES)[::-1]
        extra = ", stale=true" if stale else ""
        return [("www-authenticate", (f'Digest realm="{self.settings.realm}", qop="auth", algorithm={alg}, nonce="{nonce}", '
                                      f'opaque="{self.opaque()}"{extra}')) for alg in algorithms]

    def deprecate(self, reply: Reply) -> Reply:
        reply.headers.update({"deprecation": "true", "sunset": self.settings.sunset,
                              "link": f'<{self.settings.link}>; rel="deprecation"'})
        return reply

    def refuse(self, err: OAuthError, req: Request) -> Reply:
        """A Lumen-shaped error; a 401 also challenges, as a Digest server must (RFC 7616 §3.3)."""
        reply = render_lumen_error(err, req)
        if err.status == 401:
            reply.header_lines += self.challenges(req, stale=bool(err.extra.get("stale")))
        return self.deprecate(reply)

    # --- authenticating a call -------------------------------------------------------------------------

    def authenticate(self, req: Request) -> dict[str, Any]:
        """The calling application as the API's claims, or an OAuthError in Lumen's shape."""
        app = self.app_of(req)
        if not req.headers.get(APP_KEY_HEADER):
            raise lumen_error(401, "missingApplicationKey", "Missing application key", "Send the application key as X-Level3-Application-Key.")
        if app is None:
            raise lumen_error(401, "invalidApplicationKey", "Invalid application key", "The X-Level3-Application-Key is not registered.")
        if not app.enabled:
            raise lumen_error(401, "applicationDisabled", "Application disabled", "The application has been disabled.")
        scheme, _, rest = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "digest":
            raise missing_credentials("Authenticate with HTTP Digest (RFC 7616) and the application key.")
        try:
            fields = parse_keqv_list(parse_http_list(rest))
        except ValueError as exc:
            raise lumen_error(400, "invalidRequest", "Malformed Authorization header", f"Unreadable Digest credentials: {exc}") from exc
        missing = [k for k in ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce") if not fields.get(k)]
        if missing:
            raise lumen_error(400, "invalidRequest", "Malformed Authorization header", f"Digest credentials lack {', '.join(missing)} (qop=auth is required).")

        def invalid(message: str) -> OAuthError:
            return lumen_error(401, "invalidDigest", "Invalid digest credentials", message)

        algorithm = fields.get("algorithm", "MD5").upper()
        if algorithm not in app.algorithms:
            raise invalid(f"algorithm {algorithm} is not offered to this application; use one of {', '.join(app.algorithms)}.")
        if fields["realm"] != self.settings.realm:
            raise invalid(f"realm must be {self.settings.realm!r}.")
        if fields["qop"] != "auth":
            raise invalid("qop must be auth.")
        if fields.get("opaque") != self.opaque():
            raise invalid("opaque does not echo the challenge's.")
        if fields.get("userhash", "false").lower() == "true":
            raise invalid("userhash is not supported (the challenge does not offer it).")
        try:
            nc = int(fields["nc"], 16)
        except ValueError:
            nc = -1
        if len(fields["nc"]) != 8 or nc < 1:
            raise lumen_error(400, "invalidRequest", "Malformed Authorization header", "nc must be 8 hexadecimal digits.")
        if not self.same_target(req, fields["uri"]):
            raise invalid("The digest uri is not this request's target.")
        if not hmac.compare_digest(fields["username"].encode(), app.username.encode()):
            raise invalid("Unknown user for this application.")
        expected = self.response(HASHES[algorithm], app, req.method, fields)
        if not hmac.compare_digest(expected.encode(), fields["response"].lower().encode()):
            raise invalid("The digest response does not match (wrong password?).")
        try:
            _, nonce = verify(fields["nonce"], self.keyset, now=self.context.now)
        except TokenInvalid as exc:
            if exc.reason == "expired":  # right credentials, old nonce: the client retries with the new one
                stale = lumen_error(401, "staleNonce", "Stale nonce", "The nonce has expired; use the new challenge.")
                stale.extra["stale"] = True  # read by refuse(), never rendered
                raise stale from exc
            raise invalid("The nonce was not issued by this server.") from exc
        if not self.context.services.store.add_once(NC_SEEN, f"{nonce['jti']}:{nc}", float(nonce["exp"]), self.context.now):
            raise lumen_error(401, "nonceReplayed", "Replayed request", f"nc {fields['nc']} was already used with this nonce.")
        return {"clientId": app.app_key, "bans": list(app.bans), "customerNumber": app.customer_number,
                "username": app.username, "mechanism": "Digest", "algorithm": algorithm}

    def same_target(self, req: Request, uri: str) -> bool:
        """RFC 7616 §3.4.6: the digest uri must name the request's target (path and query)."""
        parts = urlsplit(uri)
        return parts.path == urlsplit(req.base).path + req.path and dict(parse_qsl(parts.query, keep_blank_values=True)) == req.query

    def response(self, h: Callable[[bytes], Any], app: DigestApp, method: str, fields: dict[str, str]) -> str:
        """RFC 7616 §3.4.1 with qop=auth: H(H(A1):nonce:nc:cnonce:qop:H(A2))."""
        def hx(text: str) -> str:
            return str(h(text.encode()).hexdigest())

        ha1 = hx(f"{app.username}:{self.settings.realm}:{app.password}")
        ha2 = hx(f"{method}:{fields['uri']}")
        return hx(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}")
