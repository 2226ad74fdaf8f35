"""What ``/api/meta`` says: every rule described from the rule itself
(:func:`ravine.rules.hyper.describe`, ``Rule.movement``), the 2-variable problems of the
catalog, the limits and the palette."""

from __future__ import annotations

from ravine._json import jsonable
from ravine.plot import palette
from ravine.problems import get_problem, list_problems
from ravine.rules import RULES
from ravine.rules.hyper import NO_DEFAULT, describe

from .._version import __version__
from .schemas import LIMITS

__all__ = ["rule_meta", "meta"]


def _convention_defaults(cls, conv: str) -> dict:
    """Every hyperparameter under ``conv``, resolved by the rule; where the convention has no
    default for a field (optax's Adadelta η: ``hyper.Required``) that field is left out."""
    try:
        return cls(convention=conv).hyperparameters()
    except ValueError:
        return cls.resolved_defaults(conv)


def rule_meta(name: str, cls) -> dict:
    """A rule as ``/api/meta`` describes it: every field from :func:`describe` (kind, type,
    range, lo/hi, scale, choices, pair, defaults per convention, symbol), the resolved defaults
    of each convention, its State/Record fields and the state field θ moves with."""
    defaults = {conv: {k: jsonable(v) for k, v in _convention_defaults(cls, conv).items()} for conv in cls.conventions}
    fields = []
    for d in describe(cls):
        d["defaults"] = {c: None if v is NO_DEFAULT else jsonable(v) for c, v in d["defaults"].items()}
        fields.append(d)
    moves = cls().movement()
    return {
        "name": name,
        "title": cls.title,
        "source": cls.source,
        "conventions": list(cls.conventions),
        "defaults": defaults,
        "fields": fields,
        "state": list(cls.State._fields),
        "record": list(cls.Record._fields),
        "symbols": dict(cls.symbols),
        "needs": list(cls.needs),
        "momentum": moves["field"] if moves else None,
    }


def meta() -> dict:
    """The version, every rule (:func:`rule_meta`), the catalog's 2-variable problems, the
    limits and the palette."""
    problems = []
    for name in list_problems():
        p = get_problem(name)
        if p.dim == 2:
            problems.append(
                {
                    "name": name,
                    "title": p.title,
                    "bounds": [list(b) for b in p.bounds],
                    "start": list(p.start),
                    "log_levels": p.log_levels,
                }
            )
    return {
        "version": __version__,
        "optimizers": [rule_meta(n, c) for n, c in RULES.items()],
        "problems": problems,
        "limits": LIMITS,
        # the colours, markers and contour map of every ravine picture (one home)
        "palette": palette.as_dict(),
    }
