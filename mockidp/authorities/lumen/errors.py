"""Lumen's error shape (Apigee's, as api.lumen.com answers): `reason`, `message`, `referenceError`, `code`."""

from __future__ import annotations

from mockidp.errors import OAuthError
from mockidp.oauth.token_endpoint import NO_STORE
from mockidp.request import Reply, Request


def lumen_error(status: int, code: str, reason: str, message: str, reference: str = "") -> OAuthError:
    """An error in Lumen's (Apigee) shape; rendered by `render_lumen_error`."""
    return OAuthError(code, message, status, headers=dict(NO_STORE), extra={"reason": reason, "referenceError": reference})


def missing_credentials(message: str = "Provide client credentials with HTTP Basic or client_id and client_secret.") -> OAuthError:
    # The recorded probe of https://api.lumen.com/oauth/v2/token without credentials (lumen-b2c.md).
    return lumen_error(401, "missingCredentials", "Missing or no credentials provided", message)


def render_lumen_error(err: OAuthError, req: Request | None = None) -> Reply:
    body = {
        "reason": err.extra.get("reason") or (err.description or err.error),
        "message": err.description or err.error,
        "referenceError": err.extra.get("referenceError", ""),
        "code": err.error,
    }
    return Reply(err.status, json=body, headers=dict(err.headers), error=err.error)
