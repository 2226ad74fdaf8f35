"""The explorer's HTTP API: answers, validation, limits and hostile input.

Every hostile request must get a 4xx with a one-line message, execute nothing (os.system,
subprocess, eval/exec of user text are watched) and leave the server answering good requests.
"""

from __future__ import annotations

import builtins
import json
import math
import os
import subprocess

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the explorer needs ravine[serve]")
pytest.importorskip("httpx", reason="fastapi's TestClient needs httpx")

import ravine
from ravine.explorer.engine import Explorer
from ravine.explorer.schemas import LIMITS, RunSetup
from ravine.rules import get_rule

GOOD = {
    "problem": "rosenbrock",
    "start": [-1.2, 1.0],
    "steps": 50,
    "optimizers": [{"name": "momentum", "hyper": {"lr": 0.001}}, {"name": "adam", "hyper": {"lr": 0.05}}],
}


@pytest.fixture
def watched(monkeypatch):
    """Record any attempt to run a command or evaluate text while the request is served.

    A formula is turned into NumPy code once first, outside the watch: the first conversion in a
    process loads parts of NumPy and sympy through ``exec`` of their own text (which test ran
    first in this process then decided whether a test tripped)."""
    from ravine.problems.symbolic import from_formula

    from_formula("x**2 + y**2").f(np.zeros((1, 2)))
    calls = []

    def rec(name):
        def f(*a, **k):
            calls.append((name, a[:1]))
            raise AssertionError(f"{name} called")

        return f

    monkeypatch.setattr(os, "system", rec("os.system"))
    monkeypatch.setattr(os, "popen", rec("os.popen"))
    monkeypatch.setattr(subprocess, "Popen", rec("subprocess.Popen"))
    real_eval, real_exec = builtins.eval, builtins.exec

    def guard_eval(src, *a, **k):
        if isinstance(src, str) and ("__" in src or "system" in src or "lambda" in src):
            calls.append(("eval", src[:40]))
        return real_eval(src, *a, **k)

    def guard_exec(src, *a, **k):
        if isinstance(src, str) and ("system" in src or "__import__" in src):
            calls.append(("exec", src[:40]))
        return real_exec(src, *a, **k)

    monkeypatch.setattr(builtins, "eval", guard_eval)
    monkeypatch.setattr(builtins, "exec", guard_exec)
    return calls


def post(client, path, body, **kw):
    return client.post(path, json=body, **kw)


def assert_rejected(r, *codes, contains=None):
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    if codes:
        assert r.status_code in codes, (r.status_code, r.text[:300])
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail
    assert len(detail) < 2000
    if contains:
        assert contains in detail, detail
    return detail


def assert_still_answers(client):
    r = post(client, "/api/run", GOOD)
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["trajectories"]) == 2


# ----------------------------------------------------------------------------- good requests


def test_static_and_vendor(client):
    r = client.get("/")
    assert r.status_code == 200 and "ravine explorer" in r.text
    assert "/vendor/plotly.min.js" in r.text and "cdn" not in r.text.lower()
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    r = client.get("/vendor/plotly.min.js")
    assert r.status_code == 200 and len(r.content) > 1_000_000 and b"plotly" in r.content[:2000].lower()


def test_meta(client):
    m = client.get("/api/meta").json()
    names = [o["name"] for o in m["optimizers"]]
    assert {"sgd", "momentum", "nag", "adam", "rmsprop", "adadelta", "yogi", "newton"} <= set(names)
    adam = next(o for o in m["optimizers"] if o["name"] == "adam")
    assert [f["name"] for f in adam["fields"]] == list(get_rule("adam").Hyper._fields)
    assert adam["defaults"]["torch"]["lr"] == 0.001
    eps_mode = next(f for f in adam["fields"] if f["name"] == "eps_mode")
    assert set(eps_mode["choices"]) == {"outside", "inside", "hat"}
    assert adam["symbols"]["s_hat"] == "ŝ"
    assert all(p["name"] != "lecture_bowl3d" for p in m["problems"])  # 2-D only
    assert m["limits"]["max_steps"] == 10_000 and m["limits"]["max_optimizers"] == 16


def test_problem_contour(client):
    r = post(client, "/api/problem", {"problem": "rosenbrock"})
    assert r.status_code == 200
    d = r.json()
    assert d["log_levels"] is True and d["variables"] == ["x", "y"]
    z = np.array(d["contour"]["z"], dtype=float)
    assert z.shape == (LIMITS["contour_points"],) * 2 and np.isfinite(z).all()
    assert d["minima"][0]["point"] == [1.0, 1.0]
    f = post(client, "/api/problem", {"formula": "x^2 + 3*y^2", "bounds": [[-1, 1], [-2, 2]]}).json()
    assert f["bounds"] == [[-1, 1], [-2, 2]] and f["formula"] == "x^2 + 3*y^2"


