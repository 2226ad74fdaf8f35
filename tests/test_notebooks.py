"""The example notebooks in docs/notebooks/ run, cell by cell, in a real Jupyter kernel
(nbclient + ipykernel, as `jupyter nbconvert --execute` does), and show rich output: the step
table and the run as HTML tables, the figure as a PNG, with no ``%matplotlib inline``."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
PNG = b"\x89PNG\r\n\x1a\n"


def test_there_is_an_example_notebook():
    assert [p.name for p in NOTEBOOKS] == ["first_steps.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_a_kernel_with_tables_and_pictures(path, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    # the kernel imports the ravine under test (this checkout's src, wherever pytest found it)
    import ravine

    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(Path(ravine.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    # a kernel spec of this interpreter only (not whatever "python3" the user's Jupyter knows)
    spec = tmp_path / "jupyter" / "kernels" / "ravine-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "ravine test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="ravine-test", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on the first cell that fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o.data for o in outputs if o.output_type == "execute_result"]
    assert len(shown) == 3  # the step table, the run, the figure: each its cell's value
    table, run, figure = shown
    for data in (table, run):
        assert data["text/html"].startswith('<table class="ravine-table">') and "<td" in data["text/html"]
        assert data["text/markdown"].count("\n|") >= 3
    assert "heavy ball" in run["text/html"] and "gradient descent" in run["text/html"]
    assert base64.b64decode(figure["image/png"]).startswith(PNG)
    assert not list(tmp_path.glob("*.png"))  # shown, not written anywhere
