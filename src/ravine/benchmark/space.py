"""Search spaces: which hyperparameters of each benchmarked optimizer are tuned, over which range.

The *names* of an optimizer's hyperparameters come from its rule class (``Rule.Hyper``
fields, ``ravine/rules/``) and their *kind* from :func:`_kind`, which reads the fields' specs
(``ravine/rules/hyper.py``). The arms of :data:`BENCH_OPTIMIZERS` name what they tune; every other
rule with a ``ravine.optim`` class and a ``weight_decay`` is an arm too, under its registry name
(:func:`arms`), tuning what :func:`default_tuned` reads from its spec. The *ranges* are benchmark knowledge and live
only here (:data:`RANGES`):

* ``lr``: log-uniform on [1e-4, 1] (Choi et al. 2019, "On empirical comparisons of
  optimizers for deep learning", tune every optimizer's lr on a log scale);
* a decay factor (kind ``unit``: β1, β2, α, momentum): ``1 − β`` log-uniform on
  [1e-3, 0.5] (Choi et al. 2019 search 1 − β on a log scale);
* ε (kind ``positive``): log-uniform on [1e-10, 1e-1] (Choi et al. 2019 tune ε up to large
  values; ε ≫ 1e-8 turns Adam towards momentum SGD).

Quasi-random search (Bousquet et al. 2017; AlgoPerf's "external tuning" ruleset, Dahl et
al. 2023): one scrambled, seeded Sobol sequence (``scipy.stats.qmc.Sobol``) of
:data:`SOBOL_DIMS` dimensions gives the unit points; every optimizer on every problem uses
the *same* points, taking its first ``d`` coordinates in the order of :attr:`Space.dims`
(lr first). Protocol ``lr`` tunes the learning rate only (the other hyperparameters at
their defaults); protocol ``all`` tunes every dimension of the space.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .. import _checks
from ..rules import hyper as hp

__all__ = [
    "Dim",
    "Space",
    "BenchOptimizer",
    "BENCH_OPTIMIZERS",
    "RANGES",
    "PROTOCOLS",
    "SOBOL_DIMS",
    "space_for",
    "sobol_points",
    "check_range",
    "get_optimizer",
    "arms",
    "default_tuned",
]

PROTOCOLS = ("lr", "all")
SOBOL_DIMS = 4


class Dim(NamedTuple):
    """One tuned hyperparameter: rule field ``name`` of ``kind``, with value = ``low·(high/low)^u``
    (``transform="log"``) or ``1 − that`` (``"one_minus_log"``) for a unit point u ∈ [0, 1)."""

    name: str
    kind: str
    low: float
    high: float
    transform: str  # "log" | "one_minus_log"

    def value(self, u: float) -> float:
        v = math.exp(math.log(self.low) + float(u) * (math.log(self.high) - math.log(self.low)))
        return 1.0 - v if self.transform == "one_minus_log" else v

    def describe(self) -> str:
        if self.transform == "one_minus_log":
            return f"1−{self.name} log-uniform [{self.low:g}, {self.high:g}]"
        return f"{self.name} log-uniform [{self.low:g}, {self.high:g}]"


#: kind → (low, high, transform): the tuning ranges (benchmark knowledge; see the module docstring)
RANGES: dict[str, tuple[float, float, str]] = {
    "lr": (1e-4, 1.0, "log"),
    "unit": (1e-3, 0.5, "one_minus_log"),
    "positive": (1e-10, 1e-1, "log"),
}


def _kind(rule_cls: type, field_name: str) -> str:
    """Which tuning range of :data:`RANGES` a field takes, from the rule's spec
    (``ravine.rules.hyper``): a field searched as 1 − v (its scale ``"log1m"``: β1, β2, α,
    ρ, momentum) takes ``"unit"``; a learning rate ``"lr"``; another number searched on a log
    scale (ε, valid as ``>= 0`` or ``> 0``) ``"positive"``; flags and forms their kind's name."""
    for f in rule_cls.fields:
        if f.name == field_name:
            if f.scale == "log1m":
                return "unit"
            if f.kind.name == "lr":
                return "lr"
            if f.scale == "log":
                return "positive"
            return f.kind.name
    raise ValueError(
        f"search space: {rule_cls.__name__} has no hyperparameter {field_name!r}; "
        f"it has {', '.join(f.name for f in rule_cls.fields)}"
    )


