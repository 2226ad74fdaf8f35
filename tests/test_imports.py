"""`import ravine` stays light: no torch, matplotlib, web stack, Ray, Numba or SymPy."""

import subprocess
import sys

HEAVY = (
    "torch",
    "matplotlib",
    "fastapi",
    "uvicorn",
    "starlette",
    "plotly",
    "ray",
    "numba",
    "sympy",
    "sklearn",
    "IPython",
)


def _imported_after(code):
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    names = set()
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_import_ravine_loads_no_heavy_library():
    names = _imported_after("import ravine")
    assert "ravine" in names and "numpy" in names  # the measurement works
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


def test_cli_help_loads_no_heavy_library():
    names = _imported_after("from ravine.cli import cli; cli.main(['--help'], standalone_mode=False)")
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


def test_rules_problems_schedules_analysis_import_light():
    names = _imported_after("import ravine.rules, ravine.problems, ravine.schedules, ravine.analysis, ravine.runner")
    assert not names & set(HEAVY), sorted(names & set(HEAVY))
