"""The error model: spec logic raises OAuthError; each authority renders it in its own wire format."""

from __future__ import annotations

from typing import Any


class OAuthError(Exception):
    """An error answer. `error`/`description` are the protocol fields; `code` is a vendor number (e.g. AADSTS);
    `extra` holds further body fields an authority may add; `headers` go on the response as they are."""

    def __init__(
        self,
        error: str,
        description: str | None = None,
        status: int = 400,
        *,
        code: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.code = code
        self.headers = headers or {}
        self.extra = extra or {}
        # (label, value) lines for mockidp's debugging box on an error page: what was sent, what is registered
        self.debug: list[tuple[str, str]] = []

    def body(self) -> dict[str, Any]:
        """The RFC 6749 §5.2 body: `error` and, when there is one, `error_description`."""
        out: dict[str, Any] = {"error": self.error}
        if self.description is not None:
            out["error_description"] = self.description
        out.update(self.extra)
        return out


class BadRequestBody(OAuthError):
    """The body could not be read as the endpoint's form (not UTF-8, not urlencoded, too large)."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__("invalid_request", description, status)


def server_error() -> OAuthError:
    return OAuthError("server_error", "mockidp hit an internal error; see the server log", 500)
