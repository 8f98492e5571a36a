"""Every snippet of the README and the guides runs as written (issue 15, item 7), and the guides cite sources a
reader of the repository can open.

- A ```python block that defines `test_` functions is a user's test file: pytester runs it (the README's "Testing
  your client" blocks are run by test_readme.py, so they are left out here).
- Any other ```python block is the body of a test that has the `mockidp` fixture, as the guides say.
- A ```sh block with curl lines runs in bash (`set -euo pipefail`: an undefined variable fails it, and curl fails
  on an HTTP error) against a served mockidp whose state dir is `$HOME/.cache/mockidp`, the port 8443 of the text
  being that server's port.
- A block right after `<!-- not run: reason -->` is skipped for that reason (a browser, Docker, Java).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import jwt  # noqa: F401 - imported before pytester's in-process runs, so their module snapshots keep one copy
import pytest
import requests  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- not run: [^>]*-->\n)?```(\w*)\n(.*?)```", re.DOTALL)


def blocks(lang: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        if doc.name == "README.md":  # test_readme.py runs this section's examples
            head, _, rest = text.partition("## Testing your client")
            text = head + "\n## " + rest.split("\n## ", 1)[-1]
        for i, m in enumerate(BLOCK.finditer(text)):
            if m.group(2) == lang and not m.group(1):
                found.append((f"{doc.name}#{i}", m.group(3)))
    return found


PYTHON = blocks("python")
SHELL = [(name, body) for name, body in blocks("sh") if "curl " in body]


def test_guides_cite_no_files_beside_the_repository() -> None:
    for doc in [*DOCS, REPO / "examples" / "client-project" / "README.md"]:
        assert "shared/" not in doc.read_text(), f"{doc.name} cites shared/, which no reader of the repository has"


def test_there_are_snippets_to_run() -> None:
    assert len(PYTHON) >= 8 and len(SHELL) >= 4


@pytest.mark.parametrize("source", [b for _, b in PYTHON], ids=[n for n, _ in PYTHON])
def test_python_snippet_runs(pytester: pytest.Pytester, source: str) -> None:
    if not re.search(r"^def test_", source, re.MULTILINE):
        fixtures = ", ".join(["mockidp", *(["httpserver"] if "httpserver" in source else [])])
        source = f"def test_snippet({fixtures}):\n" + textwrap.indent(source, "    ")
    pytester.makepyfile(test_snippet=source)
    result = pytester.runpytest_subprocess("-p", "no:randomly")  # a snippet may set os.environ: not in this process
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1 and not outcomes.get("failed") and not outcomes.get("errors"), result.stdout.str()[-3000:]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    home = tmp_path_factory.mktemp("home")
    proc = subprocess.Popen([sys.executable, "-m", "mockidp", "--state-dir", str(home / ".cache" / "mockidp"), "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # readiness: its own line
        lines.append(line)
        if line.startswith("mockidp is ready"):
            break
    port = int(re.search(r"https://127\.0\.0\.1:(\d+)", "".join(lines)).group(1))  # type: ignore[union-attr]
    yield port, home
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("source", [b for _, b in SHELL], ids=[n for n, _ in SHELL])
def test_shell_snippet_runs(served: tuple[int, Path], source: str) -> None:
    port, home = served
    prelude = 'set -euo pipefail\ncurl() { command curl --silent --show-error --fail-with-body "$@"; echo; }\n'
    script = prelude + source.replace(":8443", f":{port}")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(home)})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
