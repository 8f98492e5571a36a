"""The world file (TOML): authorities' tenants, clients, users. Validated on load into typed dataclasses;
an error names the file, the key path and what is wrong, and unknown keys are rejected."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockidp.registry import AUTHORITIES
from mockidp.schema import WorldError, build
from mockidp.tls import parse_name

__all__ = ["ServerSettings", "World", "WorldError", "load_world", "parse_world", "world_as_dict"]

DEFAULT_WORLD = Path(__file__).with_name("default_world.toml")
# Ready worlds shipped as package data, so `--world avaya` works from a wheel as well as from a checkout.
BUILTIN_WORLDS = Path(__file__).parent / "data" / "worlds"


@dataclass
class ServerSettings:
    base_url: str | None = None  # fixes every issuer's scheme://host[:port]; otherwise issuers follow the request
    seed: int = 1234  # Faker seed for identities the world leaves out
    journal_size: int = 1000
    hostnames: list[str] = field(default_factory=list)  # extra names for the TLS certificate


@dataclass
class WorldBase:
    """What every world has; `World` adds one section per registered authority (`world.avaya`, `world.entra`...)."""

    server: ServerSettings = field(default_factory=ServerSettings)
    source: str = field(default="<memory>", metadata={"internal": True})

    def __getattr__(self, name: str) -> Any:  # the sections `World` adds, as the type checker sees them
        raise AttributeError(f"the world has no section {name!r}")


# One section per authority of the registry, in its order; a world file's tables are these sections and `server`.
if TYPE_CHECKING:
    World = WorldBase
else:
    World = dataclasses.make_dataclass(
        "World", [(a.name, a.world_type, field(default_factory=a.world_type)) for a in AUTHORITIES], bases=(WorldBase,),
    )
    World.__module__ = __name__


def builtin_worlds() -> dict[str, Path]:
    """The built-in worlds by name: `default` (the default world) and every file of mockidp/data/worlds."""
    return {"default": DEFAULT_WORLD, **{p.stem: p for p in sorted(BUILTIN_WORLDS.glob("*.toml"), key=lambda p: p.stem)}}


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
    world = build(World, data, source, "")
    world.source = source
    for i, name in enumerate(world.server.hostnames):  # each becomes a certificate SAN and a CA name constraint
        try:
            parse_name(name)
        except ValueError as exc:
            raise WorldError(source, f"server.hostnames[{i}]", str(exc)) from exc
    for section in (getattr(world, a.name) for a in AUTHORITIES):
        try:
            section.finish(base_dir or Path.cwd(), world.server.seed)
        except WorldError:
            raise
        except ValueError as exc:  # a cross-reference check inside a section
            path, _, message = str(exc).partition(": ")
            raise WorldError(source, path, message) from exc
    return world


def world_as_dict(world: World) -> dict[str, Any]:
    """The world as JSON (secrets included: it is a mock)."""
    out = dataclasses.asdict(world)
    out.pop("source", None)
    return out
