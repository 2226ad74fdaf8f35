"""Adam and its family: AMSGrad, AdamW, NAdam, Yogi."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from .base import Rule
from .hyper import BOOL, CHOICE, LR, NONNEG, POSITIVE, UNIT
from .ops import Array, full_like, maximum, sign, sqrt, zeros_like

EPS_MODES = ("outside", "inside", "hat")


class AdamHyper(NamedTuple):
    lr: Annotated[float, LR()]
    beta1: Annotated[float, UNIT(pair="betas")]
    beta2: Annotated[float, UNIT(pair="betas")]
    eps: Annotated[float, NONNEG()]  # torch: eps >= 0
    weight_decay: Annotated[float, NONNEG(default=0.0)]
    amsgrad: Annotated[bool, BOOL(default=False)]
    decoupled_weight_decay: Annotated[bool, BOOL(kw_only=True, nullable=True)]
    eps_mode: Annotated[str, CHOICE(EPS_MODES, kw_only=True)]
    amsgrad_max: Annotated[str, CHOICE(("r", "r_hat"), default="r", kw_only=True)]


class AdamState(NamedTuple):
    s: Any  # first moment (torch: exp_avg)
    r: Any  # second moment (torch: exp_avg_sq)
    r_max: Any  # running max of r (amsgrad only, else 0.0)


class AdamRecord(NamedTuple):
    g: Any
    s: Any
    r: Any
    r_max: Any
    s_hat: Any
    r_hat: Any
    delta: Any
    theta: Any  # θ_{t+1}: decoupled decay first, then the step (torch's two roundings)


class AdamTerms(NamedTuple):
    bc1: float  # 1 − β1^t
    bc2: float  # 1 − β2^t


class Adam(Rule):
    r"""Adam (Kingma & Ba 2015, Algorithm 1; lectures 000, 001, 002, 004), with AMSGrad and weight decay:

    .. math::
        g &\leftarrow g + \lambda\theta \quad\text{(coupled weight decay; decoupled: } \Delta\theta \mathrel{-}= \eta\lambda\theta) \\
        s &\leftarrow \beta_1 s + (1-\beta_1)\, g \\
        r &\leftarrow \beta_2 r + (1-\beta_2)\, g \odot g \\
        r_{max} &\leftarrow \max(r_{max}, r) \quad\text{(amsgrad: } r_{max} \text{ replaces } r \text{ below)}\\
        \hat s &= s / (1-\beta_1^t), \qquad \hat r = r / (1-\beta_2^t) \\
        \Delta\theta &= -\eta\, \hat s / (\sqrt{\hat r} + \epsilon)

    ``eps_mode``: ``"outside"`` √r̂ + ε (paper, torch, optax); ``"inside"``
    √(r̂ + ε) (lecture 000 and lecture 002 algorithm 6, with Keras's ε = 1e-7 there);
    ``"hat"`` Kingma & Ba's "more efficient" form used by Keras, ε added to √r
    before the bias correction: Δθ = −η √(1−β2^t)/(1−β1^t) · s/(√r + ε).

    Conventions (docs/conventions.md): ``"torch"``, ``"optax"``, ``"paper"``: ε = 1e-8
    outside √r̂ (Algorithm 1). ``"keras"``: the "hat" form with ε̂ = 1e-7 (differs
    from torch even with equal ε: ε_eff = ε̂/√(1−β2^t)), and ``weight_decay`` is
    decoupled and scaled by η as in every Keras optimizer. The other
    conventions take weight decay as coupled L2 (torch's ``weight_decay``). AMSGrad
    takes the max over the raw r and divides by the current 1−β2^t (torch,
    Keras: ``amsgrad_max="r"``); optax's ``amsgrad`` takes the max over the
    corrected r̂ (``amsgrad_max="r_hat"``, set by the ``"optax"`` convention). ``decoupled_weight_decay=None`` (the default) means "as the
    convention says".

    Order of operations (it matters only at the edge of the float range): with ``"outside"``
    and ``amsgrad_max="r"`` (torch, paper) the step is torch's, denom = √r/√(1−β2^t) + ε,
    θ ← θ − (η/(1−β1^t))·s/denom; √(r/(1−β2^t)) would overflow at |g| ≥ 2e19 (float32) or
    1e155 (float64), where torch still moves by η. With ``amsgrad_max="r_hat"`` (optax) r̂ is
    formed first, as optax does: ν̂ = ν/(1−β2^t), u = μ̂/(√(ν̂ + ε_root) + ε). In the normal
    range the two orders differ by rounding only. Every convention computes r with (1−β2)·g·g
    (torch's ``addcmul``); optax and Keras square g first, (1−β2)·g², which overflows earlier:
    their edges are not reproduced (tests/optim/test_edges.py checks torch's).

    Errata (docs/errata.md): lecture 000 divides by (1 − β) without the power t —
    not a bias correction after t = 1 — ravine keeps the power t in every
    convention; lecture 004's equations have wrong signs and multiply by g again.
    """

    name = "adam"
    title = "Adam (AMSGrad, weight decay)"
    source = (
        "Kingma & Ba 2015 (arXiv:1412.6980) Algorithm 1; Reddi et al. 2018 (AMSGrad); "
        "lectures 000, 001, 002; torch.optim.Adam"
    )
    conventions = {
        # torch.optim.Adam (adam.py L38-49); decay coupled unless decoupled_weight_decay=True
        "torch": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, eps_mode="outside", decoupled_weight_decay=False),
        # keras.optimizers.Adam (adam.py L45-49, L117-137): ε̂ on the raw √r; decay decoupled
        # and η-scaled (base_optimizer.py L952-959)
        "keras": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-7, eps_mode="hat", decoupled_weight_decay=True),
        # optax.adam (lr required; ε_root = 0)
        "optax": dict(
            lr=1e-3, betas=(0.9, 0.999), eps=1e-8, eps_mode="outside", decoupled_weight_decay=False, amsgrad_max="r_hat"
        ),
        "paper": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, eps_mode="outside", decoupled_weight_decay=False),
        "lecture000": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, eps_mode="inside", decoupled_weight_decay=False),
        "lecture002": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-7, eps_mode="inside", decoupled_weight_decay=False),
    }
    symbols = {"g": "g", "s": "s", "r": "r", "r_max": "r_max", "s_hat": "ŝ", "r_hat": "r̂", "delta": "Δθ"}
    Hyper, State, Record, Terms = AdamHyper, AdamState, AdamRecord, AdamTerms
    moves = ("s", "gradient")

    @staticmethod
    def init_state(h: AdamHyper, theta: Array) -> AdamState:
        return AdamState(s=zeros_like(theta), r=zeros_like(theta), r_max=zeros_like(theta) if h.amsgrad else 0.0)

    @staticmethod
    def terms(h: AdamHyper, t: int) -> AdamTerms:
        return AdamTerms(bc1=1 - h.beta1**t, bc2=1 - h.beta2**t)

    @staticmethod
    def update(h: AdamHyper, state: AdamState, g: Array, theta: Array, k: AdamTerms) -> AdamRecord:
        theta_d = theta  # θ after decoupled weight decay
        if h.weight_decay != 0:
            if h.decoupled_weight_decay:
                theta_d = theta * (1 - h.lr * h.weight_decay)
            else:
                g = g + h.weight_decay * theta
        s = h.beta1 * state.s + (1 - h.beta1) * g
        r = h.beta2 * state.r + (1 - h.beta2) * g * g
        r_max = state.r_max
        r_used = r
        s_hat = s / k.bc1
        if h.amsgrad and h.amsgrad_max == "r_hat":  # optax: the max of the corrected r̂
            r_max = maximum(r_max, r / k.bc2)
            r_hat = r_max
        else:
            if h.amsgrad:  # torch, Keras: the max of the raw r
                r_max = maximum(r_max, r)
                r_used = r_max
            r_hat = r_used / k.bc2
        if h.eps_mode == "outside" and h.amsgrad_max == "r":
            # torch's order (adam.py, _single_tensor_adam): denom = √r / √(1−β2^t) + ε, then
            # θ − (η/(1−β1^t))·s / denom. √(r/(1−β2^t)) would overflow first: r/(1−β2^t) is
            # inf from |g| ≈ 1.8e19 (float32) / 1.3e154 (float64) while √r/√(1−β2^t) is finite.
            # η multiplies last, so an η given as a tensor rounds as the same η given as a number
            move = h.lr * (s / k.bc1 / (sqrt(r_used) / sqrt(k.bc2) + h.eps))
        elif h.eps_mode == "outside":  # optax: r̂ = r/(1−β2^t) formed (its max is over r̂), then √r̂
            move = h.lr * (s_hat / (sqrt(r_hat) + h.eps))
        elif h.eps_mode == "inside":
            move = h.lr * (s_hat / sqrt(r_hat + h.eps))
        else:  # "hat": ε added to √r before the bias correction (Kingma & Ba §2, Keras)
            move = h.lr * (sqrt(k.bc2) / k.bc1 * s / (sqrt(r_used) + h.eps))
        delta = -move
        if h.weight_decay != 0 and h.decoupled_weight_decay:
            delta = delta - h.lr * h.weight_decay * theta
        return AdamRecord(g=g, s=s, r=r, r_max=r_max, s_hat=s_hat, r_hat=r_hat, delta=delta, theta=theta_d - move)


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay,

    .. math:: \theta \leftarrow \theta - \eta\lambda\theta + \Delta\theta_{\text{Adam}}

    i.e. :class:`Adam` with ``decoupled_weight_decay=True``. The decay is scaled
    by the full η, as in torch, Keras and optax.

    Conventions: the default λ comes from the convention: ``"torch"`` 1e-2,
    ``"keras"`` 4e-3 (with Keras Adam's "hat" form, ε̂ = 1e-7), ``"optax"`` 1e-4.
    ``"paper"`` (Loshchilov & Hutter, Algorithm 2) scales the decay by the
    schedule multiplier only, not by α: pass ``weight_decay = λ_paper / lr``
    (its λ default is torch's 1e-2). The lectures have no AdamW; their conventions
    keep λ = 1e-2.
    """

    name = "adamw"
    title = "AdamW (decoupled weight decay)"
    fixed = {"decoupled_weight_decay": True}
    source = "Loshchilov & Hutter 2019 (arXiv:1711.05101); torch.optim.AdamW"
    conventions = {
        # torch.optim.AdamW (adamw.py L23-27)
        "torch": dict(
            lr=1e-3, betas=(0.9, 0.999), eps=1e-8, eps_mode="outside", weight_decay=1e-2, decoupled_weight_decay=True
        ),
        # keras.optimizers.AdamW (adamw.py L53-95): Keras Adam + θ ← θ − ηλθ
        "keras": dict(
            lr=1e-3, betas=(0.9, 0.999), eps=1e-7, eps_mode="hat", weight_decay=4e-3, decoupled_weight_decay=True
        ),
        # optax.adamw (alias.py L598-727, weight_decay=1e-4 at L605)
        "optax": dict(
            lr=1e-3,
            betas=(0.9, 0.999),
            eps=1e-8,
            eps_mode="outside",
            weight_decay=1e-4,
            amsgrad_max="r_hat",
            decoupled_weight_decay=True,
        ),
        "paper": dict(
            lr=1e-3, betas=(0.9, 0.999), eps=1e-8, eps_mode="outside", weight_decay=1e-2, decoupled_weight_decay=True
        ),
        "lecture000": dict(
            lr=1e-3, betas=(0.9, 0.999), eps=1e-8, eps_mode="inside", weight_decay=1e-2, decoupled_weight_decay=True
        ),
        "lecture002": dict(
            lr=1e-3, betas=(0.9, 0.999), eps=1e-7, eps_mode="inside", weight_decay=1e-2, decoupled_weight_decay=True
        ),
    }


class NAdamHyper(NamedTuple):
    lr: Annotated[float, LR()]
    beta1: Annotated[float, UNIT(pair="betas")]
    beta2: Annotated[float, UNIT(pair="betas")]
    eps: Annotated[float, NONNEG()]  # torch: eps >= 0
    weight_decay: Annotated[float, NONNEG(default=0.0)]
    momentum_decay: Annotated[float, NONNEG()]
    decoupled_weight_decay: Annotated[bool, BOOL(nullable=True)]


class NAdamState(NamedTuple):
    s: Any
    r: Any
    mu_product: Any  # ∏_{i≤t} μ_i


class NAdamRecord(NamedTuple):
    g: Any
    s: Any
    r: Any
    mu_product: Any
    r_hat: Any
    delta: Any
    theta: Any  # θ_{t+1} in torch's order: decay, then the g term, then the s term


class NAdamTerms(NamedTuple):
    bc2: float  # 1 − β2^t
    mu: float  # μ_t = β1 (1 − ½·0.96^{tψ})
    mu_next: float  # μ_{t+1}


class NAdam(Rule):
    r"""NAdam (Dozat 2016) as in torch.optim.NAdam, with its momentum schedule:

    .. math::
        \mu_t &= \beta_1\,(1 - \tfrac12\, 0.96^{t\psi}) \qquad (\psi = \text{momentum\_decay}) \\
        s &\leftarrow \beta_1 s + (1-\beta_1) g, \qquad r \leftarrow \beta_2 r + (1-\beta_2) g\odot g \\
        \hat r &= r / (1-\beta_2^t) \\
        \Delta\theta &= -\eta\left[\frac{1-\mu_t}{1-\prod_{i\le t}\mu_i}\, g
                       + \frac{\mu_{t+1}}{1-\prod_{i\le t+1}\mu_i}\, s\right] \Big/ (\sqrt{\hat r} + \epsilon)

    Conventions: ``"torch"`` ψ = 0.004, η = 2e-3, ε = 1e-8. ``"keras"`` (Keras 3
    ``Nadam``): ψ = 1, i.e. μ_t = β1(1 − ½·0.96^t), η = 1e-3, ε = 1e-7 on √r̂, and
    decoupled η-scaled weight decay. ``"optax"`` (``optax.nadam`` =
    ``adam(nesterov=True)``): constant μ_t = β1, which is the limit ψ → ∞; with
    ψ = 1e4, 0.96^{tψ} < 1e-177, so 1 − ½·0.96^{tψ} rounds to 1 and μ_t = β1
    exactly in floating point. ``decoupled_weight_decay=None`` (the default)
    means "as the convention says".
    """

    name = "nadam"
    title = "NAdam"
    source = "Dozat 2016 (Incorporating Nesterov momentum into Adam); torch.optim.NAdam"
    conventions = {
        # torch.optim.NAdam (nadam.py L36-41)
        "torch": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3, decoupled_weight_decay=False),
        # keras.optimizers.Nadam (nadam.py L41-44, L95-146): 0.96^t (ψ = 1), ε on √r̂
        "keras": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-7, momentum_decay=1.0, decoupled_weight_decay=True),
        # optax.nadam (alias.py L532, transform.py L286-293): constant μ = β1 (ψ → ∞, see above)
        "optax": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, momentum_decay=1e4, decoupled_weight_decay=False),
        "paper": dict(lr=2e-3, betas=(0.99, 0.999), eps=1e-8, momentum_decay=4e-3, decoupled_weight_decay=False),
    }
    symbols = {"g": "g", "s": "s", "r": "r", "mu_product": "Πμ", "r_hat": "r̂", "delta": "Δθ"}
    Hyper, State, Record, Terms = NAdamHyper, NAdamState, NAdamRecord, NAdamTerms
    moves = ("s", "gradient")

    @staticmethod
    def init_state(h: NAdamHyper, theta: Array) -> NAdamState:
        return NAdamState(s=zeros_like(theta), r=zeros_like(theta), mu_product=full_like(theta, 1.0))

    @staticmethod
    def terms(h: NAdamHyper, t: int) -> NAdamTerms:
        return NAdamTerms(
            bc2=1 - h.beta2**t,
            mu=h.beta1 * (1.0 - 0.5 * 0.96 ** (t * h.momentum_decay)),
            mu_next=h.beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * h.momentum_decay)),
        )

    @staticmethod
    def update(h: NAdamHyper, state: NAdamState, g: Array, theta: Array, k: NAdamTerms) -> NAdamRecord:
        theta_d = theta  # θ after decoupled weight decay
        if h.weight_decay != 0:
            if h.decoupled_weight_decay:
                theta_d = theta * (1 - h.lr * h.weight_decay)
            else:
                g = g + h.weight_decay * theta
        mu_product = state.mu_product * k.mu
        mu_product_next = mu_product * k.mu_next
        s = h.beta1 * state.s + (1 - h.beta1) * g
        r = h.beta2 * state.r + (1 - h.beta2) * g * g
        r_hat = r / k.bc2
        denom = sqrt(r_hat) + h.eps
        step_g = h.lr * (1 - k.mu) / (1 - mu_product) * g / denom
        step_s = h.lr * k.mu_next / (1 - mu_product_next) * s / denom
        delta = -step_g - step_s
        if h.weight_decay != 0 and h.decoupled_weight_decay:
            delta = delta - h.lr * h.weight_decay * theta
        return NAdamRecord(
            g=g, s=s, r=r, mu_product=mu_product, r_hat=r_hat, delta=delta, theta=theta_d - step_g - step_s
        )


