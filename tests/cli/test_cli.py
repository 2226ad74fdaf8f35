"""The core CLI: list, run, analyze; bad input exits 2 with one line."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ravine.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ravine(*args, timeout=None):
    """The real entry point in a subprocess (exit codes and stderr as a user sees them).

    ``timeout``: a bound on a command that must not hang or do the work it should refuse
    (a hang raises subprocess.TimeoutExpired); generous, so a loaded machine never trips it."""
    return subprocess.run([sys.executable, "-m", "ravine.cli", *args], capture_output=True, text=True, timeout=timeout)


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


def test_analyze_the_lecture_slide():
    r = invoke("analyze", "lecture_bowl3d")
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
        (["run", "adam(eps=-1)"], "eps must be"),
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


# ----------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "adam", "--output", "/nonexistent-dir/x.json"], "--output: cannot write"),
        (["run", "adam", "--output", "/proc/x.json"], "--output: cannot write"),
        (["run", "adam", "--output", "/"], "directory"),
        (["explain", "adam", "--problem", "rosenbrock", "--output", "/nonexistent-dir/t.txt"], "--output"),
        (["explain", "adam", "--problem", "rosenbrock", "--steps", "100000"], "--steps"),
        (["plot", "adam", "-o", "/nonexistent-dir/p.png"], "-o: cannot write"),
        (
            [
                "sweep",
                "sgd",
                "-p",
                "ellipse",
                "--x",
                "lr=0.01:1:200",
                "--y",
                "momentum=0:0.9:200",
                "--steps",
                "2000",
                "-o",
                "/tmp/s.png",
            ],
            "cells",
        ),
        (["train", "--out", "/proc/ravine-train", "--epochs", "1"], "--out: cannot write"),
        (["train", "--opt", "lr=0.1"], "--opt"),
        (["train", "--epochs", "10000000"], "--epochs"),
        (["run", "adam", "--steps", "100000000"], "--steps"),
        (["run", "adam", "--steps", "1000000", "--format", "json", "-s", "1,1", "-s", "2,2", "-s", "0,0"], "record"),
        (["run", "adam", "--noise", "nan"], "--noise"),
        (["run", "adam", "--tol", "inf"], "--tol"),
        (["run", "adam", "--formula", ""], "--formula: empty formula"),
        (["run", "adam", "--formula", "sigmoid(" * 38 + "x*y" + ")" * 38], "formula: "),
        (["run", "adam", "--formula", "x^2 + \u0445^2"], "U+0445"),
        (["run", "adam", "--formula", "inf*x"], "infinity"),
        (["run", "adam", "--formula", "x^2 + 10y^2"], "--formula: '10y' at column 9: write 10*y (multiplication"),
        (["explain", "adam", "--formula", "x^2 + y^2", "--variables", "x,_y"], "--variables: '_y' may not"),
        (
            ["plot", "adam", "-p", "rosenbrock", "--window=-1,1", "-o", "/tmp/s.png"],
            "--window: expected 4 numbers x0,x1,y0,y1 (the low",
        ),
        (
            ["plot", "adam", "-p", "rosenbrock", "--window=1,-1,0,1", "-o", "/tmp/s.png"],
            "--window: x0 must be < x1, got x0=1 and x1=-1",
        ),
        (["run", "windowed_rmsprop(window=1000000000)"], "window must be <= 1000000"),
        (["run", "windowed_rmsprop(window=1000)", "--steps", "10000", "--format", "json"], "would record"),
    ],
)
def test_hostile_input_exits_2_with_one_line(args, needle):
    r = ravine(*args, timeout=120)  # refused before the work: doing it would take far longer
    assert r.returncode == 2, (r.returncode, r.stderr[-500:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ravine: error:") and needle in lines[0], r.stderr[-500:]
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "formula",
    ["x*54**0.7777777", "sin(10**100) + x", "(2**(1/3)+3**(1/5)+5**(1/7))**100*x", "pi*x^2", "\u03c0*x^2"],
)
def test_formulas_that_hung_or_crashed_now_run(formula):
    r = ravine("run", "sgd(lr=0.001)", "--formula", formula, "--steps", "5", "-s", "0.5", timeout=120)
    assert r.returncode == 0, r.stderr[-500:]


def _raise(exc):
    def f(*a, **k):
        raise exc

    return f


@pytest.mark.parametrize(
    "exc, code, needle",
    [
        (MemoryError(), 2, "ravine: error: out of memory"),
        (KeyboardInterrupt(), 130, "ravine: interrupted"),
        (OSError(28, "No space left on device", "out.json"), 2, "ravine: error: No space left on device: out.json"),
        (RecursionError(), 2, "ravine: error: the input is nested too deeply"),
    ],
)
def test_machine_limits_are_one_line(monkeypatch, capsys, exc, code, needle):
    import ravine.runner
    from ravine.cli import main

    monkeypatch.setattr(ravine.runner, "run", _raise(exc))
    with pytest.raises(SystemExit) as out:
        main(["run", "adam", "--steps", "1"])
    assert out.value.code == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith(needle), err


def test_ctrl_c_exits_130_without_a_traceback():
    import signal
    import time

    args = ["run", "newton", "exact_step", "--steps", "1000000", "-s", "1,1"]  # NumPy: minutes
    # Ctrl-C as a terminal delivers it: SIGINT at its default disposition in the child. A test
    # runner started in the background of a non-interactive shell (``cmd &``) ignores SIGINT,
    # the child would inherit that, and Python keeps an inherited SIG_IGN (no KeyboardInterrupt)
    p = subprocess.Popen(
        [sys.executable, "-m", "ravine.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    def cpu_seconds():
        with open(f"/proc/{p.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    t0 = time.monotonic()
    while cpu_seconds() < 3.0 and time.monotonic() - t0 < 60:  # past the imports, in the run
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # say what the process was doing with its signals, then fail
        with open(f"/proc/{p.pid}/status") as fh:
            sig = [ln for ln in fh.read().splitlines() if ln.startswith(("State", "Sig", "Shd"))]
        cpu = cpu_seconds()
        p.kill()
        p.communicate()
        pytest.fail(f"no exit 30 s after SIGINT (the process had used {cpu:.1f} CPU s): {sig}")
    assert p.returncode == 130, (p.returncode, err[-500:])
    assert err.strip().splitlines()[-1] == "ravine: interrupted" and "Traceback" not in err


def test_output_checked_before_the_work(tmp_path):
    import time

    t0 = time.monotonic()
    r = ravine("run", "adam", "--steps", "1000000", "--output", str(tmp_path / "missing" / "x.json"))
    assert r.returncode == 2 and time.monotonic() - t0 < 15  # no million steps first
    good = tmp_path / "x.csv"
    r = ravine("run", "adam", "--steps", "3", "--output", str(good))
    assert r.returncode == 0 and good.read_text().startswith(("label", "optimizer", "step", "trajectory"))
