"""Hyperparameters declared once: each rule's ``Hyper`` NamedTuple, one line a field.

A rule declares each hyperparameter once, in its ``Hyper``: the name, the type the equations
read, and the spec (a :class:`Field`: kind, range, default, pair keyword, keyword-only) in
``Annotated``::

    class AdamHyper(NamedTuple):
        lr: Annotated[float, LR()]
        beta1: Annotated[float, UNIT(pair="betas")]
        beta2: Annotated[float, UNIT(pair="betas")]
        eps: Annotated[float, NONNEG()]
        weight_decay: Annotated[float, NONNEG(default=0.0)]
        amsgrad: Annotated[bool, BOOL(default=False)]
        eps_mode: Annotated[str, CHOICE(EPS_MODES, kw_only=True)]

:func:`fields_of` reads the specs back (the rule's ``fields``, in the order of ``Hyper``), and
everything else that needs to know a hyperparameter reads it from there:

* the rule's keyword signature (:func:`parameters`: pairs joined as torch does, ``DEFAULT``
  for every keyword, keyword-only where the field says so) and ``ravine.optim``'s classes,
* validation in :class:`ravine.rules.base.Rule` (one message style:
  ``"Adam: beta2 must be in [0, 1), got 1.5"``),
* the pair keywords (``betas`` ↔ ``beta1``/``beta2``) of every face: :func:`join_pairs`,
  :func:`split_pairs`,
* the explorer's controls and the CLI's help: :func:`describe`,
* the benchmark's search spaces (:attr:`Kind.scale`: ``"log"`` for η and ε, ``"log1m"`` for
  decay factors β, searched as 1 − β on a log scale).

A field's default is the rule's convention's value where the convention gives one, else
``Field.default``; a field with neither must be given (none such today).
"""

from __future__ import annotations

import inspect
import typing
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
    "fields_of",
    "parameters",
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
    the convention gives none. ``kw_only``: keyword-only in the rule's signature (torch's
    keyword-only ones, and ravine's own forms). ``nullable``: ``None`` means "as the
    convention says", the keyword's default in the rule's signature (torch's
    ``decoupled_weight_decay``). ``name`` is the ``Hyper`` field's (:func:`fields_of`).
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
    kw_only: bool = False
    nullable: bool = False

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
        name: str = "",
        *,
        default: Any = NO_DEFAULT,
        pair: str | None = None,
        doc: str = "",
        lo: float | None = None,
        hi: float | None = None,
        hi_open: bool | None = None,
        scale: str | None = None,
        kw_only: bool = False,
        nullable: bool = False,
    ) -> Field:
        bounds = {"lo": lo, "hi": hi, "hi_open": hi_open}
        k = kind.with_bounds(**{b: v for b, v in bounds.items() if v is not None})
        return Field(name, k, default=default, pair=pair, doc=doc, scale_=scale, kw_only=kw_only, nullable=nullable)

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


def CHOICE(choices: Iterable[str], *, default: Any = NO_DEFAULT, doc: str = "", kw_only: bool = False) -> Field:
    """A field that picks one of several forms (``first_buffer``, ``eps_mode`` …)."""
    return Field("", CHOICE_KIND, default=default, choices=tuple(choices), doc=doc, kw_only=kw_only)


# ------------------------------------------------------------ the one declaration: Hyper

#: the Python type a field of each kind has in ``Hyper`` (checked by :func:`fields_of`)
_TYPES: dict[str, type] = {"real": float, "int": int, "bool": bool, "choice": str}


def fields_of(hyper: type[Any]) -> tuple[Field, ...]:
    """The :class:`Field` of every field of a ``Hyper`` NamedTuple, in its order, each named
    after its field: the spec is the ``Annotated`` metadata of the field's annotation.

    A field without a spec, or whose type is not its kind's (``float`` for a real, ``bool``,
    ``int``, ``str`` for a choice), is a TypeError when the rule class is defined."""
    hints = typing.get_type_hints(hyper, include_extras=True)
    out = []
    for name in hyper._fields:
        hint = hints.get(name)
        specs = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Field)]
        if len(specs) != 1:
            raise TypeError(f"{hyper.__name__}.{name}: declare it as Annotated[<type>, <one Field spec>], got {hint!r}")
        f = specs[0]._replace(name=name)
        want = _TYPES[f.kind.type]
        if typing.get_args(hint)[0] is not want:
            raise TypeError(f"{hyper.__name__}.{name}: a {f.kind.name} field is a {want.__name__}, got {hint!r}")
        out.append(f)
    return tuple(out)


def parameters(fields: Iterable[Field], default: Any) -> list[inspect.Parameter]:
    """The keywords a user gives for ``fields``, as signature parameters: pairs joined
    (``betas``), in field order, positional first and then the keyword-only ones (a pair
    takes its first field's place); each defaults to ``default`` (the rule's ``DEFAULT``:
    "as the convention says"), a nullable field to ``None``."""
    fields = list(fields)
    pairs = pair_names(fields)
    out: list[inspect.Parameter] = []
    for f in sorted(fields, key=lambda f: f.kw_only):  # stable: field order within each group
        name = f.pair or f.name
        if any(p.name == name for p in out):
            continue
        kind = inspect.Parameter.KEYWORD_ONLY if f.kw_only else inspect.Parameter.POSITIONAL_OR_KEYWORD
        t: Any = _TYPES[f.kind.type]
        if f.pair:
            t = tuple[(t,) * len(pairs[f.pair])]  # type: ignore[misc]  # a tuple type of the pair's length
        if f.nullable:
            t = t | None
        out.append(inspect.Parameter(name, kind, default=None if f.nullable else default, annotation=t))
    return out


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
