"""The explorer's memory bound: a process compiles at most ``LIMITS["compiled_kernels"]``
kernels (their machine code is never given back); after that, a new combination is not
compiled, runs on NumPy and answers the same numbers, while compiled ones stay compiled."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("fastapi", reason="the explorer needs ravine[serve]")

from ravine import run
from ravine.explorer.engine import Explorer
from ravine.explorer.schemas import LIMITS, EigenRequest, ExplainRequest, MapRequest, RunSetup
from ravine.problems import get_problem
from ravine.rules import get_rule
from ravine.runner import numba_backend


def test_after_the_kernel_budget_nothing_compiles_and_answers_are_the_same(monkeypatch, tmp_path):
    monkeypatch.setenv("RAVINE_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(LIMITS, "compiled_kernels", 1)
    compiled_runs = []  # every group the runner sends to a compiled kernel (a spy: the real one runs)
    real = numba_backend.run_group_numba

    def spy(rule, problem, *args):
        compiled_runs.append(rule.name)
        return real(rule, problem, *args)

    monkeypatch.setattr(numba_backend, "run_group_numba", spy)
    e = Explorer(numba=True, background=False)  # compiles in the request that first needs it
    first = RunSetup(problem="booth", start=[0.5, 0.5], steps=40, optimizers=[{"name": "sgd", "hyper": {"lr": 0.05}}])
    assert e.run(first)["backend"] == "numpy"  # answered on NumPy, its kernel compiled: the budget
    assert e.run(first)["backend"] == "numba"
    assert len(e.kernels.compiled) == 1

    # a new rule, convention and problem: NumPy through every endpoint, and nothing compiles
    compiled_runs.clear()
    spec = {"name": "adam", "convention": "keras", "hyper": {"lr": 0.05}}
    new = RunSetup(problem="himmelblau", start=[0.5, 0.5], steps=40, optimizers=[spec])
    for _ in range(2):
        answer = e.run(new)
        assert answer["backend"] == "numpy"
        e.explain(ExplainRequest(setup=new, index=0, step=3))
        e.eigen(EigenRequest(setup=new, index=0))
        m = e.hypermap(MapRequest(setup=new, index=0, n=4))
        assert m["backend"] == "numpy" and m["compiling"] is False
        assert e.combined(new).backend == "numpy"
    assert compiled_runs == [] and len(e.kernels.compiled) == 1
    # a new map on the problem that has a compiled run kernel: not compiled either
    assert e.hypermap(MapRequest(setup=first, index=0, n=4))["compiling"] is False
    assert compiled_runs == [] and len(e.kernels.compiled) == 1
    # the compiled combination stays compiled
    assert e.run(first)["backend"] == "numba" and compiled_runs == ["sgd"]

    # the same numbers as the runner's NumPy path (tests/runner/test_runner.py checks that its compiled
    # path agrees with it for every elementwise rule)
    ref = run(
        get_rule("adam", convention="keras", lr=0.05), get_problem("himmelblau"), [[0.5, 0.5]], 40, backend="numpy"
    )
    got = answer["trajectories"][0]
    assert np.array_equal(np.stack([got["x"], got["y"]], -1), ref.theta[:, 0].astype(np.float32))  # float32 answers
