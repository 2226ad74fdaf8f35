"""The core CLI: list, run, analyze; bad input exits 2 with one line."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ravine.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ravine(*args):
    """The real entry point in a subprocess (exit codes and stderr as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "ravine.cli", *args], capture_output=True, text=True)


def test_help_lists_every_command():
    r = invoke("--help")
    assert r.exit_code == 0
    for name in ("list", "run", "explain", "analyze", "demo", "plot", "animate", "sweep", "train", "serve"):
        assert name in r.output


def test_list():
    r = invoke("list", "optimizers")
    assert r.exit_code == 0 and "adam" in r.output and "windowed_rmsprop" in r.output
    r = invoke("list", "problems")
    assert "rosenbrock" in r.output and "sigmoid_neuron" in r.output


def test_run_text_and_json():
    r = invoke("run", "adam(lr=0.02)", "momentum", "--steps", "300", "--problem", "rosenbrock")
    assert r.exit_code == 0, r.output
    assert "adam(lr=0.02)" in r.output and "max_steps" in r.output
    r = invoke("run", "sgd(lr=0.1)", "--formula", "x**2 + 10*y**2", "-s", "1,1", "--steps", "5", "--format", "json")
    data = json.loads(r.output)
    traj = data["trajectories"][0]
    # GD written out: x ← x − 0.1·2x, y ← y − 0.1·20y
    assert traj["theta"][1] == pytest.approx([0.8, -1.0])
    assert len(traj["theta"]) == 6


def test_run_set_applies_to_every_optimizer_that_has_it():
    r = invoke(
        "run", "sgd", "adam", "--set", "lr=0.5", "--formula", "x**2", "-s", "1", "--steps", "1", "--format", "json"
    )
    data = json.loads(r.output)
    assert data["optimizers"]["sgd"]["lr"] == 0.5 and data["optimizers"]["adam"]["lr"] == 0.5


def test_analyze_the_seed_slide():
    r = invoke("analyze", "seed_bowl3d")
    assert r.exit_code == 0
    assert "0.33" in r.output and "minimum" in r.output and "lr_max (2/λmax)" in r.output


def test_analyze_json_saddle():
    r = invoke("analyze", "saddle", "--point", "0,0", "--no-search", "--format", "json")
    cp = json.loads(r.output)["critical_points"][0]
    assert cp["kind"] == "saddle" and cp["eigenvalues"] == [-2.0, 2.0]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "adamm"], "optimizer: unknown name 'adamm'"),
        (["run", "adam(lr=-1)"], "lr must be >= 0"),
        (["run", "adam(betas=0.9/1.5)"], "beta2 must be in [0, 1)"),
        (["run", "adam(eps=0)"], "eps must be > 0"),
        (["run", "windowed_rmsprop(window=0)"], "window"),
        (["run", "adam", "--problem", "nope"], "problem: unknown name"),
        (["run", "adam", "--formula", "__import__('os').system('id')"], "formula"),
        (["run", "adam", "--formula", "().__class__.__bases__"], "formula"),
        (["run", "adam", "--start", "1,2,3"], "start"),
        (["run", "adam", "--steps", "-1"], "--steps"),
        (["analyze", "--formula", "9**9**9"], "formula"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, needle):
    r = ravine(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ravine: error:") and needle in lines[0], r.stderr
    assert r.stdout == ""
