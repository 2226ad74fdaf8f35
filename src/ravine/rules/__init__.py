"""Every update rule in ravine, each defined once (see ``base.py`` for the contract).

=====================  ==========================================  ===========
name                   class                                       file
=====================  ==========================================  ===========
sgd                    :class:`SGD` (momentum, dampening, nesterov) sgd.py
momentum               :class:`Momentum` (heavy ball / average)     sgd.py
nag                    :class:`NAG` (look-ahead Nesterov)           sgd.py
adagrad                :class:`Adagrad`                             adagrad.py
rmsprop                :class:`RMSprop` (centered, momentum)        rmsprop.py
rmsprop_nesterov       :class:`RMSpropNesterov`                     rmsprop.py
windowed_rmsprop       :class:`WindowedRMSprop` (lecture 45 "AdaDelta") rmsprop.py
adadelta               :class:`Adadelta` (Zeiler)                   adadelta.py
adam                   :class:`Adam` (amsgrad, eps_mode)            adam.py
adamw                  :class:`AdamW`                               adam.py
nadam                  :class:`NAdam`                               adam.py
yogi                   :class:`Yogi`                                adam.py
radam                  :class:`RAdam` (rectified, decoupled decay)  radam.py
adamax                 :class:`Adamax` (infinity norm)              adamax.py
asgd                   :class:`ASGD` (averaged SGD)                 asgd.py
rprop                  :class:`Rprop` (sign-based step sizes)       rprop.py
newton                 :class:`Newton` (damped, fallback)           newton.py
exact_step             :class:`ExactStep` (gᵀg/gᵀHg)                newton.py
=====================  ==========================================  ===========
"""

from __future__ import annotations

from typing import Any

from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW, NAdam, Yogi
from .adamax import Adamax
from .asgd import ASGD
from .base import DEFAULT, NONFINITE_POLICIES, NonFiniteGradientError, OptState, Rule
from .newton import ExactStep, Newton
from .radam import RAdam
from .rmsprop import RMSprop, RMSpropNesterov, WindowedRMSprop
from .rprop import Rprop
from .sgd import NAG, SGD, Momentum

RULES: dict[str, type[Rule]] = {
    cls.name: cls
    for cls in (
        SGD,
        Momentum,
        NAG,
        Adagrad,
        RMSprop,
        RMSpropNesterov,
        WindowedRMSprop,
        Adadelta,
        Adam,
        AdamW,
        NAdam,
        Yogi,
        RAdam,
        Adamax,
        ASGD,
        Rprop,
        Newton,
        ExactStep,
    )
}

#: aliases users type
ALIASES = {
    "gd": "sgd",
    "heavy_ball": "momentum",
    "nesterov": "nag",
    "rmsprop_window": "windowed_rmsprop",
    "adadelta_lecture45": "windowed_rmsprop",
    "exact": "exact_step",
}


def list_rules() -> list[str]:
    """Names of all rules, in the order of the lectures."""
    return list(RULES)


def normalize_name(name: str) -> str:
    """The registry key for a name users type: case, ``-`` and aliases folded (``Heavy-Ball`` →
    ``momentum``). Unknown names come back folded, not refused."""
    key = name.strip().lower().replace("-", "_")
    return ALIASES.get(key, key)


def get_rule(name: str, **hyper: Any) -> Rule:
    """Build a rule by name: ``get_rule("adam", lr=0.1)``."""
    if not isinstance(name, str):
        raise ValueError(f"optimizer: name must be a string, got {name!r}")
    key = normalize_name(name)
    if key not in RULES:
        raise ValueError(f"optimizer: unknown name {name!r}; choose one of: {', '.join(RULES)}")
    return RULES[key].build(**hyper)


__all__ = [
    "Rule",
    "OptState",
    "NonFiniteGradientError",
    "NONFINITE_POLICIES",
    "DEFAULT",
    "RULES",
    "list_rules",
    "get_rule",
    "normalize_name",
    *(c.__name__ for c in RULES.values()),
]
