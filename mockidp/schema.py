"""Typed world data from TOML/JSON: a dataclass is built from a table, every value checked against its type hint;
an error names the source, the key path and what is wrong, and unknown keys are rejected. Core: it knows no
authority; each authority's world dataclasses (and world.py, which assembles them) build on it."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T")


class WorldError(ValueError):
    def __init__(self, source: str, path: str, message: str) -> None:
        super().__init__(f"{source}: {path or '<top>'}: {message}")
        self.source, self.path, self.message = source, path, message


@functools.cache
def _schema(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A world dataclass's type hints and its fields a world file may set. Resolving the hints (string annotations)
    is ~0.3 ms a class: once per class, not once per client, or a world of 100,000 clients took 20 s to load."""
    return get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}


def build(cls: type[T], data: Any, source: str, path: str) -> T:
    if not isinstance(data, dict):
        raise WorldError(source, path, f"expected a table, got {_kind(data)}")
    hints, fields = _schema(cls)  # type: ignore[arg-type]  # a dataclass type is hashable; mypy types T loosely here
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise WorldError(source, _join(path, unknown[0]), f"unknown key (allowed: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, f in fields.items():
        sub = _join(path, name)
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], source, sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise WorldError(source, sub, "missing required key")
    return cls(**kwargs)


def _convert(tp: Any, value: Any, source: str, path: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        errors = []
        for a in inner:
            try:
                return _convert(a, value, source, path)
            except WorldError as exc:
                errors.append(exc.message)
        raise WorldError(source, path, " or ".join(errors))
    if origin is Literal:
        if value not in args:
            raise WorldError(source, path, f"must be one of {', '.join(repr(a) for a in args)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise WorldError(source, path, f"expected an array, got {_kind(value)}")
        return [_convert(args[0], v, source, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise WorldError(source, path, f"expected a table, got {_kind(value)}")
        return {str(k): _convert(args[1], v, source, _join(path, str(k))) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build(tp, value, source, path)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (str, int, bool, float):
        if type(value) is not tp:
            raise WorldError(source, path, f"expected {_name(tp)}, got {_kind(value)} {value!r}")
        return value
    raise TypeError(f"world schema uses an unsupported type {tp!r} at {path}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _name(tp: type) -> str:
    return {str: "a string", int: "an integer", bool: "a boolean", float: "a number"}.get(tp, tp.__name__)


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer", float: "a number"}.get(
        type(value), type(value).__name__
    )
