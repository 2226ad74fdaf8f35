"""--backend batched: each configuration's result equals its unbatched run (float64: 1e-10
relative; float32: 1e-3, see ravine.benchmark.batched), for every optimizer; diverged members
are masked and recorded as diverged without touching the others."""

import math
import warnings

import numpy as np
import pytest

from ravine.benchmark import problems as P
from ravine.benchmark.batched import run_batch
from ravine.benchmark.space import BENCH_OPTIMIZERS, full_hyper, sobol_points, space_for
from ravine.benchmark.trial import _PROBLEMS, TrialSpec, run_trial


@pytest.fixture
def float64_mlp(monkeypatch):
    from ravine.benchmark.problems.digits_mlp import DigitsMLP

    monkeypatch.setattr(DigitsMLP, "dtype", "float64")
    _PROBLEMS.clear()
    yield "digits_mlp"
    _PROBLEMS.clear()


def _specs(problem, opt, n, steps, seeds=None, protocol="all"):
    pts = sobol_points(8, 3)
    sp = space_for(opt)
    wd = P.get_problem(problem).weight_decay
    # moderate learning rates (Sobol lr scaled into [1e-3, 1e-1]) so that every run stays finite
    out = []
    for i in range(n):
        v = sp.sample(pts[i], protocol)
        v["lr"] = 10 ** (-3 + 2 * pts[i][0])
        out.append(
            TrialSpec(f"t{i}", problem, opt, full_hyper(opt, {**v, "weight_decay": wd}), (seeds or [0] * n)[i], steps)
        )
    return out


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))


@pytest.mark.parametrize("opt", list(BENCH_OPTIMIZERS))
def test_batched_equals_unbatched_float64(float64_mlp, opt):
    specs = _specs(float64_mlp, opt, 3, 40, seeds=[0, 1, 0])
    batched = run_batch(specs)
    hypers = {tuple(sorted(s.hyper.items())) for s in specs}
    assert len(hypers) == 3  # the configurations really differ
    for s, b in zip(specs, batched):
        u = run_trial(s)
        assert u.status == b.status == "ok", (u.error, b.error)
        for f in ("val_loss", "test_loss", "train_loss", "val_err"):
            ua = [x for x in u.curves[f] if x is not None]
            ba = [x for x in b.curves[f] if x is not None]
            assert len(ua) == len(ba) == (11 if f != "train_loss" else 10)
            assert _rel(ua, ba) < 1e-10, (opt, f, _rel(ua, ba))
        assert u.metrics["steps_to_target"] == b.metrics["steps_to_target"]
        assert _rel([u.metrics["final_train_loss_full"]], [b.metrics["final_train_loss_full"]]) < 1e-10
        assert u.metrics["final_train_err_full"] == b.metrics["final_train_err_full"]


def test_batched_cnn_equals_unbatched_float64(monkeypatch):
    # the MNIST-1D CNN: convolutions and pooling under vmap. Eager only here: compiling its step
    # takes ~1 min with an empty cache (checked by hand: ≤ 2e-15, docs/benchmarks.md)
    from ravine.benchmark.problems.mnist1d_cnn import Mnist1dCNN

    monkeypatch.setattr(Mnist1dCNN, "dtype", "float64")
    _PROBLEMS.clear()
    try:
        specs = _specs("mnist1d_cnn", "adam", 2, 30, seeds=[0, 1])
        for s, b in zip(specs, run_batch(specs, "never")):
            u = run_trial(s)
            assert u.status == b.status == "ok", (u.error, b.error)
            assert _rel(u.curves["val_loss"], b.curves["val_loss"]) < 1e-10
            assert _rel([u.metrics["final_train_loss_full"]], [b.metrics["final_train_loss_full"]]) < 1e-10
    finally:
        _PROBLEMS.clear()


def test_batched_float32_within_stated_tolerance():
    specs = _specs("digits_logreg", "adam", 4, 60)
    for s, b in zip(specs, run_batch(specs)):
        u = run_trial(s)
        assert _rel(u.curves["val_loss"], b.curves["val_loss"]) < 1e-3


@pytest.mark.parametrize("compile_", ["0", "1"])
def test_diverged_member_is_masked_and_counted_as_missing(monkeypatch, compile_):
    monkeypatch.setenv("RAVINE_BATCHED_COMPILE", compile_)  # eager and compiled masking
    # Rosenbrock with noisy gradients: lr 1e-4 stays finite, lr 0.5 blows up within a few steps
    lrs = [1e-4, 0.5, 2e-4]
    specs = [TrialSpec(f"r{i}", "rosenbrock", "sgd", full_hyper("sgd", {"lr": lr}), 0, 200) for i, lr in enumerate(lrs)]
    batched = run_batch(specs)
    assert [b.status for b in batched] == ["ok", "diverged", "ok"]
    for s, b in zip(specs, batched):
        u = run_trial(s)
        assert u.status == b.status
        assert u.metrics["steps_done"] == b.metrics["steps_done"]
        assert u.curves["val_loss"] == pytest.approx(b.curves["val_loss"], rel=1e-10)
    d = batched[1]
    assert d.metrics["steps_to_target"] == math.inf and d.metrics["final_val"] is None
    assert d.metrics["steps_done"] < 200


def test_per_config_branch_disagreement_is_an_error():
    specs = [
        TrialSpec("a", "nqm", "sgd", full_hyper("sgd", {"lr": 0.1, "momentum": 0.0}), 0, 5),
        TrialSpec("b", "nqm", "sgd", full_hyper("sgd", {"lr": 0.1, "momentum": 0.9}), 0, 5),
    ]
    out = run_batch(specs)
    assert all(o.status == "failed" and "disagree" in o.error for o in out)


