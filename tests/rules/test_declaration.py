"""One declaration per hyperparameter: a rule's ``Hyper`` (``Annotated[type, spec]``) makes its
``fields`` and its keyword signature (``rules/hyper.py``, ``Rule.__init_subclass__``)."""

import inspect
from typing import Annotated, Any, NamedTuple

import numpy as np
import pytest

from ravine.rules import DEFAULT, RULES, Adam, Rule
from ravine.rules import hyper as hp
from ravine.rules.hyper import BOOL, LR, UNIT

P = inspect.Parameter


@pytest.mark.parametrize("cls", list(RULES.values()), ids=list(RULES))
def test_the_signature_sets_every_hyper_field_once_and_nothing_else(cls):
    sig = inspect.signature(cls).parameters
    assert list(sig)[-1] == "convention" and sig["convention"].kind is P.KEYWORD_ONLY
    fields = hp.field_map(cls.fields)
    assert list(fields) == list(cls.Hyper._fields)
    keywords = {}
    for f in cls.settable():
        keywords.setdefault(f.pair or f.name, []).append(f)
    assert set(sig) - {"convention"} == set(keywords)
    for name, fs in keywords.items():
        p = sig[name]
        assert p.kind is (P.KEYWORD_ONLY if fs[0].kw_only else P.POSITIONAL_OR_KEYWORD), name
        assert p.default is (None if fs[0].nullable else DEFAULT), name
    for name in cls.fixed:
        assert name not in sig


def test_positional_and_keyword_calls_agree_and_wrong_calls_are_type_errors():
    assert Adam(0.1, (0.8, 0.9), 1e-7) == Adam(lr=0.1, betas=(0.8, 0.9), eps=1e-7)
    assert Adam(0.1, convention="keras").h == Adam.build("keras", lr=0.1).h
    with pytest.raises(TypeError, match=r"^Adam\(\): got an unexpected keyword argument 'beta1'$"):
        Adam(beta1=0.8)  # the pair is one keyword here, as in torch (Rule.build takes both)
    with pytest.raises(TypeError, match=r"^Adam\(\): too many positional arguments$"):
        Adam(0.1, (0.9, 0.99), 1e-8, 0.0, False, True)
    with pytest.raises(ValueError, match=r"^Adam: beta2 must be in \[0, 1\), got 1\.5$"):
        Adam(betas=(0.9, 1.5))


class _SignHyper(NamedTuple):
    lr: Annotated[float, LR()]
    momentum: Annotated[float, UNIT(default=0.0)]
    nesterov: Annotated[bool, BOOL(default=False, kw_only=True)]


class _SignState(NamedTuple):
    m: Any


class _SignRecord(NamedTuple):
    g: Any
    m: Any
    delta: Any


class _Sign(Rule):
    """A toy rule written as a new rule file would be: Δθ = −η sign(m), m ← μm + g."""

    name = "sign_toy"
    conventions = {"torch": dict(lr=1e-2)}
    Hyper, State, Record = _SignHyper, _SignState, _SignRecord

    @staticmethod
    def init_state(h, theta):
        return _SignState(m=np.zeros_like(theta))

    @staticmethod
    def update(h, state, g, theta, k):
        m = h.momentum * state.m + g
        return _SignRecord(g=g, m=m, delta=-h.lr * np.sign(g + h.momentum * m if h.nesterov else m))


def test_a_new_rule_gets_its_fields_signature_and_checks_from_its_hyper_alone():
    assert [f.name for f in _Sign.fields] == ["lr", "momentum", "nesterov"]
    assert str(inspect.signature(_Sign)) == (
        "(lr: float = <convention default>, momentum: float = <convention default>, *, "
        "nesterov: bool = <convention default>, convention: str = 'torch')"
    )
    r = _Sign(0.5, nesterov=True)
    assert r.h == _SignHyper(lr=0.5, momentum=0.0, nesterov=True)
    with pytest.raises(ValueError, match=r"^_Sign: momentum must be in \[0, 1\), got 1$"):
        _Sign(momentum=1)
    theta, state, _ = r.apply(np.array([1.0, -2.0]), np.array([3.0, -0.5]), r.init(np.zeros(2)))
    np.testing.assert_array_equal(theta, [0.5, -1.5])


def test_a_hyper_field_without_a_spec_or_of_the_wrong_type_is_refused_when_the_class_is_made():
    class NoSpec(NamedTuple):
        lr: float

    class WrongType(NamedTuple):
        lr: Annotated[int, LR()]

    for hyper, message in ((NoSpec, r"NoSpec\.lr: declare it as Annotated"), (WrongType, r"a lr field is a float")):
        with pytest.raises(TypeError, match=message):
            type("Bad", (_Sign,), {"Hyper": hyper})
