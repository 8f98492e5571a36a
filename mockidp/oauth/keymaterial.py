"""Key material a world registers for a client (a Keycloak client's certificate, an Entra app's certificates):
PEM text, or in a world file loaded from disk a path relative to that file. Over the control API only inline PEM
is taken: a remote caller never has mockidp read a file (it could name /etc/passwd or the CA's key). No error
message quotes what a file holds."""

from __future__ import annotations

from pathlib import Path

from mockidp.oauth.assertions import ClientKey

INLINE_ONLY = ("key material is taken inline only here (PEM text in the JSON, or a JWK in the client's `jwks`); "
               "a file path is for world files loaded from disk")


def _is_certificate(pem: str) -> bool:
    try:
        ClientKey.from_certificate(pem.encode())
    except (ValueError, TypeError, UnicodeEncodeError):
        return False
    return True


def inline_pem(value: str, base_dir: Path | None, where: str) -> str:
    """The PEM certificate `value` is or names (a path below `base_dir`); `base_dir` None refuses paths."""
    if value.lstrip().startswith("-----"):
        if not _is_certificate(value):
            raise ValueError(f"{where}: not a PEM X.509 certificate")
        return value
    if base_dir is None:
        raise ValueError(f"{where}: {INLINE_ONLY}")
    path = (base_dir / value).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise ValueError(f"{where}: no file {path} (or not readable)") from None
    if not _is_certificate(text):
        raise ValueError(f"{where}: {path} is not a PEM X.509 certificate")
    return text
