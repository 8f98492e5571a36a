"""Minting and verifying JWTs with an issuer's key set; expiry is judged by the engine clock."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import math
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


HALF_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def at_hash(access_token: str) -> str:
    """OIDC Core 3.1.3.6: the left half of the access token's hash, by the hash of the ID token's `alg`, base64url.
    Every caller signs the ID token with the key set that signed the access token, so the access token's own header
    names that `alg` (RS256, PS256, ES256: SHA-256; ...384: SHA-384; ...512 and EdDSA: SHA-512)."""
    header = json.loads(base64.urlsafe_b64decode(access_token.split(".", 1)[0] + "=="))
    alg = str(header.get("alg", "RS256"))
    digest = HALF_HASHES.get(alg[-3:], hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


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


# NumericDates (RFC 7519 §2) a verifier takes: finite JSON numbers from 1970 to the end of year 9999. Python's json
# reads NaN, Infinity and 1e400 (as inf) although RFC 8259 §6 has none of them, and `now > NaN` is always false:
# such an `exp` would never expire.
MAX_NUMERIC_DATE = 253402300799  # 9999-12-31T23:59:59Z
NUMERIC_DATES = ("exp", "nbf", "iat")


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §5.2 step 4 / RFC 7519 §7.2 step 9: a header or claims set with duplicate member names is either
    # rejected or read last-wins; a verifier that reads it last-wins while another reads it first-wins is a
    # parser-differential hole, so mockidp rejects it.
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise TokenInvalid("malformed", f"duplicate member name {name!r} in the JWT")
        out[name] = value
    return out


def _not_json(constant: str) -> Any:
    raise TokenInvalid("malformed", f"{constant} is not a JSON number (RFC 8259 §6)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise TokenInvalid("malformed", f"{text} is out of range for a JSON number")
    return value


def _strict_json(data: bytes) -> Any:
    if jsonbytes.nesting_depth(data, jsonbytes.MAX_DEPTH) > jsonbytes.MAX_DEPTH:  # bounded before the parser recurses
        raise ValueError(f"a JWT segment nests deeper than {jsonbytes.MAX_DEPTH} levels")
    return json.loads(data, object_pairs_hook=_members, parse_constant=_not_json, parse_float=_finite)


def check_header(header: dict[str, Any]) -> None:
    """RFC 7515 §4.1.11: a `crit` extension the verifier does not understand makes the JWS invalid, and mockidp
    understands none, so any `crit` is refused. RFC 7797: `b64: false` (an unencoded payload) changes what the
    signature covers; a verifier that ignores it would check other bytes than the signer meant, so it is refused."""
    if "crit" in header:
        raise TokenInvalid("malformed", f"the JWT header's crit {header['crit']!r} names extensions this verifier does not understand")
    if "b64" in header and header["b64"] is not True:
        raise TokenInvalid("malformed", "unencoded payloads (b64: false, RFC 7797) are not accepted")


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims WITHOUT verifying the signature, but strictly parsed: every verifier starts here, so
    duplicate member names, NaN / Infinity, `crit` and `b64: false` are refused at all of them."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 64 * 1024:
        raise TokenInvalid("malformed", "not a compact JWS")
    head_b64, body_b64, _ = token.split(".")
    try:
        header, claims = _strict_json(_b64decode(head_b64)), _strict_json(_b64decode(body_b64))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise TokenInvalid("malformed", f"undecodable JWT: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenInvalid("malformed", "JWT header and payload must be JSON objects")
    check_header(header)
    return header, claims


def numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """The claim as a NumericDate, None when absent; TokenInvalid("malformed") for a bool, a string, or a number
    outside 0 .. MAX_NUMERIC_DATE."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_NUMERIC_DATE:
        raise TokenInvalid("malformed", f"{name} is not a NumericDate")
    return float(value)


def normalize_padding(token: str) -> str:
    return ".".join(p.rstrip("=") for p in token.split("."))


def check_times(claims: dict[str, Any], now: float, leeway: float = 0, require_exp: bool = True) -> None:
    exp, nbf, _ = (numeric_date(claims, name) for name in NUMERIC_DATES)
    if exp is None:
        if require_exp:
            raise TokenInvalid("expired", "token has no exp claim")
    elif now > exp + leeway:
        raise TokenInvalid("expired", "token is expired")
    if nbf is not None and now + leeway < nbf:
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
