#!/usr/bin/env python3
"""Structure checks `./run test` makes before pytest (issue 17): no import cycle among the modules of a package,
counting every import anywhere in a file (inside functions and `if TYPE_CHECKING:` blocks too), and no module over
a line budget. Reads the files as text (ast); runs none of them.

    python scripts/check_structure.py [PACKAGE_DIR] [--max-lines N]
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The package's modules this file imports, resolved to module names (a submodule when `from pkg import sub`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a module a.b.c, else its nearest known parent
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check(root: Path, max_lines: int) -> list[str]:
    files = {module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    known = set(files)
    graph = {name: imports_of(path, name, path.name == "__init__.py", known) for name, path in files.items()}
    problems = []
    for component in cycles(graph):
        ties = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component]
        problems.append(f"import cycle among {len(component)} modules: " + "; ".join(ties))
    for path in files.values():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > max_lines:
            problems.append(f"{path}: {lines} lines (the budget is {max_lines})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", default=str(Path(__file__).resolve().parent.parent / "mockidp"))
    parser.add_argument("--max-lines", type=int, default=400)
    args = parser.parse_args(argv)
    problems = check(Path(args.package).resolve(), args.max_lines)
    for problem in problems:
        print(f"structure: {problem}", file=sys.stderr)
    if not problems:
        print(f"structure: {args.package}: no import cycle, no module over {args.max_lines} lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
