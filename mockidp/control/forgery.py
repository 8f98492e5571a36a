"""Forged tokens for testing a user's OWN resource server: a valid token with chosen claims, or one deliberately
bad in one way each (the variants `POST /_mockidp/tokens/{authority}` and `mockidp.<authority>.mint(variant=)` take)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mockidp.keys import KeySet, SigningKey
from mockidp.tokens import sign

FORGERIES = (
    "valid", "expired", "not_yet_valid", "wrong_audience", "wrong_issuer", "unknown_key",
    "other_authority_key", "alg_none", "hs256_public_key", "truncated",
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(keyset: KeySet, claims: dict[str, Any], variant: str, now: int, *, other_keyset: KeySet) -> str:
    """`claims` signed by `keyset`, spoilt as `variant` says; `other_keyset` is another authority's (its key
    labelled as this issuer's is the `other_authority_key` variant)."""
    full = dict(claims)
    if variant == "expired":
        full.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    elif variant == "not_yet_valid":
        full.update(nbf=now + 3600, exp=now + 7200)
    elif variant == "wrong_audience":
        full["aud"] = "https://wrong-audience.mockidp.invalid"
    elif variant == "wrong_issuer":
        full["iss"] = "https://wrong-issuer.mockidp.invalid"
    key = keyset.active
    if variant == "unknown_key":
        return sign(SigningKey.generate(key.alg, "mockidp-unknown"), full)
    if variant == "other_authority_key":
        return sign(other_keyset, full, header={"kid": key.kid})  # labelled as this issuer's key
    if variant == "alg_none":
        return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(full).encode())}."
    if variant == "hs256_public_key":
        pem = x509.load_der_x509_certificate(key.cert_der).public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid}).encode())}.{_b64(json.dumps(full).encode())}"
        return f"{signing_input}.{_b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"
    token = sign(keyset, full)
    return token[:-12] if variant == "truncated" else token
