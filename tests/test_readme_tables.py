"""The README's tables of endpoint names and of controls are checked against the code (issue 22): a new endpoint,
control method or /_mockidp/ route that the README does not list fails here."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path

from starlette.routing import Route

from mockidp.control.routes import control_routes
from mockidp.control.surface import Control
from mockidp.engine import Engine
from mockidp.harness import MockIdp

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("readme_tables", REPO / "tools" / "readme_tables.py")
assert spec and spec.loader
readme_tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_tables)


def controls_table() -> list[str]:
    section = (REPO / "README.md").read_text().split("### Every control, in Python and over HTTP", 1)[1]
    table = section.split("\n| control |", 1)[1].split("\n\n", 1)[0]
    return [line for line in table.splitlines() if line.startswith("| ")]


def test_the_endpoint_names_table_is_generated_from_the_registry() -> None:
    in_readme = readme_tables.current((REPO / "README.md").read_text())
    assert in_readme == readme_tables.endpoint_table(), "run: .venv/bin/python tools/readme_tables.py"


def test_every_python_control_is_in_the_table_and_every_name_there_exists() -> None:
    rows = "\n".join(controls_table())
    named = set(re.findall(r"mockidp\.control\.(\w+)", rows))
    public = {name for name, _ in inspect.getmembers(Control, inspect.isfunction) if not name.startswith("_")}
    assert public - named == set(), "controls missing from the README's table"
    assert named - public == set(), "the README's table names controls that do not exist"
    handle = set(re.findall(r"`mockidp\.(\w+)\(", rows)) - {"control"}
    assert handle and all(hasattr(MockIdp, name) for name in handle), handle


def test_every_control_route_is_in_the_table(tmp_path: Path) -> None:
    rows = "\n".join(controls_table())
    listed = set()
    for cell in re.findall(r"((?:GET|POST|PATCH|DELETE) /_mockidp/[^\s`,]*)", rows):
        method, path = cell.split(" ")
        listed.add((method, path))
    routes = {(m, r.path) for r in control_routes(Engine(state_dir=tmp_path)) if isinstance(r, Route) for m in (r.methods or ()) if m != "HEAD"}

    def covers(route: tuple[str, str], cell: tuple[str, str]) -> bool:  # /keys/{authority}/{action} covers .../rotate
        pattern = re.sub(r"\\\{\w+(?::\w+)?\\\}", "[^/]+", re.escape(route[1]))  # re.escape turns { into \{
        return route[0] == cell[0] and re.fullmatch(pattern, cell[1]) is not None

    assert {r for r in routes if not any(covers(r, c) for c in listed)} == set(), "control routes missing from the README's table"
    assert {c for c in listed if not any(covers(r, c) for r in routes)} == set(), "the README's table lists routes that do not exist"
