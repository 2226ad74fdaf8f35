"""Hyperparameters declared once: each rule's fields as specs.

A rule lists its hyperparameters in ``fields``, one :class:`Field` each, in the
order of its ``Hyper`` NamedTuple::

    fields = (LR("lr"), UNIT("beta1", pair="betas"), UNIT("beta2", pair="betas"),
              POSITIVE("eps"), NONNEG("weight_decay", default=0.0), BOOL("amsgrad", default=False))

Everything else that needs to know a hyperparameter's kind reads it from here:

* validation in :class:`ravine.rules.base.Rule` (one message style:
  ``"Adam: beta2 must be in [0, 1), got 1.5"``),
* the pair keywords (``betas`` ↔ ``beta1``/``beta2``) of every face: :func:`join_pairs`,
  :func:`split_pairs`,
* the explorer's controls and the CLI's help: :func:`describe`,
* the torch classes' keywords (``ravine.optim``: checked against the spec by a test),
* the benchmark's search spaces (:attr:`Kind.scale`: ``"log"`` for η and ε, ``"log1m"`` for
  decay factors β, searched as 1 − β on a log scale).

A field's default is the rule's convention's value where the convention gives one, else
``Field.default``; a field with neither must be given (none such today).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from .. import _checks

__all__ = [
    "Kind",
    "Field",
    "LR",
    "UNIT",
    "POSITIVE",
    "NONNEG",
    "REAL",
    "BOOL",
    "INT",
    "CHOICE",
    "KINDS",
    "fmt",
    "join_pairs",
    "split_pairs",
    "pair_names",
    "joined_names",
    "describe",
    "field_map",
    "NO_DEFAULT",
    "Required",
]


class _NoDefault:
    def __repr__(self) -> str:
        return "<required>"


NO_DEFAULT: Any = _NoDefault()


class Required(NamedTuple):
    """A convention's value for a field that the user must give, with the reason.

    For a framework whose default ravine cannot reproduce: ``optax.adadelta()``'s
    ``learning_rate=None`` applies the update without the sign flip, so the preset has no
    default η and says why when none is given (``Rule.__init__``)."""

    why: str


def fmt(v: Any) -> str:
    """A value as messages show it (see ``ravine._checks.show``)."""
    return _checks.show(v)


class Kind(NamedTuple):
    """What values a hyperparameter takes.

    ``type`` is ``"real"``, ``"int"``, ``"bool"`` or ``"choice"``. Reals and ints have
    bounds ``lo``/``hi`` (None: unbounded) that are open or closed; ``scale`` says how a
    search or a slider spans them: ``"log"``, ``"log1m"`` (log of 1 − v), ``"linear"``
    or None (not searched).
    """

    name: str
    type: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    scale: str | None = None
    meaning: str = ""

    def range_text(self) -> str:
        if self.type == "bool":
            return "True or False"
        return _checks.bounds_text(self.lo, self.hi, self.lo_open, self.hi_open) or "any finite number"

    def check(self, owner: str, name: str, v: Any, choices: tuple[Any, ...] = ()) -> Any:
        """``v`` as this kind's value, or a one-line ValueError naming owner, field and value."""
        if self.type == "bool":
            return _checks.boolean(owner, name, v)
        if self.type == "choice":
            return _checks.choice(owner, name, v, choices)
        if self.type == "int":
            return _checks.integer(owner, name, v, minimum=self.lo, maximum=self.hi)
        return _checks.real(owner, name, v, lo=self.lo, hi=self.hi, lo_open=self.lo_open, hi_open=self.hi_open)

    def with_bounds(self, **changes: Any) -> Kind:
        return self._replace(**changes)


#: a learning rate η: finite, ≥ 0 (η = 0 is a legal no-op)
LR_KIND = Kind("lr", "real", lo=0.0, scale="log", meaning="learning rate")
#: a decay factor (β, ρ, α, momentum): 0 ≤ v < 1
UNIT_KIND = Kind("unit", "real", lo=0.0, hi=1.0, hi_open=True, scale="log1m", meaning="decay factor")
#: strictly positive (ε)
POSITIVE_KIND = Kind("positive", "real", lo=0.0, lo_open=True, scale="log", meaning="positive number")
#: ≥ 0 (weight decay, initial accumulators, damping)
NONNEG_KIND = Kind("nonneg", "real", lo=0.0, scale="log", meaning="non-negative number")
#: any finite number (torch leaves SGD's dampening unchecked)
REAL_KIND = Kind("real", "real", scale="linear", meaning="real number")
BOOL_KIND = Kind("bool", "bool", meaning="flag")
INT_KIND = Kind("int", "int", lo=1, scale="linear", meaning="count")
CHOICE_KIND = Kind("choice", "choice", meaning="form")

KINDS = {
    k.name: k for k in (LR_KIND, UNIT_KIND, POSITIVE_KIND, NONNEG_KIND, REAL_KIND, BOOL_KIND, INT_KIND, CHOICE_KIND)
}


