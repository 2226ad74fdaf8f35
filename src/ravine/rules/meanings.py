"""What each hyperparameter means, and what each value of a form does, one line each.

One home for the sentences that explain a difference between conventions (the explorer's
conventions view, ``/api/conventions``): a field is known by its name, which means the same
in every rule that has it (``eps_inside`` in Adagrad and RMSprop, ``lr_in_buffer`` in SGD and
RMSprop). :func:`meaning` gives the symbol, the one-line meaning and, for flags and choices,
a phrase per value; a field's own ``doc`` (``ravine.rules.hyper.Field``) wins over the line
here where the rule gives one.

>>> meaning("eps_inside")["values"][True]
'ε inside the root: g / √(r + ε)'
>>> meaning("unknown_field")["meaning"]
''
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Meaning", "MEANINGS", "meaning", "phrase"]


class Meaning(NamedTuple):
    symbol: str
    meaning: str
    values: dict[Any, str] = {}


MEANINGS: dict[str, Meaning] = {
    "lr": Meaning("η", "the learning rate"),
    "fallback_lr": Meaning("η₀", "the gradient step taken where the Newton step is unsafe"),
    "eps": Meaning("ε", "the small number that keeps the denominator away from 0"),
    "eps_inside": Meaning(
        "",
        "where ε goes",
        {True: "ε inside the root: g / √(r + ε)", False: "ε outside the root: g / (√r + ε)"},
    ),
    "eps_mode": Meaning(
        "",
        "where ε goes",
        {
            "outside": "ε outside the root: ŝ / (√r̂ + ε)",
            "inside": "ε inside the root: ŝ / √(r̂ + ε)",
            "hat": "Kingma & Ba's ε̂ form: ε̂ added to √r before the bias correction, "
            "so the effective ε is ε̂ / √(1 − β₂ᵗ)",
        },
    ),
    "lr_in_buffer": Meaning(
        "",
        "where η goes in the momentum buffer",
        {True: "η inside the buffer, θ ← θ − b", False: "η outside the buffer, θ ← θ − ηb"},
    ),
    "decoupled_weight_decay": Meaning(
        "",
        "how weight decay enters",
        {True: "decoupled: θ ← θ − ηλθ beside the step", False: "coupled (L2): g ← g + λθ"},
    ),
    "first_buffer": Meaning(
        "",
        "how the momentum buffer starts",
        {"g": "at the first gradient: b₁ = g", "zero": "at zero: b₀ = 0, b₁ = (1 − τ)g"},
    ),
    "amsgrad_max": Meaning(
        "", "what AMSGrad's running max is taken over", {"r": "the raw r", "r_hat": "the bias-corrected r̂"}
    ),
    "bias_correction": Meaning(
        "", "bias correction of the moments", {True: "both moments bias-corrected", False: "no bias correction"}
    ),
    "form": Meaning(
        "",
        "the momentum form",
        {
            "heavy_ball": "heavy ball: v ← αv − ηg, θ ← θ + v",
            "average": "exponential average: v ← βv + (1 − β)g, θ ← θ − ηv",
        },
    ),
    "amsgrad": Meaning("", "AMSGrad", {True: "the running max of r in the denominator", False: "r itself"}),
    "nesterov": Meaning("", "Nesterov momentum", {True: "on", False: "off"}),
    "centered": Meaning("", "centering", {True: "r − m² (centered)", False: "r (not centered)"}),
    "initial_accumulator_value": Meaning("r₀", "the accumulator's starting value"),
    "initial_first_moment": Meaning("s₀", "the first moment's starting value"),
    "alpha": Meaning("α", "the decay of the average of g²"),
    "rho": Meaning("ρ", "the decay of the averages of g² and of Δθ²"),
    "beta1": Meaning("β₁", "the decay of the first moment"),
    "beta2": Meaning("β₂", "the decay of the second moment"),
    "momentum": Meaning("μ", "the momentum coefficient"),
    "momentum_decay": Meaning("ψ", "NAdam's momentum schedule μₜ = β₁(1 − ½·0.96^(tψ))"),
    "weight_decay": Meaning("λ", "the weight decay"),
    "dampening": Meaning("τ", "the dampening of the momentum buffer"),
    "lr_decay": Meaning("d", "the learning-rate decay η / (1 + (t − 1)d)"),
    "window": Meaning("w", "the window of the mean of g²"),
    "damping": Meaning("λ", "the damping added to the Hessian"),
}


def meaning(name: str, doc: str = "") -> dict[str, Any]:
    """``{"symbol", "meaning", "values"}`` for field ``name`` (``doc``: the rule's own line)."""
    m = MEANINGS.get(name, Meaning("", ""))
    return {"symbol": m.symbol, "meaning": doc or m.meaning, "values": dict(m.values)}


def phrase(name: str, value: Any) -> str:
    """What ``value`` of field ``name`` does, in a phrase: the form's line, else ``ε = 1e-07``."""
    m = MEANINGS.get(name)
    if m is not None and not isinstance(value, float) and value in m.values:
        return m.values[value]
    sym = m.symbol if m is not None and m.symbol else name
    return f"{sym} = {value:g}" if isinstance(value, float) else f"{sym} = {value}"
