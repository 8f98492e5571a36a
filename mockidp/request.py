"""HTTP-free request and reply types: the glue parses a request once into `Request`; handlers return `Reply`."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

MAX_BODY = 1024 * 1024  # bytes; a larger request body answers 413 (authorities and the control plane alike)


@dataclass
class Request:
    method: str
    path: str  # path below the authority prefix
    base: str  # the authority's external base URL (scheme://host[:port][/prefix]), issuers derive from it
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    duplicates: set[str] = field(default_factory=set)  # form/query parameter names sent more than once
    path_params: dict[str, str] = field(default_factory=dict)
    client_host: str = ""
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """A form parameter; an empty string counts as absent (python-keycloak sends `username=` etc.)."""
        value = self.form.get(name)
        return value or None

    @property
    def params(self) -> dict[str, str]:
        return {**self.query, **self.form}

    @property
    def basic(self) -> tuple[str, str] | None:
        """HTTP Basic credentials, form-urldecoded as RFC 6749 §2.3.1 requires; None if absent or malformed."""
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not value:
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (unquote(user.replace("+", " ")), unquote(password.replace("+", " "))) if sep else None

    @property
    def bearer(self) -> str | None:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    text: str | None = None
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)  # tokens this reply carries, for the journal
    error: str | None = None  # the protocol error code, for the journal
    # Header lines sent after `headers`, one each: a name may repeat (RFC 7616 §3.7: a WWW-Authenticate per algorithm).
    header_lines: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        return cls(status=status, headers={"location": location})

    @classmethod
    def empty(cls, status: int = 204, **headers: str) -> Reply:
        return cls(status=status, headers=dict(headers))
