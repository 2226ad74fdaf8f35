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
from ..rules.base import DEFAULT, NonFiniteGradientError
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
    _state_names = {"b": "momentum_buffer"}
    _sparse_ok = True
    _keeps_step = False
    _detach_first = True

    def __init__(
        self,
        params,
        lr=DEFAULT,
        momentum=DEFAULT,
        dampening=DEFAULT,
        weight_decay=DEFAULT,
        nesterov=DEFAULT,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
        first_buffer=DEFAULT,
        lr_in_buffer=DEFAULT,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                first_buffer=first_buffer,
                lr_in_buffer=lr_in_buffer,
            ),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            fused=fused,
            differentiable=differentiable,
            nonfinite=nonfinite,
            impl=impl,
        )


class Adagrad(RuleOptimizer):
    """``torch.optim.Adagrad`` from :class:`ravine.rules.Adagrad`."""

    _rule = _r.Adagrad
    _state_names = {"r": "sum"}
    _sparse_ok = True
    _state_at_init = True  # torch's Adagrad fills its state in __init__

    def __init__(
        self,
        params,
        lr=DEFAULT,
        lr_decay=DEFAULT,
        weight_decay=DEFAULT,
        initial_accumulator_value=DEFAULT,
        eps=DEFAULT,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        fused=None,
        eps_inside=DEFAULT,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
                eps_inside=eps_inside,
            ),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            fused=fused,
            differentiable=differentiable,
            nonfinite=nonfinite,
            impl=impl,
        )


class RMSprop(RuleOptimizer):
    """``torch.optim.RMSprop`` from :class:`ravine.rules.RMSprop` (centered, momentum)."""

    _rule = _r.RMSprop
    _state_names = {"r": "square_avg", "m": "grad_avg", "b": "momentum_buffer"}

    def __init__(
        self,
        params,
        lr=DEFAULT,
        alpha=DEFAULT,
        eps=DEFAULT,
        weight_decay=DEFAULT,
        momentum=DEFAULT,
        centered=DEFAULT,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
        *,
        eps_inside=DEFAULT,
        lr_in_buffer=DEFAULT,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                centered=centered,
                eps_inside=eps_inside,
                lr_in_buffer=lr_in_buffer,
            ),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            nonfinite=nonfinite,
            impl=impl,
        )


class Adadelta(RuleOptimizer):
    """``torch.optim.Adadelta`` from :class:`ravine.rules.Adadelta` (Zeiler 2012)."""

    _rule = _r.Adadelta
    _state_names = {"s": "square_avg", "u": "acc_delta"}

    def __init__(
        self,
        params,
        lr=DEFAULT,
        rho=DEFAULT,
        eps=DEFAULT,
        weight_decay=DEFAULT,
        foreach=None,
        *,
        capturable=False,
        maximize=False,
        differentiable=False,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            nonfinite=nonfinite,
            impl=impl,
        )


class Adam(RuleOptimizer):
    """``torch.optim.Adam`` from :class:`ravine.rules.Adam` (amsgrad, coupled or decoupled weight decay)."""

    _rule = _r.Adam
    _state_names = {"s": "exp_avg", "r": "exp_avg_sq", "r_max": "max_exp_avg_sq"}

    def __init__(
        self,
        params,
        lr=DEFAULT,
        betas=DEFAULT,
        eps=DEFAULT,
        weight_decay=DEFAULT,
        amsgrad=DEFAULT,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
        fused=None,
        decoupled_weight_decay=DEFAULT,
        eps_mode=DEFAULT,
        amsgrad_max=DEFAULT,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=betas,
                eps=eps,
                weight_decay=weight_decay,
                amsgrad=amsgrad,
                decoupled_weight_decay=decoupled_weight_decay,
                eps_mode=eps_mode,
                amsgrad_max=amsgrad_max,
            ),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            fused=fused,
            capturable=capturable,
            differentiable=differentiable,
            nonfinite=nonfinite,
            impl=impl,
        )


class AdamW(RuleOptimizer):
    """``torch.optim.AdamW`` from :class:`ravine.rules.AdamW` (decoupled weight decay, default 0.01)."""

    _rule = _r.AdamW
    _state_names = Adam._state_names

    def __init__(
        self,
        params,
        lr=DEFAULT,
        betas=DEFAULT,
        eps=DEFAULT,
        weight_decay=DEFAULT,
        amsgrad=DEFAULT,
        *,
        maximize=False,
        foreach=None,
        capturable=False,
        differentiable=False,
        fused=None,
        eps_mode=DEFAULT,
        amsgrad_max=DEFAULT,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=betas,
                eps=eps,
                weight_decay=weight_decay,
                amsgrad=amsgrad,
                eps_mode=eps_mode,
                amsgrad_max=amsgrad_max,
            ),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            fused=fused,
            capturable=capturable,
            differentiable=differentiable,
            nonfinite=nonfinite,
            impl=impl,
        )