class Field(NamedTuple):
    """One hyperparameter of a rule.

    ``pair``: the keyword that sets this field together with its neighbour (``betas`` sets
    ``beta1`` and ``beta2``, in that order). ``structural``: the field selects code paths
    (flags, forms, integers), so compiled kernels specialise on it. ``default``: used when
    the convention gives none.
    """

    name: str
    kind: Kind
    default: Any = NO_DEFAULT
    choices: tuple[Any, ...] = ()
    pair: str | None = None
    doc: str = ""
    #: how a search or a slider spans this field, where it differs from its kind's
    #: (SGD's momentum is valid on [0, ∞) like torch's, but is searched as 1 − β, "log1m")
    scale_: str | None = None

    @property
    def scale(self) -> str | None:
        """``"log"``, ``"log1m"`` (log of 1 − v), ``"linear"`` or None (not searched)."""
        return self.scale_ if self.scale_ is not None else self.kind.scale

    @property
    def structural(self) -> bool:
        return self.kind.type in ("bool", "choice", "int")

    def check(self, owner: str, v: Any) -> Any:
        return self.kind.check(owner, self.name, v, self.choices)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind.name,
            "type": self.kind.type,
            "range": self.kind.range_text(),
            "scale": self.scale,
        }
        if self.kind.lo is not None:
            d["lo"], d["lo_open"] = self.kind.lo, self.kind.lo_open
        if self.kind.hi is not None:
            d["hi"], d["hi_open"] = self.kind.hi, self.kind.hi_open
        if self.choices:
            d["choices"] = list(self.choices)
        if self.pair:
            d["pair"] = self.pair
        if self.doc:
            d["doc"] = self.doc
        return d


def _maker(kind: Kind) -> Callable[..., Field]:
    def make(
        name: str,
        *,
        default: Any = NO_DEFAULT,
        pair: str | None = None,
        doc: str = "",
        lo: float | None = None,
        hi: float | None = None,
        scale: str | None = None,
    ) -> Field:
        k = kind
        if lo is not None or hi is not None:
            k = kind.with_bounds(**({"lo": lo} if lo is not None else {}), **({"hi": hi} if hi is not None else {}))
        return Field(name, k, default=default, pair=pair, doc=doc, scale_=scale)

    make.__name__ = kind.name.upper()
    make.__doc__ = f"A {kind.meaning} field ({kind.range_text()})."
    return make


LR = _maker(LR_KIND)
UNIT = _maker(UNIT_KIND)
POSITIVE = _maker(POSITIVE_KIND)
NONNEG = _maker(NONNEG_KIND)
REAL = _maker(REAL_KIND)
BOOL = _maker(BOOL_KIND)
INT = _maker(INT_KIND)


def CHOICE(name: str, choices: Iterable[str], *, default: Any = NO_DEFAULT, doc: str = "") -> Field:
    """A field that picks one of several forms (``first_buffer``, ``eps_mode`` …)."""
    return Field(name, CHOICE_KIND, default=default, choices=tuple(choices), doc=doc)


# ------------------------------------------------------------------ pairs (betas ↔ beta1, beta2)


def pair_names(fields: Iterable[Field]) -> dict[str, tuple[str, ...]]:
    """``{"betas": ("beta1", "beta2")}`` for the pairs among ``fields``."""
    out: dict[str, list[str]] = {}
    for f in fields:
        if f.pair:
            out.setdefault(f.pair, []).append(f.name)
    return {k: tuple(v) for k, v in out.items()}


def split_pairs(owner: str, fields: Iterable[Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """``betas=(b1, b2)`` → ``beta1=b1, beta2=b2``; other keys pass through.

    A part given by name as well wins over the pair's value for it:
    ``betas=(0.9, 0.99), beta1=0.8`` is ``beta1=0.8, beta2=0.99``.
    """
    pairs = pair_names(fields)
    out = dict(values)
    for pname, parts in pairs.items():
        if pname not in out:
            continue
        given = out.pop(pname)
        try:
            seq = tuple(given)
        except TypeError:
            seq = None
        if seq is None or len(seq) != len(parts):
            raise ValueError(f"{owner}: {pname} must be a pair ({', '.join(parts)}), got {given!r}")
        for part, v in zip(parts, seq):
            out.setdefault(part, v)
    return out


def join_pairs(fields: Iterable[Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """The reverse of :func:`split_pairs`: ``beta1, beta2`` → ``betas=(beta1, beta2)`` (torch's keys)."""
    out = dict(values)
    for pname, parts in pair_names(fields).items():
        if all(p in out for p in parts):
            out[pname] = tuple(out.pop(p) for p in parts)
    return out


def joined_names(fields: Iterable[Field]) -> list[str]:
    """Field names with each pair joined under its keyword (torch's param-group keys):
    ``["lr", "betas", "eps", ...]``."""
    out: list[str] = []
    for f in fields:
        name = f.pair or f.name
        if name not in out:
            out.append(name)
    return out


def field_map(fields: Iterable[Field]) -> dict[str, Field]:
    return {f.name: f for f in fields}


def describe(rule_cls: type[Any]) -> list[dict[str, Any]]:
    """Every field of a rule class (a ``Rule`` subclass; ``base.py`` imports this module, so it
    is not named here) as plain data (kind, range, choices, pair, default per convention)."""
    out = []
    for f in rule_cls.fields:
        d = f.describe()
        d["defaults"] = {conv: rule_cls.default_of(f.name, conv) for conv in rule_cls.conventions}
        d["symbol"] = rule_cls.symbols.get(f.name, f.name)
        out.append(d)
    return out