def test_run_matches_library(client):
    r = post(client, "/api/run", GOOD)
    assert r.status_code == 200
    d = r.json()
    assert [t["label"] for t in d["trajectories"]] == ["momentum", "adam"]
    for t, rule in zip(d["trajectories"], [get_rule("momentum", lr=0.001), get_rule("adam", lr=0.05)]):
        ref = ravine.run([rule], "rosenbrock", starts=[[-1.2, 1.0]], steps=50, backend="numpy")
        assert np.allclose(t["x"], ref.theta[:, 0, 0]) and np.allclose(t["y"], ref.theta[:, 0, 1])
        assert np.allclose(t["loss"], ref.loss[:, 0])
        for k, v in ref.state.items():
            assert np.allclose(t["state"][k], v[:, 0].T)
        assert len(t["x"]) == 51
    adam = d["trajectories"][1]
    assert adam["momentum"] == {"field": "s", "kind": "gradient", "symbol": "s"}
    assert set(adam["state"]) >= {"s", "r"}
    mom = d["trajectories"][0]
    assert mom["momentum"]["kind"] == "displacement"  # heavy ball: θ ← θ + v


def test_a_convention_without_a_default_takes_the_users_value(client):
    """optax's Adadelta has no η ravine reproduces (hyper.Required): /api/meta leaves it unset,
    a run without lr is refused with optax's reason, one with lr runs as the library does."""
    meta = client.get("/api/meta").json()
    ada = next(o for o in meta["optimizers"] if o["name"] == "adadelta")
    assert "lr" not in ada["defaults"]["optax"] and ada["defaults"]["torch"]["lr"] == 1.0
    body = dict(GOOD, optimizers=[{"name": "adadelta", "convention": "optax"}])
    assert_rejected(post(client, "/api/run", body), 422, contains="learning_rate=None")
    body = dict(GOOD, optimizers=[{"name": "adadelta", "convention": "optax", "hyper": {"lr": 0.5}}])
    r = post(client, "/api/run", body)
    assert r.status_code == 200, r.text
    ref = ravine.run([get_rule("adadelta", convention="optax", lr=0.5)], "rosenbrock", starts=[[-1.2, 1.0]], steps=50)
    assert np.allclose(r.json()["trajectories"][0]["x"], ref.theta[:, 0, 0])


def test_run_diverged_values_are_null(client):
    body = dict(GOOD, optimizers=[{"name": "sgd", "hyper": {"lr": 5.0}}])
    d = post(client, "/api/run", body).json()
    t = d["trajectories"][0]
    assert t["status"] == "diverged"
    json.dumps(d, allow_nan=False)


def test_explain_record(client):
    body = {"setup": GOOD, "index": 1, "step": 3}
    d = post(client, "/api/explain", body).json()
    assert d["name"] == "adam" and d["step"] == 3
    fields = [row["field"] for row in d["rows"]]
    assert fields == list(get_rule("adam").Record._fields)
    sym = {row["field"]: row["symbol"] for row in d["rows"]}
    assert sym["s_hat"] == "ŝ" and sym["delta"] == "Δθ"
    # the replay agrees with the runner: θ_t of the record = trajectory point t
    run = post(client, "/api/run", GOOD).json()["trajectories"][1]
    assert d["theta_after"] == pytest.approx([run["x"][3], run["y"][3]])
    delta = next(r["value"] for r in d["rows"] if r["field"] == "delta")
    assert np.allclose(np.array(d["theta_before"]) + delta, d["theta_after"])
    d0 = post(client, "/api/explain", {"setup": GOOD, "index": 0, "step": 0}).json()
    assert d0["step"] == 0 and d0["rows"][0]["field"] == "g"


def test_explain_lookahead_and_newton(client):
    setup = dict(
        GOOD, optimizers=[{"name": "nag", "hyper": {"lr": 0.001}}, {"name": "newton", "hyper": {"damping": 1.0}}]
    )
    run = post(client, "/api/run", setup).json()["trajectories"]
    for i in range(2):
        d = post(client, "/api/explain", {"setup": setup, "index": i, "step": 7}).json()
        assert d["theta_after"] == pytest.approx([run[i]["x"][7], run[i]["y"][7]])