def check_range(name: str, low: float, high: float, transform: str = "log") -> None:
    """One-line ValueError for an empty, inverted or non-positive range."""
    for what, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"search range of {name}: {what} must be a positive finite number, got {v!r}")
    if not low < high:
        kind = "empty" if low == high else "inverted"
        raise ValueError(f"search range of {name}: [{low:g}, {high:g}] is {kind}; need low < high")
    if transform == "one_minus_log" and high >= 1:
        raise ValueError(f"search range of 1−{name}: high must be < 1, got {high:g}")


@dataclass(frozen=True)
class Space:
    """The tuned dimensions of one optimizer (lr first)."""

    optimizer: str
    dims: tuple[Dim, ...]

    def sample(self, u: np.ndarray, protocol: str) -> dict[str, float]:
        """Hyperparameter values at unit point ``u`` (only lr under protocol ``"lr"``)."""
        dims = self.dims[:1] if protocol == "lr" else self.dims
        return {d.name: d.value(u[i]) for i, d in enumerate(dims)}

    def describe(self, protocol: str = "all") -> str:
        dims = self.dims[:1] if protocol == "lr" else self.dims
        return "; ".join(d.describe() for d in dims)


class BenchOptimizer(NamedTuple):
    """A benchmarked optimizer: its ``ravine.optim`` class name, fixed keywords that make it
    what it is (heavy ball = SGD with momentum), and the rule fields that are tuned."""

    name: str
    optim: str  # class name in ravine.optim
    fixed: Mapping[str, Any]  # rule fields set by the arm (not tuned)
    tuned: tuple[str, ...]  # rule fields tuned under protocol "all" (lr first)
    title: str


#: the optimizers of the benchmark; their defaults are the framework's (torch convention)
BENCH_OPTIMIZERS: dict[str, BenchOptimizer] = {
    o.name: o
    for o in (
        BenchOptimizer("sgd", "SGD", {}, ("lr",), "SGD"),
        BenchOptimizer("heavy_ball", "SGD", {"momentum": 0.9}, ("lr", "momentum"), "SGD + heavy-ball momentum"),
        BenchOptimizer(
            "nesterov", "SGD", {"momentum": 0.9, "nesterov": True}, ("lr", "momentum"), "SGD + Nesterov momentum"
        ),
        BenchOptimizer("adagrad", "Adagrad", {}, ("lr", "eps"), "Adagrad"),
        BenchOptimizer("rmsprop", "RMSprop", {}, ("lr", "alpha", "eps"), "RMSProp"),
        BenchOptimizer("adam", "Adam", {}, ("lr", "beta1", "beta2", "eps"), "Adam"),
        BenchOptimizer("nadam", "NAdam", {}, ("lr", "beta1", "beta2", "eps"), "NAdam"),
    )
}


def default_tuned(rule_cls: type) -> tuple[str, ...]:
    """What an arm without a list of its own tunes: ``lr``, then the real fields searched on a
    log scale (``Field.scale``) whose torch default is not 0 (β, ρ, α, ε, …; not a weight decay
    or an accumulator that starts at 0), in the order of ``Hyper``, at most :data:`SOBOL_DIMS`."""
    out = ["lr"]
    for f in rule_cls.fields:
        default = rule_cls.default_of(f.name)
        if f.name != "lr" and f.scale in ("log", "log1m") and default is not hp.NO_DEFAULT and default != 0:
            out.append(f.name)
    return tuple(out[:SOBOL_DIMS])


