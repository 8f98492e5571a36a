"""The suite uses mockidp's own pytest plugin (installed as a pytest11 entry point): one HTTPS server per session."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
KEYS = REPO / "keys"


@pytest.fixture
def http(mockidp):  # type: ignore[no-untyped-def]
    with mockidp.http() as client:
        yield client
