"""`serve`'s log: one line per request an authority answered (method, path, status, client, error code, ms), as text
for people (`docker compose logs`) or JSON for machines (`--log-format json`). The line carries no parameter, header
or query string, so no secret reaches it; the journal (masked) has the rest."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

REQUESTS = logging.getLogger("mockidp.requests")
FIELDS = ("method", "path", "status", "client_id", "error", "ms", "authority", "endpoint", "fault")


def log_request(entry: dict[str, Any]) -> None:
    """One line for one journal entry, at info (cheap when info is off: the benchmarks serve at `error`)."""
    if not REQUESTS.isEnabledFor(logging.INFO):
        return
    fields = {"method": entry["method"], "path": entry["path"], "status": entry["status"], "client_id": entry.get("client_id"),
              "error": entry.get("error"), "ms": entry.get("duration_ms"), "authority": entry["authority"],
              "endpoint": entry["endpoint"], "fault": entry.get("fault")}
    text = f"{fields['method']} {fields['path']} {fields['status']}"
    text += "".join(f" {k}={fields[k]}" for k in ("client_id", "error", "fault") if fields[k])
    REQUESTS.info("%s %.1f ms", text, fields["ms"] or 0.0, extra={"mockidp": fields})


def _utc(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{_utc(record.created)} {record.levelname.lower():<7} {record.getMessage()}" + (
            "\n" + self.formatException(record.exc_info) if record.exc_info else "")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, and a request line's fields by name."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": _utc(record.created), "level": record.levelname.lower(), "logger": record.name,
                               "message": record.getMessage()}
        out.update(getattr(record, "mockidp", None) or {})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure(level: str, fmt: str) -> None:
    """mockidp's own loggers to stderr at `level` in `fmt` (text | json)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger("mockidp")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def restyle_uvicorn(fmt: str) -> None:
    """uvicorn configures its own loggers when a server starts: give their handlers the same format."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter(fmt))
