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


def failure(challenge: str | None, method: str | None, verifier: str | None) -> str | None:
    """Why a token request's code_verifier does not answer the authorization's challenge (None: it does).
    A verifier without a challenge fails too: RFC 9700 §2.1.1 (PKCE downgrade)."""
    if not challenge:
        return "code_verifier sent, but the authorization request had no code_challenge" if verifier is not None else None
    if verifier is None:
        return "code_verifier is required"
    if not valid_verifier(verifier):
        return "code_verifier is not 43-128 unreserved characters"
    if not verify(verifier, challenge, method or "plain"):
        return "code_verifier does not match the code_challenge"
    return None
