"""The structure checker `./run test` runs before pytest (scripts/check_structure.py), tested on small packages
so that it is known to catch what it claims to."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_structure.py"
spec = importlib.util.spec_from_file_location("check_structure", SCRIPT)
assert spec and spec.loader
check_structure = importlib.util.module_from_spec(spec)
sys.modules["check_structure"] = check_structure
spec.loader.exec_module(check_structure)


def package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(
    "files",
    [
        {"a.py": "from pkg.b import x\n", "b.py": "import pkg.a\nx = 1\n"},
        {"a.py": "def f():\n    from pkg import b\n", "b.py": "from . import a\n"},  # inside a function, relative
        {"a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub.c import C\n",
         "sub/__init__.py": "", "sub/c.py": "from ..a import y\n"},  # a type-only import counts too
    ],
    ids=["top-level", "in-function-relative", "type-checking"],
)
def test_a_cycle_is_found_wherever_the_import_stands(tmp_path: Path, files: dict[str, str]) -> None:
    problems = check_structure.check(package(tmp_path, files), max_lines=400)
    assert len(problems) == 1 and problems[0].startswith("import cycle among 2 modules")


def test_one_way_imports_and_short_modules_pass(tmp_path: Path) -> None:
    root = package(tmp_path, {"a.py": "from pkg.b import x\nimport json\n", "b.py": "x = 1\n"})
    assert check_structure.check(root, max_lines=400) == []


def test_a_module_over_the_budget_is_named(tmp_path: Path) -> None:
    root = package(tmp_path, {"long.py": "x = 1\n" * 11})
    assert check_structure.check(root, max_lines=10) == [f"{root / 'long.py'}: 11 lines (the budget is 10)"]
