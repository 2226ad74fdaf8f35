"""The import-direction contract of ``src/ravine`` (docs/architecture.md).

Layers, lowest first: core ← adapters ← tools ← cli. A module may import its own layer or
a lower one, never a higher one; no module imports itself through a chain of others
(every import counts, also the lazy ones inside functions: a circle is a circle even when
it is broken at run time by importing late); click is imported only under ``ravine/cli/``.

The imports are read from the source with ``ast`` (nothing is imported), so the test sees
what a reader of the code sees. ``test_an_upward_import_is_caught`` runs the same checks on
a copy of the tree with one upward import added, so the checks are shown to fail.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ravine"

#: top-level names under ravine/ → layer (0 lowest). A new module or package must be added here.
LAYERS = {
    "_version": 0,
    "_checks": 0,
    "_json": 0,
    "_cache": 0,
    "_renamed": 0,
    "_signals": 0,
    "_fallback": 0,
    "_keyvalue": 0,
    "_markup": 0,
    "rules": 0,
    "problems": 0,
    "schedules": 0,
    "analysis": 0,
    "runner": 1,
    "optim": 1,
    "tables": 2,
    "step_tables": 2,
    "lectures": 2,
    "plot": 2,
    "gallery": 2,
    "explorer": 2,
    "train": 2,
    "benchmark": 2,
    "landscape": 2,
    "cli": 3,
    "__init__": 4,
    "__main__": 4,
}
LAYER_NAMES = ("core", "adapter", "tool", "cli", "package face")


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules(root: Path) -> dict[str, Path]:
    return {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """The ravine modules that ``name`` imports, with line numbers (``from X import m`` counts
    as importing the module ``X.m`` where that is a module, else ``X``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.append((sub if sub in modules else mod, node.lineno))
    return [(m, line) for m, line in out if m.split(".")[0] in ("ravine", "click")]


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "ravine":
        return None
    key = parts[1] if len(parts) > 1 else "__init__"
    return LAYERS.get(key)


def check(root: Path) -> list[str]:
    """Every breach of the contract in the tree at ``root``, one line each."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    problems = []
    for name, path in modules.items():
        where = f"{path.relative_to(root.parent)}"
        own = _layer(name)
        if own is None:
            problems.append(f"{where}: {name.split('.')[1]!r} has no layer in LAYERS")
            continue
        graph[name] = set()
        for target, line in _imports(name, path, modules):
            if target.split(".")[0] == "click":
                if not name.startswith("ravine.cli"):
                    problems.append(f"{where}:{line}: imports click outside ravine/cli/")
                continue
            if target not in modules:
                continue
            graph[name].add(target)
            their = _layer(target)
            if their is not None and their > own:
                problems.append(f"{where}:{line}: {LAYER_NAMES[own]} imports {LAYER_NAMES[their]} {target}")
    # cycles: depth-first search over the module graph
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if n == m:
                continue
            if state.get(n) == 1:
                cyc = stack[stack.index(n) :] + [n]
                problems.append("import circle: " + " -> ".join(cyc))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return problems


def test_imports_point_down_only_without_circles_and_click_only_in_the_cli():
    problems = check(SRC)
    assert not problems, "\n".join(problems)


def test_every_module_is_read():
    """The checks see every file (a parse that found nothing would pass vacuously)."""
    mods = _modules(SRC)
    assert {"ravine.rules.adam", "ravine.optim", "ravine.cli.parse", "ravine.runner.numba_backend"} <= set(mods)
    edges = sum(len(_imports(n, p, mods)) for n, p in mods.items())
    assert edges > 100


@pytest.mark.parametrize(
    "file,line,expect",
    [
        ("rules/sgd.py", "from ..plot import contour\n", "core imports tool ravine.plot"),
        ("runner/result.py", "from ..cli import main\n", "adapter imports cli ravine.cli"),
        ("problems/base.py", "import click\n", "imports click outside ravine/cli/"),
        ("rules/ops.py", "from . import sgd\n", "import circle"),
    ],
)
def test_an_upward_import_is_caught(tmp_path, file, line, expect):
    copy = tmp_path / "ravine"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    target = copy / file
    target.write_text(target.read_text(encoding="utf-8") + "\n\ndef _injected():\n    " + line, encoding="utf-8")
    problems = check(copy)
    assert any(expect in p for p in problems), problems
