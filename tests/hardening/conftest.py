"""Hardening tests: print how many generated requests each fuzz module sent."""

from __future__ import annotations

from typing import Any

from hardening.support import SENT


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SENT:
        terminalreporter.write_sep("-", "mockidp hardening")
        for name, count in sorted(SENT.items()):
            terminalreporter.write_line(f"{name}: {count} generated requests sent")
