"""ravine.explain: step tables through the rules' own apply, their exports and the CLI."""

import csv
import io
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from ravine.cli.explain import command
from ravine.cli.parse import parse_value
from ravine.rules import RULES, SGD, Adam, Momentum
from ravine.step_tables import build_rule, explain
from ravine.tables import Table


def _problem_for(cls):
    # second-order rules on a quadratic; everything else on the lecture's ellipse
    return "lecture_error_surface" if "hessian" in cls.needs else "ellipse"


@pytest.mark.parametrize("name", list(RULES))
def test_every_rule_explains(name):
    cls = RULES[name]
    tab = explain(name, _problem_for(cls), steps=3)
    assert tab.columns[0] == "t" and tab.columns[-1] == "f(θ)"
    assert [r[0] for r in tab.rows] == [0, 1, 2, 3]
    # every listed record field of θ's shape shows up split per coordinate
    assert any(c.startswith("Δθ[") for c in tab.columns)
    for row in tab.rows[1:]:
        assert all(v is not None for v in row)
    json.loads(tab.to_json())


def test_nesterov_lookahead_and_rmsprop_nesterov_lookahead():
    tab = explain("nag", "ellipse", steps=2, lr=0.1)
    assert "θ̃[x1]" in tab.columns and "g(θ̃)[x1]" in tab.columns
    r1, r2 = tab.row(1), tab.row(2)
    # step 1: v0 = 0 so θ̃ = θ0 = (−5, −2); step 2: θ̃ = θ1 + 0.9·v1
    assert (r1["θ̃[x1]"], r1["θ̃[x2]"]) == (-5.0, -2.0)
    assert r2["θ̃[x1]"] == pytest.approx(r1["x1"] + 0.9 * r1["v[x1]"])
    # gradient of 0.1x1² + 2x2² at θ̃
    assert r2["g(θ̃)[x2]"] == pytest.approx(4 * r2["θ̃[x2]"])
    tab2 = explain("rmsprop_nesterov", "ellipse", steps=2, hyper={"lookahead": True})
    assert "θ̃[x1]" in tab2.columns


def test_newton_reaches_quadratic_minimum_in_one_step():
    tab = explain("newton", "lecture_error_surface", start=(1.5, 2.0), steps=1)
    r = tab.row(1)
    assert (r["w1"], r["w2"]) == pytest.approx((3.0, 4.0))
    assert r["f(θ)"] == pytest.approx(0.05)
    assert r["H+λI ≻ 0"] is True


def test_adam_values_written_out_by_hand():
    # one Adam step on the sigmoid neuron, (x, y) = (3.5, 0.5), w = b = −2
    tab = explain(Adam(lr=0.1, betas=(0.9, 0.99), eps=1e-8), "sigmoid_neuron", steps=1)
    yhat = 1 / (1 + math.exp(9))
    gw, gb = (yhat - 0.5) * 3.5, yhat - 0.5
    r = tab.row(1)
    assert r["g[w]"] == pytest.approx(gw, rel=1e-12)
    assert r["g[b]"] == pytest.approx(gb, rel=1e-12)
    assert r["s[w]"] == pytest.approx(0.1 * gw, rel=1e-12)
    assert r["r[b]"] == pytest.approx(0.01 * gb * gb, rel=1e-12)
    assert r["ŝ[w]"] == pytest.approx(gw, rel=1e-12)
    assert r["r̂[w]"] == pytest.approx(gw * gw, rel=1e-12)
    assert r["w"] == pytest.approx(-2 - 0.1 * gw / (abs(gw) + 1e-8), rel=1e-12)
    assert "r_max" not in " ".join(tab.columns)  # placeholder without amsgrad
    assert any("r_max" in n for n in tab.notes)
    assert tab.row(0)["f(θ)"] == pytest.approx(0.5 * math.log1p(math.exp(9)) + 0.5 * math.log1p(math.exp(-9)))


