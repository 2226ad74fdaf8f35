"""Schedules: formulas written out independently, t = 0 is the first update."""

import math

import numpy as np
import pytest

from ravine import schedules as S


def all_examples():
    return [
        S.constant(0.3),
        S.piecewise_constant([3, 7], [1.0, 0.1, 0.01]),
        S.exponential(2.0, 0.1),
        S.polynomial(1.0, 0.5, 0.1),
        S.step(1.0, 4, 0.5),
        S.cosine(1.0, 10, 0.1),
        S.linear(0.5, 0.9, 6),
        S.momentum_anneal(steps=5),
        S.warmup(S.cosine(1.0, 10), 4, start=0.1),
        S.join([S.linear(0.0, 1.0, 3), S.exponential(1.0, 0.2), 0.05], [3, 9]),
    ]


@pytest.mark.parametrize("sched", all_examples(), ids=lambda s: type(s).__name__)
def test_values_equal_calls(sched):
    n = 25
    v = sched.values(n)
    assert v.dtype == np.float64 and v.shape == (n,)
    assert v.tolist() == [sched(t) for t in range(n)]
    assert all(type(sched(t)) is float for t in range(3))
    assert sched.values(0).shape == (0,)


@pytest.mark.parametrize("sched", all_examples(), ids=lambda s: type(s).__name__)
def test_immutable_and_hashable(sched):
    with pytest.raises(AttributeError):
        sched.init = 5.0  # frozen dataclass
    hash(sched)


def test_constant():
    s = S.constant(0.25)
    assert [s(t) for t in (0, 1, 1000)] == [0.25, 0.25, 0.25]


def test_piecewise_constant_boundaries_exact():
    s = S.piecewise_constant([3, 7], [1.0, 0.1, 0.01])
    expect = [1.0] * 3 + [0.1] * 4 + [0.01] * 5
    assert s.values(12).tolist() == expect
    assert s(2) == 1.0 and s(3) == 0.1  # a boundary is the first step of the new value
    assert s(6) == 0.1 and s(7) == 0.01
    assert s(10**9) == 0.01
    assert S.piecewise_constant([], [0.5]).values(3).tolist() == [0.5] * 3


def test_exponential_formula():
    s = S.exponential(2.0, 0.1)
    for t in range(20):
        assert s(t) == pytest.approx(2.0 * math.exp(-0.1 * t), rel=1e-15)
    assert s(0) == 2.0


def test_exponential_matches_lecture_snippet():
    # lecture 002's exponential_lr: global t incremented before use
    t = 0
    snippet = []
    for _ in range(10):
        t += 1
        snippet.append(math.exp(-0.1 * t))
    assert snippet[0] == pytest.approx(math.exp(-0.1))
    s = S.exponential(1.0, 0.1)
    np.testing.assert_allclose(s.values(11)[1:], snippet, rtol=1e-15)
    # the same sequence indexed from ravine's t = 0
    np.testing.assert_allclose(S.exponential(math.exp(-0.1), 0.1).values(10), snippet, rtol=1e-14)


def test_polynomial_formula_and_lecture_snippet():
    s = S.polynomial(3.0, alpha=0.5, beta=0.1)
    for t in range(20):
        assert s(t) == pytest.approx(3.0 * (0.1 * t + 1) ** -0.5, rel=1e-15)
    t = 0
    snippet = []
    for _ in range(10):
        t += 1
        snippet.append((1 + 0.1 * t) ** (-0.5))
    np.testing.assert_allclose(S.polynomial(1.0, 0.5, 0.1).values(11)[1:], snippet, rtol=1e-15)
    shifted = S.polynomial(1.1**-0.5, alpha=0.5, beta=0.1 / 1.1)
    np.testing.assert_allclose(shifted.values(10), snippet, rtol=1e-14)


def test_step_like_torch_steplr():
    s = S.step(0.1, step_size=3, gamma=0.5)
    expect = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    np.testing.assert_allclose(s.values(7), expect, rtol=1e-15)
    assert S.step(1.0, 2).values(5).tolist() == pytest.approx([1, 1, 0.1, 0.1, 0.01])


def test_cosine():
    s = S.cosine(1.0, total_steps=10, final=0.1)
    for t in range(10):
        assert s(t) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2, rel=1e-14)
    assert s(0) == 1.0
    assert s(5) == pytest.approx(0.55)
    assert s(10) == 0.1 and s(11) == 0.1 and s(500) == 0.1
    assert S.cosine(2.0, 4)(4) == 0.0


def test_linear_and_momentum_anneal():
    s = S.linear(1.0, 0.0, 4)
    assert s.values(7).tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0])
    m = S.momentum_anneal(steps=4)  # lecture 004: 0.5 annealed to 0.9
    assert m(0) == 0.5
    assert m(2) == pytest.approx(0.7)
    assert m(4) == 0.9 and m(100) == 0.9
    assert m == S.linear(0.5, 0.9, 4)
    assert S.momentum_anneal(0.0, 0.99, steps=10)(10) == 0.99


def test_warmup():
    base = S.exponential(0.2, 0.1)
    s = S.warmup(base, warmup_steps=4)
    assert s.values(4).tolist() == pytest.approx([0.0, 0.05, 0.1, 0.15])
    for t in range(4, 15):
        assert s(t) == base(t - 4)
    assert s(4) == 0.2  # peak reached at the end of warm-up
    s2 = S.warmup(0.1, 2, start=0.5)  # a plain number is wrapped
    assert s2.values(4).tolist() == pytest.approx([0.05, 0.075, 0.1, 0.1])