def test_export_csv_json(client):
    r = post(client, "/api/export?format=csv", GOOD)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0] == "label,start,step,theta1,theta2,loss,grad_norm,status"
    assert len(lines) == 1 + 2 * 51
    r = post(client, "/api/export?format=json", GOOD)
    d = r.json()
    assert len(d["trajectories"]) == 2 and d["setup"]["steps"] == 50
    assert_rejected(post(client, "/api/export?format=xml", GOOD), 422)


def test_formula_run(client):
    body = dict(GOOD, formula="(1-x)^2 + 100*(y-x^2)^2")
    d = post(client, "/api/run", body).json()
    ref = post(client, "/api/run", GOOD).json()
    assert np.allclose(d["trajectories"][1]["x"], ref["trajectories"][1]["x"])


def test_grad_noise_is_reproducible(client):
    body = dict(GOOD, grad_noise=0.5, seed=7)
    a = post(client, "/api/run", body).json()["trajectories"][0]["x"]
    b = post(client, "/api/run", body).json()["trajectories"][0]["x"]
    assert a == b
    d = post(client, "/api/explain", {"setup": body, "index": 0, "step": 4}).json()
    run = post(client, "/api/run", body).json()["trajectories"][0]
    assert d["theta_after"] == pytest.approx([run["x"][4], run["y"][4]])


def test_numba_engine_agrees_with_numpy():
    pytest.importorskip("numba")
    eng_fast = Explorer(numba=True, background=False)
    eng_ref = Explorer(numba=False)
    setup = RunSetup(**dict(GOOD, optimizers=[{"name": "adam", "hyper": {"lr": 0.05}}]))
    eng_fast.run(setup)  # compiles (or marks the kernel broken: then NumPy answers)
    fast = eng_fast.run(setup)["trajectories"][0]
    ref = eng_ref.run(setup)["trajectories"][0]
    assert np.allclose(fast["x"], ref["x"], rtol=1e-12, atol=1e-12)
    assert np.allclose(fast["state"]["s"], ref["state"]["s"], rtol=1e-12, atol=1e-12)


def test_encoders_agree():
    from ravine._json import jsonable
    from ravine.explorer import encode as encmod

    data = {"a": np.array([1.0, np.nan, np.inf, -2.5]), "b": [np.array([[1.0, 2.0]])], "c": "x"}
    want = {"a": [1.0, None, None, -2.5], "b": [[[1.0, 2.0]]], "c": "x"}
    assert json.loads(encmod.encode(data)) == want
    assert json.loads(json.dumps(jsonable(data), allow_nan=False)) == want


# ----------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    "formula, words",
    [
        ("__import__('os').system('id')", "not allowed"),
        ("().__class__.__bases__", "not allowed"),
        ("(lambda: 0)()", "not allowed"),
        ("lambda x: x", "not allowed"),
        ("9**9**9", "exponent"),
        ("open('/etc/passwd').read()", "not allowed"),
        ("x.__globals__", "not allowed"),
        ("[x for x in ().__class__.__base__.__subclasses__()]", "not allowed"),
        ("exp(1000) + x", None),
        ("x +", None),
        ("x*y*z", "2 variables"),
    ],
)
def test_hostile_formulas(client, watched, formula, words):
    for path, body in (("/api/run", dict(GOOD, formula=formula)), ("/api/problem", {"formula": formula})):
        r = post(client, path, body)
        detail = assert_rejected(r, 422)
        if words:
            assert words in detail, detail
    assert watched == []
    assert_still_answers(client)


def test_formula_too_long(client, watched):
    r = post(client, "/api/problem", {"formula": "x+" * 1000 + "y"})  # 2001 characters
    assert_rejected(r, 422, contains="formula")
    r = post(client, "/api/run", dict(GOOD, formula="x" * (1024 * 1024)))  # 1 MB
    assert_rejected(r, 413, contains="too large")
    assert watched == []
    assert_still_answers(client)


def test_body_limit_without_content_length(client):
    def chunks():
        yield b'{"formula": "'
        for _ in range(200):
            yield b"x" * 1024
        yield b'"}'

    r = client.post("/api/problem", content=chunks(), headers={"content-type": "application/json"})
    assert_rejected(r, 413)
    assert_still_answers(client)


def test_bad_content_length(client):
    r = client.post("/api/run", content=b"{}", headers={"content-type": "application/json", "content-length": "abc"})
    assert 400 <= r.status_code < 500


