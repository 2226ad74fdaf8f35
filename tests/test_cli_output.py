"""The command line never misleads: numbers never cut, labels kept distinct, points listed once,
the sweep's backend, progress and data, the picture options, and names with "did you mean"."""

import json

from click.testing import CliRunner

from ravine.cli import cli
from ravine.cli.parse import shorten_labels


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# ------------------------------------------------------------------ ravine run: the table


def test_run_never_cuts_a_number():
    r = invoke("run", "sgd(lr=0.1)", "--problem", "seed_bowl3d", "--steps", "50")
    assert r.exit_code == 0, r.output
    assert "1.1259e-35" in r.output  # z, once shown as "1."
    r = invoke("run", "sgd(lr=0.1)", "--problem", "seed_bowl3d", "--steps", "50", "--digits", "2")
    assert "1.1e-35" in r.output
    r = invoke("run", "sgd", "--digits", "0")
    assert r.exit_code == 2


def test_run_long_labels_ellipsized_and_distinct():
    a = "adam(lr=0.01,beta1=0.9,beta2=0.999,eps=1e-8,weight_decay=0.1)"
    b = "adam(lr=0.01,beta1=0.9,beta2=0.999,eps=1e-8,weight_decay=0.2)"
    r = invoke("run", a, b, "--steps", "5")
    assert r.exit_code == 0, r.output
    rows = [line.split()[0] for line in r.output.splitlines() if line.strip().startswith("adam")]
    assert len(rows) == 2 and rows[0] != rows[1]
    assert all("…" in x and len(x) <= 40 for x in rows)
    assert rows[0].endswith("0.1)") and rows[1].endswith("0.2)")


def test_shorten_labels_keeps_labels_distinct():
    short = ["x" * 50 + "1" + "y" * 20, "x" * 50 + "2" + "y" * 20]  # differ in the middle
    assert shorten_labels(short) == short  # shortening would make them read alike: kept whole
    assert shorten_labels(["sgd"]) == ["sgd"]


# ------------------------------------------------------------------ ravine analyze: each point once


def test_analyze_lists_a_point_once():
    r = invoke("analyze", "saddle", "--point", "0,0")
    assert r.exit_code == 0, r.output
    assert r.output.count("(0, 0)") == 1
    r = invoke("analyze", "saddle", "--point", "0,0", "--format", "json")
    pts = [tuple(cp["point"]) for cp in json.loads(r.output)["critical_points"]]
    assert pts == [(0.0, 0.0)]
    r = invoke("analyze", "saddle", "--point", "0,1")  # not critical: listed, and the search's (0, 0) too
    assert "(0, 1)" in r.output and "(0, 0)" in r.output
