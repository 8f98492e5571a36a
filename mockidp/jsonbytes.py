"""Compact UTF-8 JSON for what goes on the wire (token segments, reply bodies)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import orjson


def _value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):  # a NumericDate, as joserfc's claims encoder makes it
        return int(value.timestamp())
    raise TypeError(f"a value of type {type(value).__name__} is not JSON")


def dumps(value: Any) -> bytes:
    """orjson where it can; the standard library for what orjson refuses (an int past 64 bits, a non-string key)."""
    try:
        return orjson.dumps(value, default=_value, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_value).encode("utf-8")