class YogiHyper(NamedTuple):
    lr: Annotated[float, LR()]
    beta1: Annotated[float, UNIT(pair="betas")]
    beta2: Annotated[float, UNIT(pair="betas")]
    eps: Annotated[float, POSITIVE()]
    initial_accumulator_value: Annotated[float, NONNEG()]
    initial_first_moment: Annotated[float, NONNEG(kw_only=True)]
    bias_correction: Annotated[bool, BOOL(kw_only=True)]


class YogiState(NamedTuple):
    s: Any
    r: Any


class YogiRecord(NamedTuple):
    g: Any
    s: Any
    r: Any
    s_hat: Any
    r_hat: Any
    delta: Any


class Yogi(Rule):
    r"""Yogi (Zaheer et al. 2018, "Adaptive Methods for Nonconvex Optimization", Algorithm 2):

    .. math::
        s &\leftarrow \beta_1 s + (1-\beta_1)\, g \\
        r &\leftarrow r - (1-\beta_2)\, \operatorname{sign}(r - g\odot g)\, g\odot g \\
        \Delta\theta &= -\eta\, \hat s / (\sqrt{\hat r} + \epsilon)

    The additive update keeps r from forgetting large gradients as fast as
    Adam's multiplicative one (lecture 002 names Yogi as the fix for Adam's
    variance problem). With ``bias_correction`` ŝ = s/(1−β1^t), r̂ = r/(1−β2^t),
    otherwise ŝ = s, r̂ = r.

    Conventions: ``"paper"`` (default, also ``"torch"``, which has no Yogi):
    η = 1e-2, ε = 1e-3, s₀ = 0, r₀ = 0, no bias correction (Algorithm 2 as
    printed; bias correction and r₀ unconfirmed from the paper text).
    ``"optax"`` (``optax.yogi`` / ``scale_by_yogi``, transform.py L757-810):
    s₀ = r₀ = 1e-6, both moments bias-corrected, ε = 1e-3 outside √r̂ (η is
    required there). TF-Addons' Yogi (ε̂ "hat" form, s₀ = 0, r₀ = 1e-6) is not
    reproduced: Yogi has no ``eps_mode``.
    """

    name = "yogi"
    title = "Yogi"
    source = "Zaheer et al. 2018 (NeurIPS) Algorithm 2; lecture 002; optax.scale_by_yogi"
    conventions = {
        "torch": dict(
            lr=1e-2,
            betas=(0.9, 0.999),
            eps=1e-3,
            initial_accumulator_value=0.0,
            initial_first_moment=0.0,
            bias_correction=False,
        ),
        "paper": dict(
            lr=1e-2,
            betas=(0.9, 0.999),
            eps=1e-3,
            initial_accumulator_value=0.0,
            initial_first_moment=0.0,
            bias_correction=False,
        ),
        "optax": dict(
            lr=1e-2,
            betas=(0.9, 0.999),
            eps=1e-3,
            initial_accumulator_value=1e-6,
            initial_first_moment=1e-6,
            bias_correction=True,
        ),
    }
    symbols = {"g": "g", "s": "s", "r": "r", "s_hat": "ŝ", "r_hat": "r̂", "delta": "Δθ"}
    Hyper, State, Record, Terms = YogiHyper, YogiState, YogiRecord, AdamTerms
    moves = ("s", "gradient")

    @staticmethod
    def init_state(h: YogiHyper, theta: Array) -> YogiState:
        return YogiState(s=full_like(theta, h.initial_first_moment), r=full_like(theta, h.initial_accumulator_value))

    @staticmethod
    def terms(h: YogiHyper, t: int) -> AdamTerms:
        return AdamTerms(bc1=1 - h.beta1**t, bc2=1 - h.beta2**t)

    @staticmethod
    def update(h: YogiHyper, state: YogiState, g: Array, theta: Array, k: AdamTerms) -> YogiRecord:
        g2 = g * g
        s = h.beta1 * state.s + (1 - h.beta1) * g
        r = state.r - (1 - h.beta2) * sign(state.r - g2) * g2
        if h.bias_correction:
            s_hat = s / k.bc1
            r_hat = r / k.bc2
        else:
            s_hat = s
            r_hat = r
        return YogiRecord(g=g, s=s, r=r, s_hat=s_hat, r_hat=r_hat, delta=-h.lr * s_hat / (sqrt(r_hat) + h.eps))