def test_smoke_suite_with_backend_batched_matches_local(tmp_path, smoke_reference, run_ravine):
    import json
    import sqlite3

    from support.bench import SMOKE_ARGS

    store = tmp_path / "b.db"
    r = run_ravine("bench", "run", store, *SMOKE_ARGS, "--backend", "batched", "--workers", "1")
    assert r.returncode == 0, r.stderr[-2000:]

    def rows(p):
        con = sqlite3.connect(p)
        out = {
            k: (s, json.loads(m), b) for k, s, m, b in con.execute("SELECT key, status, metrics, backend FROM trials")
        }
        con.close()
        return out

    b, loc = rows(store), rows(smoke_reference)
    assert set(b) == set(loc)
    for k, (s, m, backend) in b.items():
        assert backend == "batched" and s == loc[k][0], k
        # nqm is float64 (1e-10); digits_logreg float32 (the stated 1e-3)
        tol = 1e-10 if "/nqm/" in k else 1e-3
        assert m["final_val_loss"] == pytest.approx(loc[k][1]["final_val_loss"], rel=tol), k


@pytest.fixture
def compiled(monkeypatch):
    """The compiled step (the traced loss, gradient and rule's own update) even for small batches."""
    monkeypatch.setenv("RAVINE_BATCHED_COMPILE", "1")


@pytest.mark.parametrize("opt", list(BENCH_OPTIMIZERS))
def test_compiled_step_equals_unbatched_float64(float64_mlp, compiled, opt):
    from ravine.benchmark import batched

    before = dict(batched.STATS)
    specs = _specs(float64_mlp, opt, 3, 40, seeds=[0, 1, 0])
    out = run_batch(specs)
    assert batched.STATS["compiled_batches"] == before["compiled_batches"] + 1
    assert batched.STATS["fallbacks"] == before["fallbacks"]  # it really ran compiled
    for s, b in zip(specs, out):
        u = run_trial(s)
        assert u.status == b.status == "ok", (u.error, b.error)
        for f in ("val_loss", "test_loss", "train_loss"):
            ua = [x for x in u.curves[f] if x is not None]
            ba = [x for x in b.curves[f] if x is not None]
            assert _rel(ua, ba) < 1e-10, (opt, f, _rel(ua, ba))
        assert _rel([u.metrics["final_train_loss_full"]], [b.metrics["final_train_loss_full"]]) < 1e-10


def test_compile_failure_falls_back_to_eager_once(compiled, monkeypatch):
    from ravine.benchmark import batched, tracing

    def broken(gm, example):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(tracing, "compile_graph", broken)
    monkeypatch.setattr(batched, "_STEP", {})
    monkeypatch.setattr(batched, "_FAILED", set())
    specs = _specs("digits_logreg", "adam", 2, 20)
    with pytest.warns(RuntimeWarning) as w:
        out = run_batch(specs)
    said = sorted(str(x.message).split(" failed")[0] for x in w if "compiling" in str(x.message))
    assert said == ["batched: compiling the batched evaluation", "batched: compiling the batched step"]  # once each
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eager = run_batch(specs)  # the variant is known to fail: eager, silently
    for a, b in zip(out, eager):
        assert a.status == "ok" and a.curves["val_loss"] == b.curves["val_loss"]


def test_auto_compiles_a_variant_once_it_has_run_long_enough_eagerly(monkeypatch):
    from ravine.benchmark import batched

    monkeypatch.setattr(batched, "AUTO_MIN_WORK", 2 * 2 * 20)  # two eager batches of 2 × 20
    monkeypatch.setattr(batched, "_EAGER_WORK", {})
    specs = _specs("digits_logreg", "adam", 2, 20)
    seen = []
    for _ in range(4):
        before = dict(batched.STATS)
        out = run_batch(specs, "auto")
        assert all(o.status == "ok" for o in out)
        seen.append("compiled" if batched.STATS["compiled_batches"] > before["compiled_batches"] else "eager")
    assert seen == ["eager", "eager", "compiled", "compiled"]
    assert run_batch(specs, "never") and batched.STATS["eager_batches"] > 0


def test_compile_mode_names_what_was_given(monkeypatch):
    from ravine.benchmark.batched import compile_mode

    assert compile_mode("ALWAYS") == "always" and compile_mode(None) == "auto"
    monkeypatch.setenv("RAVINE_BATCHED_COMPILE", "0")
    assert compile_mode(None) == "never"
    with pytest.raises(ValueError, match=r"^--compile: unknown mode 'maybe'; choose from auto, always, never$"):
        compile_mode("maybe")
    monkeypatch.setenv("RAVINE_BATCHED_COMPILE", "yes")
    with pytest.raises(ValueError, match=r"^RAVINE_BATCHED_COMPILE: unknown mode 'yes'"):
        compile_mode(None)


def test_fewer_trials_than_workers_times_batch_are_split_across_the_workers(tmp_path):
    from ravine.benchmark.plan import execute, planned_row
    from ravine.benchmark.store import Store

    rows = [
        planned_row("tune", "lr", "nqm", "sgd", i, 0, 20, full_hyper("sgd", {"lr": 0.01 * (i + 1)})) for i in range(6)
    ]
    st = Store.open(str(tmp_path / "s.db"), {"t": 1}, "t")
    st.add_planned(rows)
    assert execute(st, st.pending(), backend="batched", workers=2, batch=32, compile="never") == 6
    assert [r["metrics"]["batched"] for r in st.rows()] == [3] * 6  # two models of 3, not one of 6
