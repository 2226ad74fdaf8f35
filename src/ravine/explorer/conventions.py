"""``POST /api/conventions``: one rule under each of its conventions, and what differs.

The explorer's conventions view asks for a rule (``name``) and the hyperparameters the user set
(``hyper``); the answer is, per convention, the resolved hyperparameters (the convention's
defaults with the user's values over them, as :func:`~ravine.explorer.limits.build_rule` builds them; or the
rule's one-line refusal, e.g. Keras with coupled weight decay), and one row per field whose
resolved value is not the same in every convention, with a sentence saying what each value
does. The sentences come from :mod:`ravine.rules.meanings` (and a field's own ``doc``): nothing
is written twice. The page then runs the conventions through ``/api/run``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ravine._json import jsonable
from ravine.rules import RULES, normalize_name
from ravine.rules.meanings import meaning, phrase

from .limits import BadRequest, build_rule, check_counts, one_line
from .schemas import HyperValue, OptimizerSpec, ShortStr

__all__ = ["ConventionsRequest", "compare"]


class ConventionsRequest(BaseModel):
    """A rule by name and the hyperparameters the user set (kept in every convention)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=40)]
    hyper: Annotated[dict[ShortStr, HyperValue], Field(max_length=16)] = Field(default_factory=dict)


def _same(values) -> bool:
    return len({repr(v) for v in values}) <= 1


def compare(req: ConventionsRequest) -> dict:
    """Every convention of ``req.name`` with ``req.hyper`` over its defaults; the differences."""
    cls = RULES.get(normalize_name(req.name))
    if cls is None:
        raise BadRequest(f"name: unknown optimizer {req.name!r}; choose one of: {', '.join(RULES)}")
    resolved, errors = {}, {}
    for conv in cls.conventions:
        spec = OptimizerSpec(name=cls.name, convention=conv, hyper=req.hyper)
        try:
            check_counts(spec)
            rule = build_rule(spec)
        except ValueError as exc:
            errors[conv] = one_line(exc)
            continue
        resolved[conv] = {k: jsonable(v) for k, v in rule.hyperparameters().items()}
    rows = []
    for f in cls.fields:
        values = {c: h[f.name] for c, h in resolved.items()}
        if _same(values.values()):
            continue
        m = meaning(f.name, f.doc)
        groups: dict[str, tuple] = {}
        for c, v in values.items():
            key = repr(v)
            groups[key] = (groups[key][0] + [c], v) if key in groups else ([c], v)
        parts = "; ".join(f"{', '.join(cs)}: {phrase(f.name, v)}" for cs, v in groups.values())
        head = m["meaning"] or f.name
        rows.append(
            {
                "field": f.name,
                "symbol": m["symbol"] or cls.symbols.get(f.name, f.name),
                "meaning": m["meaning"],
                "values": values,
                "phrases": {c: phrase(f.name, v) for c, v in values.items()},
                "sentence": f"{head[0].upper()}{head[1:]} — {parts}.",
            }
        )
    return {
        "name": cls.name,
        "title": cls.title,
        "conventions": list(cls.conventions),
        "hyper": dict(req.hyper),
        "resolved": resolved,
        "errors": errors,
        "rows": rows,
    }
