"""What the pytest plugin costs a pytest start that never uses a fixture (issue 22: pytest imports every installed
pytest11 plugin at start; the target is < 50 ms added). Measured with `python -X importtime` in fresh
interpreters: the cumulative import time of `mockidp.pytest_plugin` in a process that has imported pytest already,
which is what the plugin adds. Wall time of whole pytest starts was tried and dropped: a start with this venv's
plugins takes seconds on 2 shared cores and varies by more than the figure measured.

    .venv/bin/python benchmarks/plugin_import.py     # prints the rows; ./run bench includes them
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Callable

PY = sys.executable
TARGET_MS = 50.0


def import_ms() -> float:
    out = subprocess.run([PY, "-X", "importtime", "-c", "import pytest; import mockidp.pytest_plugin"],
                         capture_output=True, text=True, check=True).stderr
    # "import time: self [us] | cumulative | imported package": the plugin's cumulative figure includes the
    # `mockidp` package and everything the plugin imports that pytest had not
    line = next(ln for ln in out.splitlines() if ln.rstrip().endswith("| mockidp.pytest_plugin"))
    return int(line.split("|")[1]) / 1000


def rows(row: Callable[..., None], runs: int = 7) -> None:
    imports = statistics.median(import_ms() for _ in range(runs))
    row("pytest plugin import (python -X importtime, pytest already imported)", f"{imports:.1f} ms (median of {runs})",
        f"< {TARGET_MS:.0f} ms added to a pytest start (issue 22)", imports < TARGET_MS)


if __name__ == "__main__":
    def show(metric: str, measured: str, target: str = "-", met: bool | None = None) -> None:
        print(f"| {metric} | {measured} | {target} | {'-' if met is None else ('met' if met else 'MISSED')} |")

    rows(show)
