"""``ravine.optim``: torch.optim optimizers built from the core rules.

``from ravine.optim import Adam`` — the same class name, keywords and defaults as
``torch.optim.Adam``, plus three keywords of ravine's:

``convention=``  where keyword defaults come from ("torch", "keras", "optax", …: see each rule),
``nonfinite=``   "ignore" (default: as torch, no check) | "raise" | "skip" (atomic over all groups),
``impl=``        "auto" (compiled when torch.compile works here, else eager) | "compiled" | "eager".

No equation is written here: every step calls the rule's ``update`` (see
``_base.py`` for the flat-buffer design and docs/optim.md). Importing this
module imports torch; ``import ravine`` does not.
"""

from __future__ import annotations

from .. import rules as _r
from ..rules.base import NonFiniteGradientError
from ._base import IMPLS, RuleOptimizer, compile_stats
from ._schedule import ScheduleLR

__all__ = [
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adadelta",
    "Adam",
    "AdamW",
    "NAdam",
    "Yogi",
    "RAdam",
    "Adamax",
    "ASGD",
    "Rprop",
    "RMSpropNesterov",
    "WindowedRMSprop",
    "Momentum",
    "ScheduleLR",
    "RuleOptimizer",
    "NonFiniteGradientError",
    "IMPLS",
    "compile_stats",
    "OPTIMIZERS",
]


class SGD(RuleOptimizer):
    """``torch.optim.SGD`` from :class:`ravine.rules.SGD` (momentum, dampening, nesterov, weight_decay)."""

    _rule = _r.SGD
    _torch_keywords = ("*", "maximize", "foreach", "differentiable", "fused")
    _state_names = {"b": "momentum_buffer"}
    _sparse_ok = True
    _keeps_step = False
    _detach_first = True


class Adagrad(RuleOptimizer):
    """``torch.optim.Adagrad`` from :class:`ravine.rules.Adagrad`."""

    _rule = _r.Adagrad
    _torch_keywords = ("foreach", "*", "maximize", "differentiable", "fused")
    _state_names = {"r": "sum"}
    _sparse_ok = True
    _state_at_init = True  # torch's Adagrad fills its state in __init__


class RMSprop(RuleOptimizer):
    """``torch.optim.RMSprop`` from :class:`ravine.rules.RMSprop` (centered, momentum)."""

    _rule = _r.RMSprop
    _torch_keywords = ("capturable", "foreach", "maximize", "differentiable")
    _state_names = {"r": "square_avg", "m": "grad_avg", "b": "momentum_buffer"}


class Adadelta(RuleOptimizer):
    """``torch.optim.Adadelta`` from :class:`ravine.rules.Adadelta` (Zeiler 2012)."""

    _rule = _r.Adadelta
    _torch_keywords = ("foreach", "*", "capturable", "maximize", "differentiable")
    _state_names = {"s": "square_avg", "u": "acc_delta"}


class Adam(RuleOptimizer):
    """``torch.optim.Adam`` from :class:`ravine.rules.Adam` (amsgrad, coupled or decoupled weight decay)."""

    _rule = _r.Adam
    _torch_keywords = ("*", "foreach", "maximize", "capturable", "differentiable", "fused")
    _state_names = {"s": "exp_avg", "r": "exp_avg_sq", "r_max": "max_exp_avg_sq"}


class AdamW(RuleOptimizer):
    """``torch.optim.AdamW`` from :class:`ravine.rules.AdamW` (decoupled weight decay, default 0.01)."""

    _rule = _r.AdamW
    _torch_keywords = ("*", "maximize", "foreach", "capturable", "differentiable", "fused")
    _state_names = Adam._state_names


class NAdam(RuleOptimizer):
    """``torch.optim.NAdam`` from :class:`ravine.rules.NAdam` (Dozat's momentum schedule)."""

    _rule = _r.NAdam
    _torch_keywords = ("*", "foreach", "maximize", "capturable", "differentiable")
    _state_names = {"s": "exp_avg", "r": "exp_avg_sq", "mu_product": "mu_product"}
    _scalar_state = frozenset({"mu_product"})  # torch: one number per parameter


