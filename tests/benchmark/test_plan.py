"""Planning, search spaces, metrics, report and export, in process."""

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from ravine.benchmark import metrics as M
from ravine.benchmark.plan import choose_best, final_rows, make_plan, run_sweep, tune_rows
from ravine.benchmark.report import summarize, write_report
from ravine.benchmark.space import (
    BENCH_OPTIMIZERS,
    RANGES,
    _kind,
    arms,
    default_tuned,
    rule_class,
    sobol_points,
    space_for,
)
from ravine.benchmark.store import Store
from support.bench import bench_env


def test_spaces_come_from_rule_fields_and_share_sobol_points():
    plan = make_plan("small", problems=["nqm", "wilson"], trials=8)
    rows = tune_rows(plan)
    pts = sobol_points(8, 0)
    assert pts.shape == (8, 4) and np.all((pts >= 0) & (pts < 1))
    assert np.array_equal(pts, sobol_points(8, 0)) and not np.array_equal(pts, sobol_points(8, 1))
    lo, hi, _ = RANGES["lr"]
    for r in rows:
        u = pts[r["point"]][0]
        assert r["hyper"]["lr"] == pytest.approx(lo * (hi / lo) ** u)  # the same lr point for everyone
        assert set(r["hyper"]) == set(rule_class(r["optimizer"]).Hyper._fields)  # defaults written out
    adam_all = [r for r in rows if r["optimizer"] == "adam" and r["protocol"] == "all"]
    adam_lr = [r for r in rows if r["optimizer"] == "adam" and r["protocol"] == "lr"]
    assert len({r["hyper"]["beta1"] for r in adam_all}) == 8
    assert {r["hyper"]["beta1"] for r in adam_lr} == {0.9} and {r["hyper"]["eps"] for r in adam_lr} == {1e-8}
    b1 = [1 - r["hyper"]["beta1"] for r in adam_all]
    assert min(b1) >= 1e-3 and max(b1) <= 0.5
    assert _kind(rule_class("adam"), "beta2") == "unit" and _kind(rule_class("adam"), "eps") == "positive"
    with pytest.raises(ValueError, match="has no hyperparameter 'betaz'"):
        _kind(rule_class("adam"), "betaz")
    assert space_for("adam").describe("all").count("log-uniform") == 4
    assert [d.name for d in space_for("rmsprop").dims] == ["lr", "alpha", "eps"]


def test_every_rule_with_a_torch_face_is_an_arm_tuning_what_its_spec_says():
    """An added rule is benchmarked with no line in the benchmark: its arm tunes lr and the
    searched reals with a non-zero default, which is what the plain arms list by hand."""
    import ravine.optim as ro

    for name, spec in BENCH_OPTIMIZERS.items():
        if not spec.fixed:
            assert default_tuned(rule_class(name)) == spec.tuned, name
    every = arms()
    decaying = {n for n, c in ro.OPTIMIZERS.items() if "weight_decay" in c._rule.Hyper._fields}
    assert {o.optim for o in every.values()} == decaying  # every problem sets a weight decay
    assert every["adamw"].tuned == ("lr", "beta1", "beta2", "eps") and every["adadelta"].tuned == ("lr", "rho", "eps")
    plan = make_plan("smoke", optimizers=["adadelta", "adam"])
    assert plan.optimizers == ("adadelta", "adam")
    assert space_for("adadelta").describe() == (
        "lr log-uniform [0.0001, 1]; 1−rho log-uniform [0.001, 0.5]; eps log-uniform [1e-10, 0.1]"
    )
    for name in ("nag", "yogi"):  # a look-ahead rule has no torch face; Yogi has no weight decay
        with pytest.raises(
            ValueError, match=rf"^--optimizers: unknown optimizer '{name}'; choose from sgd, .*, adamw(, \w+)*$"
        ):
            make_plan("smoke", optimizers=[name])


def test_tuning_reads_validation_never_test():
    rows = [
        {"point": 0, "status": "ok", "metrics": {"final_val": 0.2, "final_test": 0.01}},
        {"point": 1, "status": "ok", "metrics": {"final_val": 0.1, "final_test": 0.9}},
        {"point": 2, "status": "diverged", "metrics": {"final_val": None, "final_test": None}},
        {"point": 3, "status": "ok", "metrics": {"final_val": 0.1, "final_test": 0.5}},
    ]
    assert choose_best(rows, "err")["point"] == 1  # lowest val; ties → lowest point index


