"""RFC 7636: code challenges."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

METHODS = ("plain", "S256")
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def challenge_for(verifier: str, method: str) -> str:
    if method == "S256":
        return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return verifier


def valid_verifier(verifier: str) -> bool:
    return bool(_VERIFIER.fullmatch(verifier))


def verify(verifier: str, challenge: str, method: str) -> bool:
    if not valid_verifier(verifier):
        return False
    return hmac.compare_digest(challenge_for(verifier, method), challenge)
