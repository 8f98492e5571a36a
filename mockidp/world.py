"""The world file (TOML): authorities' tenants, clients, users. Validated on load into typed dataclasses;
an error names the file, the key path and what is wrong, and unknown keys are rejected."""

from __future__ import annotations

import dataclasses
import functools
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from mockidp.authorities.avaya.authority import AvayaWorld
from mockidp.authorities.b2c.authority import B2CWorld
from mockidp.authorities.entra.authority import EntraWorld
from mockidp.authorities.lumen.authority import LumenWorld
from mockidp.authorities.opengateway.authority import OpenGatewayWorld
from mockidp.authorities.pfw.authority import PfwWorld
from mockidp.tls import parse_name

DEFAULT_WORLD = Path(__file__).with_name("default_world.toml")
# Ready worlds shipped as package data, so `--world avaya` works from a wheel as well as from a checkout.
BUILTIN_WORLDS = Path(__file__).parent / "data" / "worlds"
T = TypeVar("T")


class WorldError(ValueError):
    def __init__(self, source: str, path: str, message: str) -> None:
        super().__init__(f"{source}: {path or '<top>'}: {message}")
        self.source, self.path, self.message = source, path, message


@dataclass
class ServerSettings:
    base_url: str | None = None  # fixes every issuer's scheme://host[:port]; otherwise issuers follow the request
    seed: int = 1234  # Faker seed for identities the world leaves out
    journal_size: int = 1000
    hostnames: list[str] = field(default_factory=list)  # extra names for the TLS certificate


@dataclass
class World:
    server: ServerSettings = field(default_factory=ServerSettings)
    avaya: AvayaWorld = field(default_factory=AvayaWorld)
    entra: EntraWorld = field(default_factory=EntraWorld)
    b2c: B2CWorld = field(default_factory=B2CWorld)
    lumen: LumenWorld = field(default_factory=LumenWorld)
    pfw: PfwWorld = field(default_factory=PfwWorld)
    opengateway: OpenGatewayWorld = field(default_factory=OpenGatewayWorld)
    source: str = field(default="<memory>", metadata={"internal": True})


def builtin_worlds() -> dict[str, Path]:
    """The built-in worlds by name: `default` (the default world) and every file of mockidp/data/worlds."""
    return {"default": DEFAULT_WORLD, **{p.stem: p for p in sorted(BUILTIN_WORLDS.glob("*.toml"))}}


def resolve_world(name: str | Path, relative_to: Path | None = None) -> Path:
    """A world file's path: `name` as a path (relative to `relative_to` when given), else, when `name` is a bare
    name (no path separator, no `.toml`) that is no existing file, the built-in world of that name."""
    path = Path(name)
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    text = str(name)
    if path.exists() or "/" in text or "\\" in text or text.endswith(".toml"):
        return path
    builtin = builtin_worlds().get(text)
    if builtin is None:
        raise WorldError(text, "", f"no such file, and no built-in world of that name (built-in worlds: {', '.join(builtin_worlds())})")
    return builtin


def load_world(path: str | Path | None = None, *, relative_to: Path | None = None) -> World:
    path = resolve_world(path, relative_to) if path else DEFAULT_WORLD
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorldError(str(path), "", f"cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise WorldError(str(path), "", f"not valid TOML: {exc}") from exc
    return parse_world(data, str(path), base_dir=path.parent)


def parse_world(data: dict[str, Any], source: str = "<memory>", base_dir: Path | None = None) -> World:
    world = _build(World, data, source, "")
    world.source = source
    for i, name in enumerate(world.server.hostnames):  # each becomes a certificate SAN and a CA name constraint
        try:
            parse_name(name)
        except ValueError as exc:
            raise WorldError(source, f"server.hostnames[{i}]", str(exc)) from exc
    for section in (world.avaya, world.entra, world.b2c, world.lumen, world.pfw, world.opengateway):
        try:
            section.finish(base_dir or Path.cwd(), world.server.seed)
        except WorldError:
            raise
        except ValueError as exc:  # a cross-reference check inside a section
            path, _, message = str(exc).partition(": ")
            raise WorldError(source, path, message) from exc
    return world


@functools.cache
def _schema(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A world dataclass's type hints and its fields a world file may set. Resolving the hints (string annotations)
    is ~0.3 ms a class: once per class, not once per client, or a world of 100,000 clients took 20 s to load."""
    return get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}


def _build(cls: type[T], data: Any, source: str, path: str) -> T:
    if not isinstance(data, dict):
        raise WorldError(source, path, f"expected a table, got {_kind(data)}")
    hints, fields = _schema(cls)
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
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, source, path)
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


def world_as_dict(world: World) -> dict[str, Any]:
    """The world as JSON (secrets included: it is a mock)."""
    out = dataclasses.asdict(world)
    out.pop("source", None)
    return out