class RAdam(RuleOptimizer):
    """``torch.optim.RAdam`` from :class:`ravine.rules.RAdam` (rectified Adam, coupled or decoupled weight decay)."""

    _rule = _r.RAdam
    _torch_keywords = ("*", "foreach", "maximize", "capturable", "differentiable")
    _state_names = {"s": "exp_avg", "r": "exp_avg_sq"}


class Adamax(RuleOptimizer):
    """``torch.optim.Adamax`` from :class:`ravine.rules.Adamax` (the infinity-norm Adam)."""

    _rule = _r.Adamax
    _torch_keywords = ("foreach", "*", "maximize", "differentiable", "capturable")
    _state_names = {"s": "exp_avg", "u": "exp_inf"}


class ASGD(RuleOptimizer):
    """``torch.optim.ASGD`` from :class:`ravine.rules.ASGD` (averaged SGD: the average is ``state[p]["ax"]``)."""

    _rule = _r.ASGD
    _torch_keywords = ("foreach", "maximize", "differentiable", "capturable")
    _scalar_state = frozenset({"eta", "mu"})  # torch: one number per parameter


class Rprop(RuleOptimizer):
    """``torch.optim.Rprop`` from :class:`ravine.rules.Rprop` (a step size per coordinate)."""

    _rule = _r.Rprop
    _torch_keywords = ("*", "capturable", "foreach", "maximize", "differentiable")


class Yogi(RuleOptimizer):
    """Yogi (Zaheer et al. 2018) from :class:`ravine.rules.Yogi`; torch has none."""

    _rule = _r.Yogi


class RMSpropNesterov(RuleOptimizer):
    """RMSProp with Nesterov momentum from :class:`ravine.rules.RMSpropNesterov` with
    ``lookahead=False``: the parameters hold φ = θ + αv, so the gradient of one
    backward pass at the parameters is the look-ahead gradient. torch has none."""

    _rule = _r.RMSpropNesterov
    _fixed = {"lookahead": False}


class WindowedRMSprop(RuleOptimizer):
    """Moving-window RMSProp (lecture 45's "AdaDelta") from :class:`ravine.rules.WindowedRMSprop`.
    Its state holds the last ``window`` squared gradients: (window + 2)·N numbers per step move."""

    _rule = _r.WindowedRMSprop


class Momentum(RuleOptimizer):
    """Heavy-ball (v ← αv − ηg, θ ← θ + v) or averaged (v ← βv + (1−β)g, θ ← θ − ηv)
    momentum from :class:`ravine.rules.Momentum` (``form=``)."""

    _rule = _r.Momentum


def _plain(rule: type[_r.Rule]) -> type[RuleOptimizer]:
    """The optimizer of a rule that no class above declares: the rule's keywords, torch's
    ``maximize`` and ``foreach``, the rule's state names (an added rule needs nothing here)."""
    doc = f"{rule.title} from :class:`ravine.rules.{rule.__name__}`; torch has none."
    return type(rule.__name__, (RuleOptimizer,), {"_rule": rule, "__doc__": doc, "__module__": __name__})


_DECLARED = (
    SGD,
    Adagrad,
    RMSprop,
    Adadelta,
    Adam,
    AdamW,
    NAdam,
    RAdam,
    Adamax,
    ASGD,
    Rprop,
    Yogi,
    RMSpropNesterov,
    WindowedRMSprop,
    Momentum,
)
#: every optimizer of this module by class name: the declared ones, then one for each other rule
#: that steps on a gradient at the parameters alone (no Hessian, no look-ahead point)
OPTIMIZERS = {c.__name__: c for c in _DECLARED}
for _rule in _r.RULES.values():
    if _rule.__name__ not in OPTIMIZERS and not _rule.needs:
        OPTIMIZERS[_rule.__name__] = globals()[_rule.__name__] = _plain(_rule)
        __all__.append(_rule.__name__)