def arms() -> dict[str, BenchOptimizer]:
    """Every optimizer the benchmark can run: :data:`BENCH_OPTIMIZERS`, then each other rule that has a
    ``ravine.optim`` class and a ``weight_decay`` (every problem sets one: ``Problem.weight_decay``),
    under its registry name (``adadelta``), tuning :func:`default_tuned`."""
    from ..rules import RULES

    out = dict(BENCH_OPTIMIZERS)
    taken = {o.optim for o in BENCH_OPTIMIZERS.values()}
    for name, rule in RULES.items():
        decays = any(f.name == "weight_decay" for f in rule.settable())
        # ravine.optim has a class, of the rule's name, for every rule without ``needs`` (it is
        # not imported here: planning a sweep does not load torch; a test checks the two agree)
        if name not in out and rule.__name__ not in taken and not rule.needs and decays:
            out[name] = BenchOptimizer(name, rule.__name__, {}, default_tuned(rule), rule.title)
    return out


def get_optimizer(name: str) -> BenchOptimizer:
    known = BENCH_OPTIMIZERS if name in BENCH_OPTIMIZERS else arms()
    if name not in known:
        raise ValueError(f"--optimizers: unknown optimizer {name!r}; choose from {', '.join(known)}")
    return known[name]


def rule_class(name: str) -> type:
    """The rule class behind benchmarked optimizer ``name`` (its ``ravine.optim`` class's rule)."""
    from .. import rules

    spec = get_optimizer(name)
    return getattr(rules, spec.optim)


def space_for(name: str, ranges: Mapping[str, tuple[float, float, str]] | None = None) -> Space:
    """The search space of optimizer ``name``: its tuned fields, each with the range of its kind."""
    spec = get_optimizer(name)
    cls = rule_class(name)
    table = dict(RANGES, **(ranges or {}))
    dims = []
    for f in spec.tuned:
        kind = _kind(cls, f)
        if kind not in table:
            raise ValueError(f"search space of {name}: no tuning range for kind {kind!r} (field {f!r})")
        low, high, transform = table[kind]
        check_range(f, low, high, transform)
        dims.append(Dim(f, kind, float(low), float(high), transform))
    if len(dims) > SOBOL_DIMS:
        raise ValueError(f"search space of {name}: {len(dims)} dimensions > SOBOL_DIMS={SOBOL_DIMS}")
    return Space(name, tuple(dims))


def sobol_points(n: int, seed: int) -> np.ndarray:
    """``n`` scrambled Sobol points in [0, 1)^SOBOL_DIMS, fixed by ``seed`` (the first ``n`` of
    the sequence, so a larger budget extends a smaller one)."""
    from scipy.stats import qmc

    n = _checks.integer("bench", "--trials", n, minimum=1)
    m = max(0, math.ceil(math.log2(n)))
    pts = qmc.Sobol(d=SOBOL_DIMS, scramble=True, seed=seed).random_base2(m)
    return np.asarray(pts[:n], dtype=np.float64)


def full_hyper(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every hyperparameter of optimizer ``name`` with the defaults written out (the rule
    validates them): the arm's fixed fields, then ``values``."""
    return dict(rule_class(name).build(**{**get_optimizer(name).fixed, **values}).hyperparameters())


def optim_keywords(name: str, hyper: Mapping[str, Any]) -> dict[str, Any]:
    """Keywords for the ``ravine.optim`` class from a full hyperparameter dict (fields its
    constructor does not take, such as Adam's ``amsgrad_max``, keep the rule's default)."""
    import inspect

    from .. import optim

    cls = getattr(optim, get_optimizer(name).optim)
    accepted = set(inspect.signature(cls.__init__).parameters)
    return {k: v for k, v in hp.join_pairs(rule_class(name).fields, hyper).items() if k in accepted}
