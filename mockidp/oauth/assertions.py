"""RFC 7523 client assertions: a JWT the client signs with its own key. Shared by Keycloak's private_key_jwt,
Entra's certificate credentials and the CAMARA profile of CIBA; the authority supplies the keys and the audience."""

from __future__ import annotations

import base64
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc.jwk import ECKey, RSAKey
from joserfc.jwk import KeySet as JoseKeySet
from joserfc.jws import JWSRegistry

from mockidp.keys import KEY_TYPES, thumbprints
from mockidp.store import Store
from mockidp.tokens import TokenInvalid, check_times, peek

REPLAY_KIND = "assertion-jti"


@dataclass(frozen=True)
class ClientKey:
    """A public key registered for a client: from a certificate (with thumbprints) or a JWK."""

    jwk: RSAKey | ECKey
    kid: str | None = None
    x5t: str | None = None
    x5t_s256: str | None = None

    @classmethod
    def from_certificate(cls, pem_or_der: bytes) -> ClientKey:
        cert = (
            x509.load_pem_x509_certificate(pem_or_der)
            if pem_or_der.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(pem_or_der)
        )
        public = cert.public_key()
        jwk = RSAKey.import_key(public) if hasattr(public, "key_size") and not hasattr(public, "curve") else ECKey.import_key(public)  # type: ignore[arg-type]
        x5t, x5t_s256 = thumbprints(cert.public_bytes(serialization.Encoding.DER))
        return cls(jwk=jwk, kid=x5t, x5t=x5t, x5t_s256=x5t_s256)

    @classmethod
    def from_jwks(cls, jwks: dict[str, Any]) -> list[ClientKey]:
        keys = []
        for entry in jwks.get("keys", []):
            public = {k: v for k, v in entry.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
            jwk = JoseKeySet.import_key_set({"keys": [public]}).keys[0]
            x5t = x5t_s256 = None
            if entry.get("x5c"):
                x5t, x5t_s256 = thumbprints(base64.b64decode(entry["x5c"][0]))
            keys.append(cls(jwk=jwk, kid=entry.get("kid"), x5t=entry.get("x5t", x5t), x5t_s256=entry.get("x5t#S256", x5t_s256)))  # type: ignore[arg-type]
        return keys


def select_keys(keys: Collection[ClientKey], header: dict[str, Any]) -> list[ClientKey]:
    """By x5t#S256, x5t or kid when the header names one; all keys otherwise. Thumbprints are compared without
    '=' padding: MSAL Python pads the x5t it sends (msal/oauth2cli/assertion.py uses urlsafe_b64encode as is)."""
    for name, attr in (("x5t#S256", "x5t_s256"), ("x5t", "x5t"), ("kid", "kid")):
        wanted = header.get(name)
        if wanted:
            if name != "kid" and isinstance(wanted, str):
                wanted = wanted.rstrip("=")
            return [k for k in keys if getattr(k, attr) == wanted]
    return list(keys)


def verify_assertion(
    assertion: str,
    keys: Collection[ClientKey],
    *,
    client_id: str,
    audiences: Collection[str],
    now: float,
    store: Store,
    algorithms: Collection[str] = ("RS256", "PS256", "ES256"),
    leeway: float = 0,
    max_lifetime: float | None = None,
) -> dict[str, Any]:
    """Verify and consume a client assertion. Raises TokenInvalid with a reason:
    malformed, algorithm, key, signature, expired, not_yet_valid, issuer, subject, audience, lifetime, replay."""
    header, unverified = peek(assertion)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise TokenInvalid("algorithm", f"algorithm {alg!r} is not accepted for client assertions")
    candidates = [k for k in select_keys(keys, header) if KEY_TYPES[alg] == k.jwk.key_type]
    if not candidates:
        raise TokenInvalid("key", "no registered key matches the assertion's header")
    # The signature covers the exact bytes received: azure-identity's async credentials sign '='-padded base64url
    # (azure/identity/_internal/aad_client_base.py), so the padding stays in the signing input. Verifying with the
    # algorithm alone also spares joserfc's 512-byte header limit, which an `x5c` chain (MSAL's public_certificate) exceeds.
    head_b64, payload_b64, sig_b64 = assertion.split(".")
    try:
        signing_input = f"{head_b64}.{payload_b64}".encode("ascii")
        signature = base64.urlsafe_b64decode(sig_b64.rstrip("=") + "=" * (-len(sig_b64.rstrip("=")) % 4))
    except (UnicodeEncodeError, ValueError) as exc:
        raise TokenInvalid("malformed", "undecodable signature") from exc
    model = JWSRegistry.algorithms[alg]
    claims = unverified if any(model.verify(signing_input, signature, k.jwk) for k in candidates) else None
    if claims is None:
        raise TokenInvalid("signature", "the assertion's signature does not verify with the registered key")
    if claims.get("iss") != client_id:
        raise TokenInvalid("issuer", "iss must be the client id")
    if claims.get("sub") != client_id:
        raise TokenInvalid("subject", "sub must be the client id")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(a in audiences for a in auds):
        raise TokenInvalid("audience", f"aud must be one of {sorted(audiences)}")
    check_times(claims, now, leeway)
    if max_lifetime is not None and claims["exp"] - claims.get("iat", now) > max_lifetime:
        raise TokenInvalid("lifetime", f"assertion lifetime exceeds {max_lifetime:.0f} s")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise TokenInvalid("malformed", "jti is required")
    if not store.add_once(REPLAY_KIND, f"{client_id}:{jti}", float(claims["exp"]) + leeway, now):
        raise TokenInvalid("replay", "the assertion's jti was already used")
    return claims

