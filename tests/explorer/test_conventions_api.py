"""POST /api/conventions: every rule's conventions, resolved as /api/meta says, and what differs."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")

from ravine.rules.meanings import MEANINGS


@pytest.mark.parametrize("hyper", [{}, {"lr": 0.05}])
def test_every_rule_against_meta(client, hyper):
    meta = client.get("/api/meta").json()
    for m in meta["optimizers"]:
        got = client.post("/api/conventions", json={"name": m["name"], "hyper": hyper}).json()
        names = {f["name"] for f in m["fields"]}
        full = {c: {**m["defaults"][c], **hyper} for c in m["conventions"]}
        # a convention with no default for a field (optax's Adadelta η) refuses unless the user
        # gives it, as /api/run does
        want = {c: h for c, h in full.items() if names <= set(m["defaults"][c]) | set(hyper)}
        assert got["conventions"] == m["conventions"]
        assert got["resolved"] == want, m["name"]
        assert set(got["errors"]) == set(full) - set(want)
        assert all("must be given" in e for e in got["errors"].values())
        differ = [f["name"] for f in m["fields"] if len({json.dumps(want[c][f["name"]]) for c in want}) > 1]
        assert [r["field"] for r in got["rows"]] == differ, m["name"]
        for r in got["rows"]:
            assert r["values"] == {c: want[c][r["field"]] for c in want}
            assert r["meaning"], f"{m['name']}.{r['field']} has no one-line meaning (ravine.rules.meanings)"
            assert all(c in r["sentence"] for c in want)
            assert r["field"] in MEANINGS


def test_refusals_and_bad_names(client):
    got = client.post("/api/conventions", json={"name": "sgd", "hyper": {"weight_decay": 0.1}}).json()
    assert set(got["errors"]) == {"keras"} and "keras" not in got["resolved"]
    r = client.post("/api/conventions", json={"name": "nope"})
    assert r.status_code == 422 and "unknown optimizer" in r.json()["detail"]
    r = client.post("/api/conventions", json={"name": "adam", "hyper": {"beta9": 1.0}})
    assert r.status_code == 200 and len(r.json()["errors"]) == len(r.json()["conventions"])
    r = client.post("/api/conventions", json={"name": "adam", "extra": 1})
    assert r.status_code == 422
