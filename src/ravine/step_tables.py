"""Step-by-step tables ("explain"): every intermediate quantity of a rule, step by step.

>>> from ravine import explain
>>> from ravine.rules import Adam
>>> tab = explain(Adam(lr=0.1, betas=(0.9, 0.99)), "sigmoid_neuron", steps=1)
>>> tab.columns[:4]
['t', 'w', 'b', 'g[w]']

One row per step. Row ``t`` reads: the gradient ``g`` was taken at θ_{t−1} (the
previous row; at the look-ahead point θ̃ for look-ahead rules, shown in the θ̃
columns), the rule's record fields are the values *after* step t (moments,
accumulators, bias-corrected moments, the step Δθ), and the θ columns and
``f(θ)`` are θ_t = θ_{t−1} + Δθ and f(θ_t). Row 0 (``include_start=True``) holds
the start point and f(θ_0) only.

Every number in the table comes from the rule's own :meth:`~ravine.rules.Rule.apply`
(its ``Record``) and the problem's ``f``/``grad``/``hessian``: nothing here
restates an update equation. Record fields are named with the rule's
``symbols`` (the lecture's notation: s, r, ŝ, r̂, Δθ, …); vector quantities are
split per coordinate with the problem's variable names (``s[w]``, ``s[b]``).
Fields that a configuration does not use (a Python-float placeholder in the
state, e.g. Adam's ``r_max`` without amsgrad) and fields that are not of θ's
shape (WindowedRMSprop's window of squared gradients) are left out and named
in ``Table.notes``.

The command ``ravine explain`` is ``ravine/cli/explain.py`` (see docs/explain.md).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _checks
from .tables.table import Table

__all__ = ["explain", "build_rule"]


# ====================================================================== rules


def build_rule(rule: Any, hyper: dict | None = None, convention: str | None = None):
    """A :class:`~ravine.rules.Rule` from a rule, a class or a name, with hyperparameters.

    ``hyper`` keys are the rule's keywords (``betas`` or ``beta1``/``beta2``, ``amsgrad``,
    ``form`` …; see :meth:`ravine.rules.Rule.keywords`). Unknown keys and bad values raise a
    one-line ``ValueError``.
    """
    from .rules import RULES, Rule, normalize_name

    hyper = dict(hyper or {})
    if isinstance(rule, Rule):
        if convention is not None and convention != rule.convention:
            raise ValueError(f"{type(rule).__name__}: pass convention when building the rule, or give the rule by name")
        if not hyper:
            return rule
        return rule.with_hyper(**_split(type(rule), hyper))
    if isinstance(rule, type) and issubclass(rule, Rule):
        cls = rule
    elif isinstance(rule, str):
        key = normalize_name(rule)
        if key not in RULES:
            raise ValueError(f"optimizer: unknown name {rule!r}; choose one of: {', '.join(RULES)}")
        cls = RULES[key]
    else:
        raise ValueError(f"optimizer: expected a rule, a rule class or a name, got {rule!r}")
    return cls.build(convention or "torch", **hyper)


def _split(cls, hyper: dict) -> dict:
    """Pairs given as a pair (``betas``) split into their fields, so they override field by field."""
    from .rules import hyper as hp

    return hp.split_pairs(cls.__name__, cls.fields, hyper)


# ====================================================================== explain


def _as_problem(problem: Any, params: dict | None = None):
    from .problems import Problem, get_problem

    if isinstance(problem, str):
        return get_problem(problem, **(params or {}))
    if params:
        raise ValueError("problem: parameters can only be given with a problem name")
    if problem is None or isinstance(problem, Problem):
        return problem
    raise ValueError(f"problem: expected a Problem or a catalog name, got {problem!r}")


def _vector(name: str, value: Any, dim: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be {dim} real numbers, got {value!r}") from None
    if arr.size != dim:
        raise ValueError(f"{name}: must have {dim} coordinate(s), got {arr.size}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: must be finite, got {arr.tolist()}")
    return arr


def _scalar_or_none(v: Any) -> Any:
    a = np.asarray(v)
    if a.dtype == bool:
        return bool(a)
    return float(a)


def explain(
    rule: Any,
    problem: Any = None,
    start: Any = None,
    steps: int = 10,
    lr: Any = None,
    *,
    hyper: dict | None = None,
    convention: str | None = None,
    problem_params: dict | None = None,
    grad_fn: Callable | None = None,
    hessian: Callable | None = None,
    f: Callable | None = None,
    variables: Sequence[str] | None = None,
    opt_state: Any = None,
    include_start: bool = True,
    nonfinite: str = "raise",
) -> Table:
    """Run ``steps`` steps of ``rule`` on ``problem`` and tabulate every quantity of each step.

    Parameters
    ----------
    rule : a Rule, a Rule class or a name (``"adam"``); ``hyper`` and ``convention`` build it
    problem : a :class:`~ravine.problems.Problem` or a catalog name (``problem_params`` set its
        parameters); may be None when ``grad_fn`` is given
    start : θ_0 (default: the problem's start point)
    steps : number of steps (≥ 0)
    lr : a number (replaces the rule's η, validated) or a schedule / callable t ↦ η_t with
        t = 0, 1, … (passed to ``apply(lr=...)`` step by step; an ``η`` column shows it)
    grad_fn : gradient oracle θ ↦ g (default ``problem.grad``); look-ahead rules call it at θ̃
    hessian : θ ↦ H (default ``problem.hessian``), passed to second-order rules
    f : θ ↦ f(θ) (default ``problem.f``)
    variables : coordinate names (default the problem's, else x1, x2, …)
    opt_state : the optimizer state to start from (default ``rule.init(θ_0)``), e.g. a
        heavy-ball velocity θ_t − θ_{t−1}
    include_start : add row 0 with θ_0 and f(θ_0)
    nonfinite : passed to ``apply`` ("raise", "skip", "ignore")
    """
    from .rules import OptState

    r = build_rule(rule, hyper, convention)
    sched = None
    if lr is not None:
        if isinstance(lr, (numbers.Real, np.floating)) and not isinstance(lr, bool):
            r = r.with_hyper(lr=float(lr))
        elif callable(lr):
            sched = lr
        else:
            raise ValueError(f"lr: must be a number or a schedule, got {lr!r}")
    prob = _as_problem(problem, problem_params)
    if prob is None and grad_fn is None:
        raise ValueError("explain: give a problem or a grad_fn")
    steps = _checks.integer("explain", "steps", steps, minimum=0)

    if variables is None:
        if prob is not None:
            variables = prob.variables
        else:
            if start is None:
                raise ValueError("explain: give start when there is no problem")
            n = np.asarray(start).size
            variables = tuple(f"x{i + 1}" for i in range(n))
    variables = tuple(str(v) for v in variables)
    dim = len(variables)
    if start is None:
        if prob is None:
            raise ValueError("explain: give start when there is no problem")
        start = prob.start
    theta = _vector("start", start, dim)
    gfun = grad_fn if grad_fn is not None else prob.grad
    hfun = hessian if hessian is not None else (prob.hessian if prob is not None else None)
    ffun = f if f is not None else (prob.f if prob is not None else None)
    needs_h = "hessian" in r.needs
    lookahead = "lookahead" in r.needs
    if needs_h and hfun is None:
        raise ValueError(f"{type(r).__name__}: needs the Hessian; give a problem or hessian=")

    state = r.init(theta) if opt_state is None else opt_state
    if not isinstance(state, OptState):
        raise ValueError(f"opt_state: expected an OptState (rule.init(θ)), got {state!r}")
    init_fields = state.state

    def fval(x):
        if ffun is None:
            return None
        with np.errstate(all="ignore"):
            return float(np.asarray(ffun(x)))

    # ---- run, keeping the records ----------------------------------------------------
    steps_out = []  # (t, eta, lookahead point, record, θ_new, f_new, skipped)
    x = theta.copy()
    for _i in range(steps):
        eta = None
        if sched is not None:
            eta = float(sched(state.t))
        seen = []

        def oracle(p, _seen=seen):
            _seen.append(np.array(p, dtype=np.float64, copy=True))
            with np.errstate(all="ignore"):
                return np.asarray(gfun(p), dtype=np.float64)

        kw = {}
        if needs_h:
            with np.errstate(all="ignore"):
                kw["hessian"] = np.asarray(hfun(x), dtype=np.float64)
        if lookahead:
            g = None
            kw["grad_fn"] = oracle
        else:
            g = oracle(x)
        with np.errstate(all="ignore"):
            x_new, state_new, rec = r.apply(x, g, state, nonfinite=nonfinite, lr=eta, **kw)
        skipped = rec is None
        t = state_new.t if not skipped else state.t + 1
        steps_out.append(
            (
                t,
                eta,
                seen[0] if (lookahead and seen) else None,
                rec,
                np.asarray(x_new, dtype=float),
                fval(x_new),
                skipped,
            )
        )
        x, state = np.asarray(x_new, dtype=np.float64), state_new

    # ---- columns ----------------------------------------------------------------------
    notes: list[str] = []
    descriptions: dict[str, str] = {}
    symbols = dict(type(r).symbols)
    recs = [s[3] for s in steps_out if s[3] is not None]
    fields: list[tuple[str, str]] = []  # (field, kind) kind in "vec", "scalar"
    placeholders = []
    if recs:
        for fld in type(r).Record._fields:
            if fld == "theta":  # θ_{t+1} itself: the θ columns show it
                continue
            vals = [getattr(rc, fld) for rc in recs]
            init_val = getattr(init_fields, fld, None) if hasattr(init_fields, "_fields") else None
            if (
                fld in getattr(type(r).State, "_fields", ())
                and isinstance(init_val, float)
                and not isinstance(init_val, np.ndarray)
                and all(isinstance(v, float) and v == init_val for v in vals)
            ):
                placeholders.append(fld)
                continue
            shapes = {np.shape(v) for v in vals}
            if shapes == {theta.shape}:
                fields.append((fld, "vec"))
            elif shapes == {()}:
                fields.append((fld, "scalar"))
            else:
                label = symbols.get(fld, fld)
                label = label if label == fld else f"{label} ({fld})"
                notes.append(f"{label}, shape {sorted(shapes)[0]}, is not shown: it is not one value per coordinate")
    if placeholders:
        notes.append(
            "not used with these hyperparameters (left out): " + ", ".join(f"{symbols.get(p, p)}" for p in placeholders)
        )

    def split(sym: str) -> list[str]:
        return [sym] if dim == 1 else [f"{sym}[{v}]" for v in variables]

    reserved = {"t", "η", "f(θ)"}
    for fld, kind in fields:
        sym = symbols.get(fld, fld)
        reserved.update(split(sym) if kind == "vec" else [sym])
    if lookahead:
        reserved.update(split("θ̃"))
    theta_cols = [v if v not in reserved else f"θ[{v}]" for v in variables]
    columns = ["t"] + (["η"] if sched is not None else []) + theta_cols
    descriptions["t"] = "step number (row 0: the start)"
    for c, v in zip(theta_cols, variables):
        descriptions[c] = f"θ_t: {v} after step t"
    if lookahead:
        columns += split("θ̃")
        for c in split("θ̃"):
            descriptions[c] = "look-ahead point where g was taken"
    for fld, kind in fields:
        sym = symbols.get(fld, fld)
        cols = split(sym) if kind == "vec" else [sym]
        columns += cols
        for c in cols:
            descriptions[c] = f"record field {fld}"
    columns.append("f(θ)")
    descriptions["f(θ)"] = "f(θ_t)"
    if len(set(columns)) != len(columns):  # symbol clash: fall back to field names
        raise ValueError(f"explain: ambiguous column names {columns}")

    rows = []
    if include_start:
        rows.append(
            [0]
            + ([None] if sched is not None else [])
            + [float(c) for c in theta]
            + [None] * (len(columns) - 2 - dim - (1 if sched is not None else 0))
            + [fval(theta)]
        )
    for t, eta, la, rec, xn, fn, _skipped in steps_out:
        row: list[Any] = [t]
        if sched is not None:
            row.append(eta)
        row += [float(c) for c in xn]
        if lookahead:
            row += [float(c) for c in la] if la is not None else [None] * dim
        for fld, kind in fields:
            if rec is None:
                row += [None] * (dim if kind == "vec" else 1)
                continue
            v = getattr(rec, fld)
            if kind == "vec":
                row += [_scalar_or_none(c) for c in np.asarray(v).reshape(-1)]
            else:
                row.append(_scalar_or_none(v))
        row.append(fn)
        rows.append(row)
    if any(s[6] for s in steps_out):
        notes.append("blank rows: steps skipped for a non-finite gradient (nonfinite='skip')")
    if lookahead:
        notes.append("g is taken at the look-ahead point θ̃ (columns θ̃)")
    pname = prob.name if prob is not None else "custom"
    title = f"{type(r).__name__} on {pname}: " + ", ".join(f"{k}={_fmt_hyper(v)}" for k, v in r.h._asdict().items())
    meta = {
        "rule": r.name,
        "convention": r.convention,
        "hyperparameters": r.h._asdict(),
        "problem": pname,
        "variables": list(variables),
        "start": theta.tolist(),
        "steps": steps,
        "source": type(r).source,
    }
    if prob is not None and getattr(prob, "params", None):
        meta["problem_params"] = dict(prob.params)
    return Table(columns, rows, title=title, notes=notes, meta=meta, descriptions=descriptions)


def _fmt_hyper(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
