"""The two faces of a rule agree: ``ravine.optim.X(...)`` and ``ravine.rules.X(...)``.

For every optimizer × convention × hyperparameter (each set to a value other than its
default), both faces resolve to the same hyperparameters — or refuse with the same message —
and take the same steps (float64, 8 steps of a fixed gradient field, 1e-12 relative: the
two faces run the same function on NumPy arrays and on torch tensors, so only the order of
rounding in NumPy vs torch kernels can differ).
"""

import inspect

import numpy as np
import pytest
import torch

import ravine.optim as ro
from ravine.rules import DEFAULT
from ravine.rules import hyper as hp

CASES = []
for _name, _cls in ro.OPTIMIZERS.items():
    for _conv in _cls._rule.conventions:
        CASES.append((_name, _conv, None))
        for _f in _cls._rule.settable():
            if _f.name not in _cls._fixed:
                CASES.append((_name, _conv, _f.name))


def _other_values(field, default):
    """Valid values other than ``default`` for one field."""
    k = field.kind
    if default is hp.NO_DEFAULT:  # the convention has none (optax's Adadelta η): any valid value
        return [0.5]
    if k.type == "bool":
        return [not default]
    if k.type == "choice":
        return [c for c in field.choices if c != default]
    if k.type == "int":
        return [default + 2]
    if k.name == "unit" or field.name in ("momentum", "alpha"):  # decay factors (torch allows >= 1)
        return [0.5 if default != 0.5 else 0.7]
    if default == 0:
        return [0.05]
    return [default * 3.0]


def _kwargs(rule_cls, conv, field, value):
    if field.pair is None:
        return {field.name: value}
    parts = hp.pair_names(rule_cls.fields)[field.pair]
    d = rule_cls.resolved_defaults(conv)
    return {field.pair: tuple(value if p == field.name else d[p] for p in parts)}


def _grad(x):
    """A fixed non-quadratic gradient field (so that every state field matters)."""
    return 2.0 * x * np.array([1.0, 3.0, 0.5, 2.0]) + np.sin(3 * x) - 0.3


@pytest.mark.parametrize("name,conv,field", CASES, ids=[f"{n}-{c}-{f}" for n, c, f in CASES])
def test_optim_and_rules_resolve_and_step_alike(name, conv, field):
    cls = ro.OPTIMIZERS[name]
    rule_cls = cls._rule
    variants = [{}]
    if field is not None:
        f = hp.field_map(rule_cls.fields)[field]
        variants = [_kwargs(rule_cls, conv, f, v) for v in _other_values(f, rule_cls.default_of(field, conv))]
    for kw in variants:
        x0 = np.array([1.0, -0.5, 2.0, 0.25])
        p = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
        try:
            rule = rule_cls(convention=conv, **kw, **cls._fixed)
        except ValueError as exc:  # both faces refuse, with the same message
            with pytest.raises(ValueError) as opt_exc:
                cls([p], convention=conv, impl="eager", **kw)
            assert str(opt_exc.value) == str(exc)
            continue
        opt = cls([p], convention=conv, impl="eager", **kw)
        assert opt.rule.h == rule.h, f"{name}({kw}, convention={conv!r}) resolves differently"
        theta, state = x0.copy(), rule.init(x0)
        for _ in range(8):
            theta, state, _rec = rule.apply(theta, _grad(theta), state)
            p.grad = torch.tensor(_grad(p.detach().numpy()), dtype=torch.float64)
            opt.step()
        got = p.detach().numpy()
        np.testing.assert_allclose(got, theta, rtol=1e-12, atol=1e-14, err_msg=f"{name}({kw}) {conv}")


@pytest.mark.parametrize("name", list(ro.OPTIMIZERS))
def test_optim_keywords_are_the_rules_keywords_with_no_defaults_of_their_own(name):
    """The torch face names every rule keyword (pairs joined, as torch does) and leaves every
    default to the rule's spec and convention: no second copy of a default to drift."""
    cls = ro.OPTIMIZERS[name]
    sig = inspect.signature(cls.__init__).parameters
    rule_keys = set(hp.joined_names(cls._rule.settable())) - set(cls._fixed)
    assert rule_keys <= set(sig), f"{name} lacks {rule_keys - set(sig)}"
    for k in rule_keys:
        assert sig[k].default is DEFAULT, f"{name}({k}=...) has a default of its own: {sig[k].default!r}"


def test_nadam_keras_decay_is_decoupled_in_both_faces():
    """The drift that motivated one home: Keras's Nadam decays decoupled, in both faces."""
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = ro.NAdam([p], weight_decay=0.1, convention="keras")
    assert opt.rule.h.decoupled_weight_decay is True


def test_a_rule_without_a_class_gets_one_made_from_its_hyper():
    """What an added rule gets with no line in ravine.optim: Yogi's declared class has nothing
    but its rule, so the class made for the rule alone must be it, keyword for keyword and step
    for step."""
    made = ro._plain(ro.Yogi._rule)
    assert made.__name__ == "Yogi" and made is not ro.Yogi
    assert inspect.signature(made) == inspect.signature(ro.Yogi)
    p, q = (torch.nn.Parameter(torch.tensor([1.0, -0.5, 2.0, 0.25], dtype=torch.float64)) for _ in range(2))
    a = made([p], 0.05, (0.8, 0.9), bias_correction=True, impl="eager")
    b = ro.Yogi([q], lr=0.05, betas=(0.8, 0.9), bias_correction=True, impl="eager")
    assert a.rule.h == b.rule.h
    for _ in range(3):
        for x in (p, q):
            x.grad = torch.tensor(_grad(x.detach().numpy()), dtype=torch.float64)
        a.step()
        b.step()
    assert torch.equal(p, q)
    with pytest.raises(TypeError, match=r"^Yogi\(\): got an unexpected keyword argument 'beta1'$"):
        made([p], beta1=0.9)
