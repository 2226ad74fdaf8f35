"""The keyword signature of every ``ravine.optim`` class, made from its rule's ``Hyper``.

A class declares only what torch adds to the rule's keywords, in torch's order, as
``_torch_keywords`` (``"*"`` where torch's keyword-only ones begin)::

    class Adagrad(RuleOptimizer):
        _rule = rules.Adagrad
        _torch_keywords = ("foreach", "*", "maximize", "differentiable", "fused")

and gets ``Adagrad(params, lr=DEFAULT, lr_decay=DEFAULT, weight_decay=DEFAULT,
initial_accumulator_value=DEFAULT, eps=DEFAULT, foreach=None, *, maximize=False,
differentiable=False, fused=None, eps_inside=DEFAULT, convention="torch",
nonfinite="ignore", impl="auto")``: the rule's positional keywords (pairs joined as
``betas``), torch's positional ones, then torch's keyword-only ones, the rule's keyword-only
ones and ravine's three. Every rule keyword defaults to ``DEFAULT`` ("as the convention
says"): no second copy of a default.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..rules import hyper as hp
from ..rules.base import DEFAULT

#: torch's own keywords and their defaults (torch.optim's)
TORCH_DEFAULTS: dict[str, Any] = {
    "foreach": None,
    "maximize": False,
    "capturable": False,
    "differentiable": False,
    "fused": None,
}
#: ravine's keywords on every class (see the package docstring)
RAVINE_DEFAULTS: dict[str, Any] = {"convention": "torch", "nonfinite": "ignore", "impl": "auto"}
#: what a class that torch does not have takes of torch's keywords
TORCHLESS = ("*", "maximize", "foreach")

_P = inspect.Parameter


def signature(cls: Any) -> inspect.Signature:
    """``cls.__init__``'s signature, ``self`` and ``params`` first (see the module docstring)."""
    rule = cls._rule
    fields = [f for f in rule.settable() if f.name not in cls._fixed]
    ours = [p.replace(default=DEFAULT) for p in hp.parameters(fields, DEFAULT)]  # nullable ones too
    torch_kw = cls._torch_keywords
    star = torch_kw.index("*") if "*" in torch_kw else len(torch_kw)
    unknown = [k for k in torch_kw if k != "*" and k not in TORCH_DEFAULTS]
    if unknown:
        raise TypeError(f"{cls.__name__}._torch_keywords: unknown {unknown[0]!r}; known: {', '.join(TORCH_DEFAULTS)}")
    params = [_P("self", _P.POSITIONAL_OR_KEYWORD), _P("params", _P.POSITIONAL_OR_KEYWORD)]
    params += [p for p in ours if p.kind is _P.POSITIONAL_OR_KEYWORD]
    params += [_P(k, _P.POSITIONAL_OR_KEYWORD, default=TORCH_DEFAULTS[k]) for k in torch_kw[:star]]
    params += [_P(k, _P.KEYWORD_ONLY, default=TORCH_DEFAULTS[k]) for k in torch_kw[star + 1 :]]
    params += [p for p in ours if p.kind is _P.KEYWORD_ONLY]
    params += [_P(k, _P.KEYWORD_ONLY, default=v) for k, v in RAVINE_DEFAULTS.items()]
    return inspect.Signature(params)


def keyword_init(cls: Any, base: Any) -> None:
    """Give ``cls`` an ``__init__`` with :func:`signature`: it binds the call to that signature
    (Python's TypeError, prefixed with the class, for a wrong keyword) and calls ``base``
    (``RuleOptimizer.__init__``) with the rule's keywords as one dict, torch's and ravine's
    by name."""
    sig = signature(cls)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            given = sig.bind(self, *args, **kwargs).arguments
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}(): {exc}") from None
        del given["self"]
        params = given.pop("params")
        options = {k: given.pop(k) for k in list(given) if k in TORCH_DEFAULTS or k in RAVINE_DEFAULTS}
        base(self, params, given, **options)

    __init__.__signature__ = sig  # type: ignore[attr-defined]  # what inspect and help show
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__doc__ = (
        f"{cls.__name__} over ``params``; made from ``{cls._rule.__name__}.Hyper`` and ``_torch_keywords``."
    )
    cls.__init__ = __init__
