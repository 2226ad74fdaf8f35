"""Layer rule: landscape is a tool; core and adapters never import it; click only in its CLI."""

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "ravine"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            out.add(("." * node.level) + mod)
    return out


def test_core_and_adapters_do_not_import_landscape():
    core = [SRC / d for d in ("rules", "problems", "optim")] + [
        SRC / f for f in ("analysis.py", "schedules.py", "runner.py")
    ]
    files = [p for c in core for p in ([c] if c.is_file() else c.rglob("*.py"))]
    assert len(files) > 10
    for f in files:
        bad = [m for m in _imports(f) if "landscape" in m]
        assert not bad, (f, bad)


def test_click_only_in_the_cli_module():
    for f in (SRC / "landscape").glob("*.py"):
        if f.name != "cli.py":
            assert not any(m.split(".")[0] == "click" for m in _imports(f)), f


def test_import_ravine_does_not_import_landscape():
    code = "import sys, ravine; print('ravine.landscape' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
