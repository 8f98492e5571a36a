"""The README's "Testing your client" examples are executed, as a user's test files, by pytester."""

from __future__ import annotations

import re
from pathlib import Path

import jwt  # noqa: F401 - imported before pytester's in-process runs, so their module snapshots keep one copy
import pytest
import requests  # noqa: F401

README = Path(__file__).resolve().parent.parent / "README.md"


def examples() -> list[str]:
    text = README.read_text()
    section = text.split("## Testing your client", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(examples()) >= 3


@pytest.mark.parametrize("index", range(len(examples())))
def test_readme_example_passes(pytester: pytest.Pytester, index: int) -> None:
    source = examples()[index]
    pytester.makepyfile(test_example=source)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    tests = len(re.findall(r"^def test_", source, re.MULTILINE))
    params = re.search(r"parametrize\([^\[]*\[([^\]]*)\]", source)
    expected = tests if params is None else tests - 1 + len(params.group(1).split(","))
    result.assert_outcomes(passed=expected)
