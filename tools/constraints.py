"""Write constraints.txt: every runtime dependency of mockidp (pyproject's `dependencies` and what they need in
turn, and the `redis` extra) pinned to the version installed in this environment. The container installs the wheel with
`pip install --constraint constraints.txt`, so an image built later gets the versions the suite ran with.

    ./run constraints        # = .venv/bin/python tools/constraints.py > constraints.txt
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# The container is Linux: evaluate markers for it, whatever machine writes the file.
LINUX = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "extra": ""}


def runtime_requirements() -> list[Requirement]:
    """The dependencies and the `redis` extra, which the image installs too (`--store redis://...`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["redis"]]]


def closure(requirements: list[Requirement]) -> dict[str, str]:
    """{canonical name: installed version} of the requirements and everything they require (markers for Linux)."""
    pinned: dict[str, str] = {}
    todo = [r for r in requirements if r.marker is None or r.marker.evaluate(LINUX)]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in pinned:
            continue
        dist = metadata.distribution(req.name)
        pinned[name] = dist.version
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or sub.marker.evaluate(LINUX):
                todo.append(sub)
    return pinned


def main() -> int:
    pins = closure(runtime_requirements())
    print("# mockidp's runtime dependencies as the test suite ran them; written by `./run constraints` (tools/constraints.py).")
    for name in sorted(pins):
        print(f"{name}=={pins[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