def test_gd_iterates_and_one_dimensional_columns():
    tab = explain(SGD(lr=0.05), "parabola", start=(10.0,), steps=10)
    assert tab.columns == ["t", "x", "g", "Δθ", "f(θ)"]
    assert tab.column("x") == pytest.approx([10 * 0.9**k for k in range(11)], rel=1e-13)


def test_lr_number_and_schedule():
    tab = explain("sgd", "parabola", start=(1.0,), steps=3, lr=0.25)
    assert tab.column("x") == pytest.approx([1.0, 0.5, 0.25, 0.125])
    from ravine.schedules import exponential

    sched = exponential(0.1, 0.5)
    tab = explain("sgd", "parabola", start=(1.0,), steps=3, lr=sched)
    assert tab.column("η")[1:] == pytest.approx([sched(0), sched(1), sched(2)])
    x = 1.0
    for t in range(3):
        x -= sched(t) * 2 * x
    assert tab.column("x")[-1] == pytest.approx(x)


def test_opt_state_start_velocity_heavy_ball():
    rule = Momentum(lr=0.3, momentum=0.9)
    st = rule.init(np.array([1.5, 2.0]))
    st = st._replace(state=st.state._replace(v=np.array([0.5, 1.0])))
    r = explain(rule, "lecture_error_surface", start=(1.5, 2.0), steps=1, opt_state=st).row(1)
    # θ_{t+1} = θ_t − η g + β(θ_t − θ_{t−1}), gradient written out
    g1 = (1.5 - 3) / 2 - (2 - 4) / 6
    g2 = 2 * (2 - 4) / 9 - (1.5 - 3) / 6
    assert r["w1"] == pytest.approx(1.5 - 0.3 * g1 + 0.9 * 0.5)
    assert r["w2"] == pytest.approx(2.0 - 0.3 * g2 + 0.9 * 1.0)


def test_windowed_state_is_noted_not_shown():
    tab = explain("windowed_rmsprop", "ellipse", steps=2)
    assert not any(c.startswith("w[") for c in tab.columns)
    assert any("not one value per coordinate" in n for n in tab.notes)


def test_exports_parse_back():
    tab = explain("adam", "rosenbrock", steps=4, lr=0.01)
    rows = list(csv.reader(io.StringIO(tab.to_csv())))
    assert rows[0] == tab.columns
    assert len(rows) == len(tab.rows) + 1
    assert float(rows[3][tab.columns.index("s[x]")]) == tab.row(2)["s[x]"]  # repr: exact round trip
    assert rows[1][tab.columns.index("g[x]")] == ""  # blank for row 0
    d = json.loads(tab.to_json())
    assert d["columns"] == tab.columns and len(d["rows"]) == 5
    assert d["rows"][2][tab.columns.index("Δθ[y]")] == tab.row(2)["Δθ[y]"]
    assert d["meta"]["rule"] == "adam"
    md = tab.to_markdown()
    assert md.splitlines()[2].startswith("| t | x | y |")
    text = tab.to_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("-")]
    assert lines  # the rule line under the header
    assert "1.0000000" not in tab.to_text(digits=6)
    assert len(tab.to_text(digits=12)) > len(tab.to_text(digits=4))


def test_json_nonfinite_is_strict():
    t = Table(["t", "x"], [[0, float("nan")], [1, float("inf")]])
    d = json.loads(t.to_json())
    assert d["rows"] == [[0, "NaN"], [1, "Infinity"]]


def test_text_alignment_with_combining_hat():
    tab = explain(Adam(lr=0.1), "sigmoid_neuron", steps=1)
    head, rule = tab.to_text(notes=False).splitlines()[1:3]
    assert len(head.replace("\u0302", "")) == len(rule)


def test_bad_input_is_valueerror():
    with pytest.raises(ValueError, match="unknown name"):
        explain("adamm", "ellipse")
    with pytest.raises(ValueError, match="unknown name"):
        explain("adam", "no_such_problem")
    with pytest.raises(ValueError, match="beta1"):
        explain("adam", "ellipse", hyper={"betas": (1.5, 0.9)})
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        explain("adam", "ellipse", hyper={"momentum": 0.9})
    with pytest.raises(ValueError, match="coordinate"):
        explain("adam", "ellipse", start=(1, 2, 3))
    with pytest.raises(ValueError, match="steps"):
        explain("adam", "ellipse", steps=-1)
    with pytest.raises(ValueError, match="lr"):
        explain("adam", "ellipse", lr=-1.0)


