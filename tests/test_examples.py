"""The example client project (examples/client-project) passes, run as its own pytest session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent / "examples" / "client-project"


def test_example_client_project_passes() -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", str(PROJECT)], capture_output=True, text=True, cwd=PROJECT, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
    tests = sum(1 for line in (PROJECT / "tests" / "test_clients.py").read_text().splitlines() if line.startswith("def test_"))
    assert f"{tests} passed" in result.stdout
