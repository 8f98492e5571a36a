"""What Entra ID (Azure AD) and Azure AD B2C share on the wire: the AADSTS error body.

Shape (shared/reference/entra.md): `error`, `error_description` = "AADSTSnnnn: <text>\\r\\nTrace ID: ...\\r\\n
Correlation ID: ...\\r\\nTimestamp: ...", `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.
"""

from __future__ import annotations

import datetime
import uuid

from mockidp.errors import OAuthError
from mockidp.request import Reply


def aad_error(error: str, code: int, text: str, status: int = 400, prefix: str = "AADSTS") -> OAuthError:
    """An error carrying its AADSTS number; render it with `render_aad_error`."""
    return OAuthError(error, f"{prefix}{code}: {text}", status, code=code)


def render_aad_error(err: OAuthError, now: float, error_uri_base: str = "https://login.microsoftonline.com/error") -> Reply:
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    description = err.description or err.error
    body = {
        "error": err.error,
        "error_description": f"{description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {stamp}",
        "error_codes": [err.code] if err.code is not None else [],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    }
    if err.code is not None:
        body["error_uri"] = f"{error_uri_base}?code={err.code}"
    body.update(err.extra)
    return Reply(err.status, json=body, headers={"cache-control": "no-store, no-cache", "pragma": "no-cache", **err.headers}, error=err.error)