@pytest.mark.parametrize(
    "change, where",
    [
        ({"steps": 10**9}, "steps"),
        ({"steps": 10_001}, "steps"),
        ({"steps": -1}, "steps"),
        ({"steps": 1.5}, "steps"),
        ({"optimizers": [{"name": "sgd"}] * 17}, "optimizers"),
        ({"optimizers": []}, "optimizers"),
        ({"start": [1e7, 0.0]}, "start"),
        ({"start": [0.0]}, "start"),
        ({"start": ["a", 0]}, "start"),
        ({"optimizers": [{"name": "sgd", "hyper": {"lr": "1; import os"}}]}, "optimizers[0]"),
        ({"optimizers": [{"name": "sgd", "evil": 1}]}, "optimizers.0.evil"),
        ({"optimizers": [{"name": "sgd", "hyper": {"lr": 10**400}}]}, "optimizers"),
        ({"problem": "x" * 41}, "problem"),
        ({"problem": "nope"}, "unknown name"),
        ({"problem": "lecture_bowl3d"}, "2 variables"),
        ({"bounds": [[1, 0], [0, 1]]}, "bounds"),
        ({"tol": -1}, "tol"),
        ({"grad_noise": 1e9}, "grad_noise"),
    ],
)
def test_bad_setups(client, watched, change, where):
    r = post(client, "/api/run", dict(GOOD, **change))
    assert_rejected(r, 422, contains=where)
    assert watched == []


def test_work_bound(client):
    body = dict(GOOD, steps=10_000, optimizers=[{"name": "sgd"}] * 5)
    assert_rejected(post(client, "/api/run", body), 422, contains="steps × optimizers")
    body = dict(GOOD, steps=10_000, optimizers=[{"name": "sgd"}] * 4)
    assert post(client, "/api/run", body).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        '{"start": [NaN, 0], "optimizers": [{"name": "adam"}]}',
        '{"start": [Infinity, 0], "optimizers": [{"name": "adam"}]}',
        '{"start": [0, -Infinity], "optimizers": [{"name": "adam"}]}',
    ],
)
def test_nonfinite_start(client, watched, raw):
    r = client.post("/api/run", content=raw, headers={"content-type": "application/json"})
    assert_rejected(r, 422, contains="start")
    assert watched == []
    assert_still_answers(client)


def test_hyperparameters_validated_by_rules(client):
    cases = [
        ({"name": "adam", "hyper": {"lr": -1}}, "Adam: lr must be >= 0"),
        ({"name": "adam", "hyper": {"beta1": 1.0}}, "beta1 must be in [0, 1)"),
        ({"name": "adam", "hyper": {"eps": -1}}, "eps must be"),
        ({"name": "adam", "hyper": {"eps_mode": "sideways"}}, "eps_mode must be one of"),
        ({"name": "sgd", "hyper": {"nesterov": True}}, "nesterov=True requires momentum > 0"),
        ({"name": "sgd", "hyper": {"foo": 1}}, "unknown hyperparameter 'foo'"),
        ({"name": "windowed_rmsprop", "hyper": {"window": 0}}, "window"),
        ({"name": "nope"}, "unknown name"),
        ({"name": "adam", "convention": "nope"}, "convention must be one of"),
    ]
    for opt, message in cases:
        body = dict(GOOD, optimizers=[{"name": "sgd"}, opt])
        detail = assert_rejected(post(client, "/api/run", body), 422, contains=message)
        assert detail.startswith("optimizers[1]: ")
    assert_still_answers(client)


@pytest.mark.parametrize(
    "raw", ["", "{", "[]", "null", '"x"', "[" * 50_000 + "]" * 50_000, '{"start": [0, 0], "optimizers": "adam"}']
)
def test_malformed_bodies(client, raw):
    r = client.post("/api/run", content=raw.encode(), headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    assert "detail" in r.json()


def test_explain_index_out_of_range(client):
    assert_rejected(post(client, "/api/explain", {"setup": GOOD, "index": 5, "step": 1}), 422, contains="index")


def test_no_input_echoed(client):
    secret = "SECRET" * 100
    r = post(client, "/api/run", dict(GOOD, problem=secret))
    assert secret not in r.text


def test_server_survives_everything(client):
    bad = [
        dict(GOOD, formula="__import__('os').system('id')"),
        dict(GOOD, steps=10**9),
        dict(GOOD, optimizers=[{"name": "sgd"}] * 17),
        dict(GOOD, formula="9**9**9"),
    ]
    for _ in range(3):
        for b in bad:
            assert 400 <= post(client, "/api/run", b).status_code < 500
    assert_still_answers(client)
    assert math.isfinite(post(client, "/api/run", GOOD).json()["trajectories"][0]["loss"][-1])
