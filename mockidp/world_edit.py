"""Runtime world changes, as pure functions over a world: address a part by path (`avaya/realms/demo-account/
clients`), add or replace an item (validated as a world file would be), remove one. The engine applies a change
all-or-nothing (`Engine.change_world`); the control surface and the authorities (Lumen's `register_app`) call it."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args, get_origin, get_type_hints

from mockidp.schema import WorldError, build


class ControlError(ValueError):
    """A control request that cannot be carried out (unknown names, bad values); `status` for the HTTP face."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def key_of(item: Any) -> str:
    """List items are addressed by their first field (account_id, client_id, username, tenant_id, ...)."""
    return str(getattr(item, dataclasses.fields(item)[0].name))


def item_of(items: list[Any], key: str, where: str) -> Any:
    for item in items:
        if dataclasses.is_dataclass(item) and key_of(item).lower() == key.lower():
            return item
    raise ControlError(f"no {where}", 404)


def walk(world: Any, path: str) -> tuple[Any, str]:
    """Resolve `avaya/realms/demo-account/clients` to (the list or item, the last segment)."""
    node: Any = world
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts:
        raise ControlError("name a part of the world, e.g. avaya/realms/demo-account/clients")
    i = 0
    while i < len(parts):
        name = parts[i]
        if not dataclasses.is_dataclass(node) or name not in {f.name for f in dataclasses.fields(node)}:
            raise ControlError(f"no world key {name!r} at /{'/'.join(parts[:i])}", 404)
        node = getattr(node, name)
        i += 1
        if isinstance(node, list) and i < len(parts):
            node = item_of(node, parts[i], "/".join(parts[: i + 1]))
            i += 1
    return node, parts[-1]


def as_json(node: Any) -> Any:
    if isinstance(node, list):
        return [dataclasses.asdict(n) if dataclasses.is_dataclass(n) and not isinstance(n, type) else n for n in node]
    return dataclasses.asdict(node) if dataclasses.is_dataclass(node) and not isinstance(node, type) else node


def replace_section(world: Any, name: str, data: dict[str, Any]) -> None:
    """Put a whole section, as `as_json` gave it, in place of the world's (what another process changed)."""
    current = getattr(world, name)
    try:
        setattr(world, name, build(type(current), data, "shared world change", name))
    except WorldError as exc:
        raise ControlError(str(exc)) from exc


def settings_of(section: Any) -> dict[str, Any]:
    """A section's settings: its fields that hold one value (a number, a flag, a name), not its lists and tables."""
    hints = get_type_hints(type(section))
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(section)
            if hints[f.name] in (bool, int, float, str) or get_origin(hints[f.name]) is Literal}


def set_settings(section: Any, name: str, settings: Any) -> dict[str, Any]:
    """Change some of a section's settings in place, each validated as a world file's would be; the settings after."""
    allowed = settings_of(section)
    if not isinstance(settings, dict) or not settings:
        raise ControlError(f"a JSON object of {name} settings to change, of: {', '.join(sorted(allowed))}")
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ControlError(f"{name} has no setting {', '.join(map(repr, unknown))}; its settings: {', '.join(sorted(allowed))}")
    try:
        built = build(type(section), {**as_json(section), **settings}, "control", name)
    except WorldError as exc:
        raise ControlError(str(exc)) from exc
    for key in settings:
        setattr(section, key, getattr(built, key))
    return settings_of(section)


def add(world: Any, path: str, item: dict[str, Any]) -> Any:
    """Add (or replace, by its key) one item in a list of `world`, built from JSON as a world file's item is."""
    parent_path, _, field_name = path.strip("/").rpartition("/")
    parent = walk(world, parent_path)[0] if parent_path else world
    items = getattr(parent, field_name, None)
    if not isinstance(items, list):
        raise ControlError(f"{path} is not a list of the world", 404)
    item_type = get_args(get_type_hints(type(parent))[field_name])[0]
    try:
        built = build(item_type, item, "control", path)
    except WorldError as exc:
        raise ControlError(str(exc)) from exc
    items[:] = [i for i in items if key_of(i).lower() != key_of(built).lower()] + [built]
    return built


def remove(world: Any, path: str) -> None:
    parent_path, _, key = path.strip("/").rpartition("/")
    items, _ = walk(world, parent_path)
    if not isinstance(items, list):
        raise ControlError(f"{parent_path} is not a list of the world", 404)
    items.remove(item_of(items, key, path))
