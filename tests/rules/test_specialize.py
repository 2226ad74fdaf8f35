"""Partial evaluation of the rules' functions (``ravine.rules.specialize``).

Each folded function is run against the original on random inputs: folding must remove dead
branches and never change a number; and the dead branches must really be gone.
"""

import ast

import numpy as np
import pytest

from ravine.rules import RULES, SGD, Adam
from ravine.rules.specialize import attributes_used, fold, folded_tree, specialized_source


def _compile(tree, fn):
    ns = dict(fn.__globals__)
    exec(compile(tree, "<folded>", "exec"), ns)
    return ns[tree.body[0].name]


def _literals(h):
    return {k: v for k, v in h._asdict().items() if not isinstance(v, float) or v == 0.0}


@pytest.mark.parametrize("name", [n for n, c in RULES.items() if not c.needs and c.elementwise])
@pytest.mark.parametrize("variant", range(3))
def test_folded_update_takes_the_same_step(name, variant):
    cls = RULES[name]
    rng = np.random.default_rng(variant)
    # a few structural variants: every bool field flipped in turn (where the rule accepts it)
    rule = cls()
    bools = [f.name for f in cls.settable() if f.kind.type == "bool"]
    if bools and variant:
        try:
            rule = rule.with_hyper(**{bools[(variant - 1) % len(bools)]: True})
        except ValueError:
            pass
    h = rule.h
    theta = rng.normal(size=5)
    state = rule.init(theta).state
    g = rng.normal(size=5)
    k = rule.terms(h, 3)
    want = cls.update(h, state, g, theta, k)
    lit = _literals(h)
    nonzero = {f for f, v in h._asdict().items() if isinstance(v, float) and v != 0.0}
    fn = _compile(folded_tree(cls.update, lit, nonzero=nonzero), cls.update)
    got = fn(h, state, g, theta, k)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_dead_branches_are_gone_and_flags_become_constants():
    h = Adam(amsgrad=False, weight_decay=0.0).h
    src = specialized_source(Adam.update, _literals(h), "adam_plain")
    assert "def adam_plain(" in src
    assert "maximum" not in src  # the amsgrad branch
    assert "decoupled_weight_decay" not in src and "weight_decay" not in src
    assert "h.eps_mode" not in src  # "outside" chosen at fold time
    src_ams = specialized_source(Adam.update, _literals(Adam(amsgrad=True).h), "adam_ams")
    assert "maximum" in src_ams


def test_nonzero_folds_comparisons_with_zero():
    tree = ast.parse("def f(h):\n    if h.momentum != 0:\n        return 1\n    return 2\n")
    folded = fold(tree, {}, nonzero={"momentum"})
    assert ast.unparse(folded).count("return") == 2 and "h.momentum" not in ast.unparse(folded)
    ns = {}
    exec(compile(folded, "<t>", "exec"), ns)
    assert ns["f"](None) == 1


def test_attributes_used():
    tree = folded_tree(SGD.update, _literals(SGD(momentum=0.0).h))
    assert attributes_used(tree, "h") == {"lr"}
    tree = folded_tree(SGD.update, {})
    assert {"lr", "momentum", "dampening", "weight_decay", "nesterov", "first_buffer"} <= attributes_used(tree, "h")
