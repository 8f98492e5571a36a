"""Password credentials as a Keycloak realm export holds them: PBKDF2 hashes (Pbkdf2PasswordHashProvider), so an
imported user signs in with the password they had, which mockidp never learns."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from mockidp.authorities.avaya.errors import RepresentationError

# Keycloak's providers by `algorithm` (pbkdf2-sha512 is the default since Keycloak 24, pbkdf2-sha256 before it)
DIGESTS = {"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}
MAX_ITERATIONS = 1_000_000  # an imported hash is checked on every sign-in: bound the work a world file can ask for


def hash_from_export(credential: dict[str, Any], where: str) -> dict[str, Any]:
    """{"algorithm", "iterations", "salt", "value"} from a CredentialRepresentation's `secretData` and
    `credentialData`, which are JSON documents inside strings. ValueError (with `where`) if mockidp cannot check it."""
    try:
        secret = json.loads(credential["secretData"])
        data = json.loads(credential.get("credentialData") or "{}")
        algorithm, iterations = data.get("algorithm", "pbkdf2-sha512"), int(data.get("hashIterations", 210000))
        salt, value = str(secret["salt"]), str(secret["value"])
        base64.b64decode(salt, validate=True), base64.b64decode(value, validate=True)
    except (ValueError, TypeError, KeyError) as exc:
        raise RepresentationError(f"{where}: secretData / credentialData are not Keycloak's password hash") from exc
    if algorithm not in DIGESTS:
        raise RepresentationError(f"{where}: password hash algorithm {algorithm!r} is not supported ({', '.join(DIGESTS)})")
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise RepresentationError(f"{where}: hashIterations must be 1..{MAX_ITERATIONS}")
    return {"algorithm": algorithm, "iterations": iterations, "salt": salt, "value": value}


def matches(password: str, stored: dict[str, Any]) -> bool:
    """PBKDF2-HMAC as Keycloak computes it. Keycloak pads passwords under 14 characters with NULs (its FIPS
    workaround); HMAC pads a short key with zeros anyway, so the plain derivation gives the same bytes."""
    expected = base64.b64decode(stored["value"])
    derived = hashlib.pbkdf2_hmac(DIGESTS[stored["algorithm"]], password.encode(), base64.b64decode(stored["salt"]),
                                  int(stored["iterations"]), len(expected))
    return hmac.compare_digest(derived, expected)


def export_hash(password: str, salt: bytes, algorithm: str = "pbkdf2-sha512", iterations: int = 210000) -> dict[str, str]:
    """The `secretData` / `credentialData` strings Keycloak exports for a password (tests and fixtures use it)."""
    value = hashlib.pbkdf2_hmac(DIGESTS[algorithm], password.encode(), salt, iterations, 64 if algorithm == "pbkdf2-sha512" else 32)
    return {"secretData": json.dumps({"value": base64.b64encode(value).decode(), "salt": base64.b64encode(salt).decode(), "additionalParameters": {}}),
            "credentialData": json.dumps({"hashIterations": iterations, "algorithm": algorithm, "additionalParameters": {}})}