def test_join_restarts_clock():
    a, b, c = S.constant(1.0), S.exponential(1.0, 0.5), S.linear(0.3, 0.0, 3)
    s = S.join([a, b, c], [2, 5])
    expect = [1.0, 1.0, 1.0, math.exp(-0.5), math.exp(-1.0), 0.3, 0.2, 0.1, 0.0, 0.0]
    np.testing.assert_allclose(s.values(10), expect, rtol=1e-14, atol=1e-17)
    assert s(2) == b(0) and s(5) == c(0)
    # warmup + cosine by hand with join
    wc = S.join([S.linear(0.0, 1.0, 3), S.cosine(1.0, 5)], [3])
    np.testing.assert_allclose(wc.values(12), S.warmup(S.cosine(1.0, 5), 3).values(12))


def test_as_schedule():
    s = S.as_schedule(0.1)
    assert isinstance(s, S.Constant) and s(7) == 0.1
    assert S.as_schedule(np.float32(0.5))(0) == 0.5
    e = S.exponential(1.0, 0.1)
    assert S.as_schedule(e) is e
    for bad in ("0.1", None, True, [0.1], lambda t: 0.1):
        with pytest.raises(TypeError, match="as_schedule: expected a number or a ravine schedule"):
            S.as_schedule(bad)
    with pytest.raises(ValueError, match="constant: value must be a finite real number, got nan"):
        S.as_schedule(float("nan"))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: S.exponential(1.0, -1), "exponential: decay_rate must be >= 0, got -1"),
        (lambda: S.exponential(float("inf"), 0.1), "exponential: init must be a finite real number, got inf"),
        (lambda: S.polynomial(1.0, -0.5, 0.1), "polynomial: alpha must be >= 0, got -0.5"),
        (lambda: S.polynomial(1.0, 0.5, -2), "polynomial: beta must be >= 0, got -2"),
        (lambda: S.step(1.0, 0), "step: step_size must be an integer in \\[1, 1e\\+09\\], got 0"),
        (lambda: S.step(1.0, 2.0), "step: step_size must be an integer in \\[1, 1e\\+09\\], got 2.0"),
        (lambda: S.step(1.0, 2, -0.1), "step: gamma must be >= 0, got -0.1"),
        (lambda: S.cosine(1.0, 0), "cosine: total_steps must be an integer in \\[1, 1e\\+09\\], got 0"),
        (lambda: S.linear(0.5, 0.9, -3), "linear: steps must be an integer in \\[1, 1e\\+09\\], got -3"),
        (lambda: S.momentum_anneal(steps=0), "linear: steps must be an integer in \\[1, 1e\\+09\\], got 0"),
        (lambda: S.warmup(S.constant(1.0), 0), "warmup: warmup_steps must be an integer in \\[1, 1e\\+09\\], got 0"),
        (lambda: S.warmup(S.constant(1.0), 3, -1.0), "warmup: start must be >= 0, got -1"),
        (lambda: S.constant("a"), "constant: value must be a finite real number, got 'a'"),
        (lambda: S.constant(True), "constant: value must be a finite real number, got True"),
        (
            lambda: S.piecewise_constant([5, 3], [1, 2, 3]),
            "piecewise_constant: boundaries must be strictly increasing positive integers, got 3 after 5",
        ),
        (
            lambda: S.piecewise_constant([0, 3], [1, 2, 3]),
            "piecewise_constant: boundaries must be strictly increasing positive integers, got 0",
        ),
        (
            lambda: S.piecewise_constant([3], [1, 2, 3]),
            "piecewise_constant: values must have len\\(boundaries\\) \\+ 1 = 2 entries, got 3",
        ),
        (
            lambda: S.piecewise_constant([3], [1, float("nan")]),
            "piecewise_constant: values\\[1\\] must be a finite real number, got nan",
        ),
        (
            lambda: S.join([S.constant(1.0), S.constant(2.0)], []),
            "join: boundaries must have len\\(schedules\\) − 1 = 1 entries, got 0",
        ),
        (lambda: S.join([], []), "join: schedules must contain at least one schedule"),
        (
            lambda: S.join([S.constant(1.0), S.constant(2.0)], [2.5]),
            "join: boundaries must be strictly increasing positive integers, got 2.5",
        ),
    ],
)
def test_validation_messages(make, message):
    with pytest.raises(ValueError, match=f"^{message}") as info:
        make()
    assert "\n" not in str(info.value)


def test_step_index_validation():
    s = S.constant(1.0)
    with pytest.raises(ValueError, match="step t must be an integer >= 0, got -1"):
        s(-1)
    with pytest.raises(TypeError, match="step t must be an integer >= 0, got 1.5"):
        s(1.5)
    assert s(np.int64(3)) == 1.0
    with pytest.raises(ValueError, match="values: n must be an integer >= 0, got -2"):
        s.values(-2)


def test_numpy_scalars_accepted():
    s = S.step(np.float64(1.0), np.int32(2), np.float32(0.5))
    assert s.step_size == 2 and type(s.step_size) is int
    assert s(2) == 0.5


def test_equality_of_factory_and_class():
    assert S.exponential(1, 0.1) == S.Exponential(1.0, 0.1)
    assert S.piecewise_constant([2], [1, 2]) == S.PiecewiseConstant((2,), (1.0, 2.0))