class NAdam(RuleOptimizer):
    """``torch.optim.NAdam`` from :class:`ravine.rules.NAdam` (Dozat's momentum schedule)."""

    _rule = _r.NAdam
    _state_names = {"s": "exp_avg", "r": "exp_avg_sq", "mu_product": "mu_product"}
    _scalar_state = frozenset({"mu_product"})  # torch: one number per parameter

    def __init__(
        self,
        params,
        lr=DEFAULT,
        betas=DEFAULT,
        eps=DEFAULT,
        weight_decay=DEFAULT,
        momentum_decay=DEFAULT,
        decoupled_weight_decay=DEFAULT,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=betas,
                eps=eps,
                weight_decay=weight_decay,
                momentum_decay=momentum_decay,
                decoupled_weight_decay=decoupled_weight_decay,
            ),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            nonfinite=nonfinite,
            impl=impl,
        )


class Yogi(RuleOptimizer):
    """Yogi (Zaheer et al. 2018) from :class:`ravine.rules.Yogi`; torch has none."""

    _rule = _r.Yogi

    def __init__(
        self,
        params,
        lr=DEFAULT,
        betas=DEFAULT,
        eps=DEFAULT,
        initial_accumulator_value=DEFAULT,
        *,
        initial_first_moment=DEFAULT,
        bias_correction=DEFAULT,
        maximize=False,
        foreach=None,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=betas,
                eps=eps,
                initial_accumulator_value=initial_accumulator_value,
                initial_first_moment=initial_first_moment,
                bias_correction=bias_correction,
            ),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            nonfinite=nonfinite,
            impl=impl,
        )


class RMSpropNesterov(RuleOptimizer):
    """RMSProp with Nesterov momentum from :class:`ravine.rules.RMSpropNesterov` with
    ``lookahead=False``: the parameters hold φ = θ + αv, so the gradient of one
    backward pass at the parameters is the look-ahead gradient. torch has none."""

    _rule = _r.RMSpropNesterov
    _fixed = {"lookahead": False}

    def __init__(
        self,
        params,
        lr=DEFAULT,
        alpha=DEFAULT,
        momentum=DEFAULT,
        eps=DEFAULT,
        *,
        eps_inside=DEFAULT,
        maximize=False,
        foreach=None,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(lr=lr, alpha=alpha, momentum=momentum, eps=eps, eps_inside=eps_inside),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            nonfinite=nonfinite,
            impl=impl,
        )


class WindowedRMSprop(RuleOptimizer):
    """Moving-window RMSProp (lecture 45's "AdaDelta") from :class:`ravine.rules.WindowedRMSprop`.
    Its state holds the last ``window`` squared gradients: (window + 2)·N numbers per step move."""

    _rule = _r.WindowedRMSprop

    def __init__(
        self,
        params,
        lr=DEFAULT,
        window=DEFAULT,
        eps=DEFAULT,
        *,
        eps_inside=DEFAULT,
        maximize=False,
        foreach=None,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(lr=lr, window=window, eps=eps, eps_inside=eps_inside),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            nonfinite=nonfinite,
            impl=impl,
        )


class Momentum(RuleOptimizer):
    """Heavy-ball (v ← αv − ηg, θ ← θ + v) or averaged (v ← βv + (1−β)g, θ ← θ − ηv)
    momentum from :class:`ravine.rules.Momentum` (``form=``)."""

    _rule = _r.Momentum

    def __init__(
        self,
        params,
        lr=DEFAULT,
        momentum=DEFAULT,
        *,
        form=DEFAULT,
        maximize=False,
        foreach=None,
        convention="torch",
        nonfinite="ignore",
        impl="auto",
    ):
        super().__init__(
            params,
            dict(lr=lr, momentum=momentum, form=form),
            convention=convention,
            maximize=maximize,
            foreach=foreach,
            nonfinite=nonfinite,
            impl=impl,
        )


#: every optimizer of this module by class name
OPTIMIZERS = {
    c.__name__: c
    for c in (SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam, Yogi, RMSpropNesterov, WindowedRMSprop, Momentum)
}
