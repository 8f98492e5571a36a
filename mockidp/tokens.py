"""Minting and verifying JWTs with an issuer's key set; expiry is judged by the engine clock."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from mockidp import jsonbytes
from mockidp.keys import KeySet, SigningKey, b64url


class TokenInvalid(Exception):
    """A token failed verification. `reason` is one of: malformed, algorithm, key, signature, expired, not_yet_valid."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


def _segment(data: dict[str, Any]) -> str:
    return b64url(jsonbytes.dumps(data))


@functools.lru_cache(maxsize=1024)
def _plain_header(alg: str, typ: str, kid: str | None) -> str:
    """The encoded header of most tokens: the same bytes for every token of a key, so encoded once."""
    head = {"alg": alg, "typ": typ} if kid is None else {"alg": alg, "typ": typ, "kid": kid}
    return _segment(head)


def sign(keyset: KeySet | SigningKey, claims: dict[str, Any], header: dict[str, Any] | None = None, typ: str = "JWT") -> str:
    """A compact JWS (RFC 7515) of `claims`, signed by the key set's active key (or the key given)."""
    key = keyset.active if isinstance(keyset, KeySet) else keyset
    head = _plain_header(key.alg, typ, key.kid) if not header else _segment({"alg": key.alg, "typ": typ, "kid": key.kid, **header})
    signing_input = head + "." + _segment(claims)
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


@functools.lru_cache(maxsize=256)
def hmac_key(secret: bytes) -> OctKey:
    """One key object per secret (for verifying): importing it on every token cost as much as the HMAC itself."""
    return OctKey.import_key(secret)


_HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def sign_hmac(secret: bytes, claims: dict[str, Any], typ: str = "JWT", alg: str = "HS512") -> str:
    signing_input = _plain_header(alg, typ, None) + "." + _segment(claims)
    return signing_input + "." + b64url(hmac.new(secret, signing_input.encode("ascii"), _HMAC_DIGESTS[alg]).digest())


def _b64decode(part: str) -> bytes:
    # Tolerates '=' padding: azure-identity's async credentials pad their base64url.
    part = part.rstrip("=")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims WITHOUT verifying anything: for routing and error messages only."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 64 * 1024:
        raise TokenInvalid("malformed", "not a compact JWS")
    head_b64, body_b64, _ = token.split(".")
    try:
        header, claims = json.loads(_b64decode(head_b64)), json.loads(_b64decode(body_b64))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise TokenInvalid("malformed", f"undecodable JWT: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenInvalid("malformed", "JWT header and payload must be JSON objects")
    return header, claims


def normalize_padding(token: str) -> str:
    return ".".join(p.rstrip("=") for p in token.split("."))


def check_times(claims: dict[str, Any], now: float, leeway: float = 0, require_exp: bool = True) -> None:
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is None:
        if require_exp:
            raise TokenInvalid("expired", "token has no exp claim")
    elif not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise TokenInvalid("malformed", "exp is not a number")
    elif now > exp + leeway:
        raise TokenInvalid("expired", "token is expired")
    if nbf is not None:
        if not isinstance(nbf, (int, float)) or isinstance(nbf, bool):
            raise TokenInvalid("malformed", "nbf is not a number")
        if now + leeway < nbf:
            raise TokenInvalid("not_yet_valid", "token is not yet valid")


def verify(
    token: str,
    keys: KeySet | list[SigningKey],
    *,
    now: float,
    leeway: float = 0,
    require_exp: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify signature (by `kid`, with the key's own algorithm only) and time claims. Returns (header, claims)."""
    header, _ = peek(token)
    candidates = keys.published if isinstance(keys, KeySet) else keys
    alg, kid = header.get("alg"), header.get("kid")
    if kid is not None:
        candidates = [k for k in candidates if k.kid == kid]
        if not candidates:
            raise TokenInvalid("key", f"no key with kid {kid!r}")
    candidates = [k for k in candidates if k.alg == alg]
    if not candidates:
        raise TokenInvalid("algorithm", f"algorithm {alg!r} is not accepted here")
    token = normalize_padding(token)
    for key in candidates:
        try:
            claims = jwt.decode(token, key.jwk, algorithms=[key.alg]).claims
        except (JoseError, ValueError):
            continue
        check_times(claims, now, leeway, require_exp)
        return header, claims
    raise TokenInvalid("signature", "signature verification failed")