def test_expected_best_and_profiles():
    ks, e = M.expected_best([3.0, 1.0, 2.0])
    assert e[0] == pytest.approx(2.0)  # k = 1: the mean
    assert e[1] == pytest.approx(1 * 5 / 9 + 2 * 3 / 9 + 3 * 1 / 9)
    assert np.all(np.diff(e) <= 0) and e[-1] > 1.0
    assert M.expected_best([1.0, 2.0], ks=[100])[1][0] == pytest.approx(1.0)
    t = {"p1": {"a": 10.0, "b": 20.0, "c": math.inf}, "p2": {"a": 30.0, "b": 10.0, "c": math.inf}}
    r = M.performance_ratios(t)
    assert r["p1"] == {"a": 1.0, "b": 2.0, "c": math.inf}
    prof = M.performance_profiles(r, np.array([1.0, 2.0, 3.0, 4.0]))
    assert list(prof["a"]) == [0.5, 0.5, 1.0, 1.0] and list(prof["c"]) == [0, 0, 0, 0]
    s = M.profile_score(r)
    assert s["a"] == pytest.approx((1.0 + 1 / 3) / 2) and s["b"] == pytest.approx((2 / 3 + 1.0) / 2)
    assert s["c"] == 0.0


def test_diverged_trials_are_recorded_and_miss_the_target(tmp_path):
    # Rosenbrock with noisy gradients diverges for every SGD lr in [0.3, 1]
    plan = make_plan("smoke", problems=["rosenbrock"], optimizers=["sgd"], trials=2, seeds=2, ranges={"lr": (0.3, 1.0)})
    st = run_sweep(str(tmp_path / "d.db"), plan, workers=1, quiet=True)
    rows = st.rows("protocol != 'defaults'")
    assert rows and all(r["status"] == "diverged" for r in rows)
    assert all(r["metrics"]["steps_to_target"] == math.inf and r["metrics"]["final_val"] is None for r in rows)
    summ = summarize(st.rows(), plan.to_dict()["problem_specs"])
    assert summ[("lr", "rosenbrock", "sgd")]["diverged"] == 2
    assert summ[("lr", "rosenbrock", "sgd")]["steps_to_target"] == math.inf
    assert summ[("lr", "rosenbrock", "sgd")]["test_mean"] == math.inf
    # planning the final phase again is idempotent
    assert st.add_planned(final_rows(plan, st)) == 0
    md = open(write_report(st, tmp_path / "rep")).read()
    assert "div." in md and "∞" in md


def test_report_and_export(tmp_path, smoke_reference):
    st = Store.open(smoke_reference, create=False)
    md = open(write_report(st, tmp_path / "rep")).read()
    for section in (
        "Search spaces",
        "lr-only tuning",
        "all-hyperparameter tuning",
        "ranking changes",
        "performance profiles",
        "Learning curves",
        "sensitivity",
        "after k trials",
        "relative to SGD",
        "Versions:",
        "Hardware:",
        "seeds 1…2",
    ):
        assert section in md, section
    for png in ("profiles.png", "sensitivity.png", "best_of_k.png", "curves_nqm.png", "curves_digits_logreg.png"):
        assert (tmp_path / "rep" / png).stat().st_size > 1000
    from ravine.benchmark.export import export

    n = export(st, str(tmp_path / "t.csv"))
    with open(tmp_path / "t.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n == len(st.rows())
    assert json.loads(rows[0]["hyper"]) == st.rows()[0]["hyper"]
    import pyarrow.parquet as pq

    assert export(st, str(tmp_path / "t.parquet")) == n
    tab = pq.read_table(tmp_path / "t.parquet")
    assert tab.num_rows == n and "steps_to_target" in tab.column_names


def test_imports_stay_light():
    code = (
        "import sys, ravine, ravine.benchmark, ravine.cli.benchmark, ravine.benchmark.plan, "
        "ravine.benchmark.store; from ravine.benchmark.plan import make_plan, tune_rows; "
        "tune_rows(make_plan('small'));"
        "bad = [m for m in ('torch', 'ray', 'matplotlib', 'pyarrow') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=bench_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