def test_build_rule_and_parse_value():
    r = build_rule("adam", {"betas": (0.9, 0.99), "beta1": 0.8}, convention="lecture002")
    assert (r.h.beta1, r.h.beta2, r.h.eps_mode) == (0.8, 0.99, "inside")
    assert parse_value("0.9,0.99") == (0.9, 0.99)
    assert parse_value("true") is True and parse_value("5") == 5 and parse_value("heavy_ball") == "heavy_ball"


# ------------------------------------------------------------------------------- CLI


def _invoke_main(args):
    import contextlib

    from ravine.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_cli_help():
    res = CliRunner().invoke(command, ["--help"])
    assert res.exit_code == 0
    assert "--lecture-example" in res.output and "--formula" in res.output
    assert "--seed-example" not in res.output and "seed" not in res.output.lower()


def test_cli_run_text_and_json():
    res = CliRunner().invoke(
        command, ["adam", "--problem", "sigmoid_neuron", "--steps", "1", "--lr", "0.1", "--set", "betas=0.9,0.99"]
    )
    assert res.exit_code == 0, res.output
    assert "ŝ[w]" in res.output and "-1.9" in res.output
    res = CliRunner().invoke(
        command, ["momentum", "--formula", "x^2 + 10*y^2", "--start", "1,1", "--steps", "3", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["columns"][:3] == ["t", "x", "y"] and len(d["rows"]) == 4


def test_cli_output_file_and_csv(tmp_path):
    out = tmp_path / "t.csv"
    res = CliRunner().invoke(
        command,
        ["sgd", "--problem", "parabola", "--steps", "2", "--lr", "0.05", "--format", "csv", "--output", str(out)],
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [float(r["x"]) for r in rows] == pytest.approx([10.0, 9.0, 8.1])


def test_cli_bad_optimizer_one_line_nonzero():
    code, out, err = _invoke_main(["explain", "adamm", "--problem", "ellipse"])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "unknown name" in err
    res = CliRunner().invoke(command, ["adamm", "--problem", "ellipse"])
    assert res.exit_code != 0


@pytest.mark.parametrize(
    "args, needle",
    [
        (["adam"], "--problem"),
        (["adam", "--problem", "ellipse", "--formula", "x^2"], "not both"),
        (["adam", "--problem", "nope"], "unknown name"),
        (["adam", "--problem", "ellipse", "--set", "eps=-1"], "eps"),
        (["adam", "--problem", "ellipse", "--set", "oops"], "key=value"),
        (["adam", "--problem", "ellipse", "--start", "a,b"], "--start"),
        (["sgd", "--lecture-example", "adam_sigmoid"], "uses adam"),
        (["--lecture-example", "nope"], "unknown name"),
        (["--seed-example", "list"], "option '--seed-example' was renamed '--lecture-example'"),
        (["adam", "--problem", "seed_bowl3d"], "problem 'seed_bowl3d' was renamed 'lecture_bowl3d'"),
        (["adam", "--problem", "ellipse", "--convention", "seed002"], "convention 'seed002' was renamed 'lecture002'"),
    ],
)
def test_cli_errors_exit_2_one_line(args, needle):
    code, out, err = _invoke_main(["explain", *args])
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_cli_lecture_example_and_list():
    code, out, err = _invoke_main(["explain", "adam", "--lecture-example", "adam_sigmoid"])
    assert code == 0, err
    assert "ERRATUM" in out and "0.000123395" in out
    code, out, err = _invoke_main(["explain", "--lecture-example", "list"])
    assert code == 0 and "adam_sigmoid" in out
    code, out, err = _invoke_main(["explain", "--lecture-example", "adam_sigmoid", "--format", "json"])
    assert json.loads(out)["name"] == "adam_sigmoid"
