"""The house rules that keep the package readable: small modules, no import circle, and the
layer contract of ``pyproject.toml`` (also run by ``make test`` as ``lint-imports``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parents[1] / "fields"
MAX_LINES = 400


def test_no_module_is_longer_than_400_lines():
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_between_modules():
    imports = grimp.build_graph("fields")
    modules = {m for m in imports.modules if m.startswith("fields")}
    graph = {
        m: {
            dep
            for dep in imports.find_modules_directly_imported_by(m)
            if dep in modules and not dep.startswith(m + ".")  # a package's own __init__ re-exports
        }
        for m in modules
    }
    # a package __init__ that only re-exports its children is not a module of its own layer
    packages = {
        m for m in modules if (PACKAGE.parent / m.replace(".", "/") / "__init__.py").exists()
    }
    graph = {m: {d for d in deps if d not in packages} for m, deps in graph.items()}
    assert not _cycles(graph)


def test_the_layer_contract_holds():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "lint-imports is installed with the test extra"
    proc = subprocess.run([lint], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "0 broken" in proc.stdout
