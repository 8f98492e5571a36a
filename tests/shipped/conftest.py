"""mockidp as users get it: the wheel built from the source tree, installed (not editable) into a fresh venv
outside the checkout, and run from temporary directories, never from the repository.

The wheel and the venv are built once per test run (xdist workers share them, under a lock); pip takes every
package from its cache or the configured registries, as a user's `pip install` does."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What the client project needs besides mockidp (its requirements.txt), in the versions this suite runs with,
# so pip finds them in its cache.
CLIENT_REQUIREMENTS = REPO / "examples" / "client-project" / "requirements.txt"
CLIENT_DEPS = [line.strip() for line in CLIENT_REQUIREMENTS.read_text().splitlines() if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Shipped:
    root: Path
    wheel: Path
    sdist: Path
    wheel_from_sdist: Path
    venv: Path

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name

    @property
    def package_dir(self) -> Path:
        return Path(self.run_python("import mockidp, os; print(os.path.dirname(mockidp.__file__))").strip())

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user's shell: no trace of this test run or of the checkout's venv."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV", "MOCKIDP_"))}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra)
        return env

    def run_python(self, code: str) -> str:
        out = subprocess.run([str(self.bin("python")), "-c", code], capture_output=True, text=True, env=self.env(), cwd=self.root, check=True)
        return out.stdout


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def _source_tree(dest: Path) -> None:
    """The files a clone would hold (tracked, plus new files not ignored): no .venv, build/ or egg-info."""
    listed = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], REPO).split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _only(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def _build(root: Path) -> Shipped:
    src = root / "src"
    _source_tree(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(root / "wheel"), str(src)], root)
    # The sdist, and a wheel from the unpacked sdist, through the PEP 517 hooks of the backend pyproject names
    # (pip builds no sdists).
    requires = tomllib.loads((src / "pyproject.toml").read_text())["build-system"]["requires"]
    _run([*pip, "install", "--quiet", "--target", str(root / "backend"), *requires], root)
    backend = {**os.environ, "PYTHONPATH": str(root / "backend")}
    hook = "import sys; from setuptools import build_meta as b; print(getattr(b, sys.argv[1])(sys.argv[2]))"
    _run([sys.executable, "-c", hook, "build_sdist", str(root / "sdist")], src, env=backend)
    sdist = _only(root / "sdist", "*.tar.gz")
    shutil.unpack_archive(sdist, root / "unpacked")
    _run([sys.executable, "-c", hook, "build_wheel", str(root / "wheel-from-sdist")], _only(root / "unpacked", "mockidp-*"), env=backend)
    # A fresh venv; this suite's pip installs into it (`pip --python`), which spares the venv a pip of its own.
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root)
    wheel = _only(root / "wheel", "*.whl")
    pins = [f"{name}=={metadata.version(name)}" for name in CLIENT_DEPS]
    _run([*pip, "--python", str(venv / "bin" / "python"), "install", "--quiet",
          "--constraint", str(src / "constraints.txt"), f"{wheel}[redis]", *pins], root)  # as docs/scaling.md installs it
    return Shipped(root, wheel, sdist, _only(root / "wheel-from-sdist", "*.whl"), venv)


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Shipped:
    # xdist workers of one run share the parent of their temp dirs; a run without xdist has its own base.
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "mockidp-shipped"
    with open(shared / "mockidp-shipped.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "built"
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            built = _build(root)
            done.write_text("\n".join(str(p) for p in (built.wheel, built.sdist, built.wheel_from_sdist)))
        wheel, sdist, from_sdist = (Path(p) for p in done.read_text().splitlines())
    return Shipped(root, wheel, sdist, from_sdist, root / "venv")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory that is no checkout: nothing of the repository beside it."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    assert REPO not in cwd.parents
    return cwd


def wait_ready(proc: subprocess.Popen[str]) -> list[str]:
    """Readiness is the server's own line, printed once it listens."""
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith("mockidp is ready"):
            return lines
    raise AssertionError("mockidp serve exited before it was ready:\n" + "\n".join(lines))


@pytest.fixture
def serving(shipped: Shipped, outside: Path) -> Iterator[tuple[str, Path]]:
    """`mockidp serve` of the installed wheel, from a temporary directory: (its URL, its state dir)."""
    state, port = outside / "state", free_port()
    proc = subprocess.Popen([str(shipped.bin("mockidp")), "--state-dir", str(state), "serve", "--port", str(port)],
                            cwd=outside, env=shipped.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(proc)
        yield f"https://127.0.0.1:{port}", state
    finally:
        proc.terminate()
        proc.wait(10)
