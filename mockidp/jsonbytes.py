"""Compact UTF-8 JSON for what goes on the wire (token segments, reply bodies)."""

from __future__ import annotations

import datetime
import json
import re
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


MAX_DEPTH = 32  # no request body of an authority or the control plane nests deeper (a world item is ~4 levels)
# A JSON string, escapes included (brackets inside it are text). An unterminated one runs to the end, so every
# match attempt succeeds and the scan stays linear whatever the input (json.loads then refuses the body).
_STRINGS = re.compile(rb'"(?:[^"\\]+|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class JsonRefused(ValueError):
    """A body that is not a JSON object mockidp will take: too deep, not JSON, or not an object."""


def nesting_depth(raw: bytes, limit: int) -> int:
    """How deep arrays and objects nest in `raw`, counted without parsing it, up to `limit` + 1 (then it stops).
    The parsers recurse: json.loads raises RecursionError near 1,000 levels, and a structure it did parse may still
    overflow later (copying, encoding). Strings go first, then everything but brackets, so the loop sees brackets only."""
    depth = deepest = 0
    for byte in _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in b"[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def _constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number (RFC 8259 §6)")


def loads_object(raw: bytes, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """A request body as a JSON object; its nesting is bounded before it is parsed (its size is the reader's)."""
    if nesting_depth(raw, max_depth) > max_depth:
        raise JsonRefused(f"the body nests deeper than {max_depth} levels")
    try:
        data = json.loads(raw, parse_constant=_constant)
    except JsonRefused:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonRefused(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise JsonRefused("the body must be a JSON object")
    return data
