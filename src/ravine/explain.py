"""Step-by-step tables ("explain"): every intermediate quantity of a rule, step by step.

>>> from ravine.explain import explain
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
``symbols`` (the seed's notation: s, r, ŝ, r̂, Δθ, …); vector quantities are
split per coordinate with the problem's variable names (``s[w]``, ``s[b]``).
Fields that a configuration does not use (a Python-float placeholder in the
state, e.g. Adam's ``r_max`` without amsgrad) and fields that are not of θ's
shape (WindowedRMSprop's window of squared gradients) are left out and named
in ``Table.notes``.

The click ``command`` is ``ravine explain`` (see docs/explain.md).
"""
from __future__ import annotations

import csv
import inspect
import io
import json
import math
import numbers
import unicodedata
from typing import Any, Callable, Iterable, Sequence

import numpy as np

__all__ = ["Table", "explain", "build_rule", "parse_value", "parse_assignments", "command"]


# ====================================================================== Table


def _fmt_number(v: Any, digits: int) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (numbers.Integral, np.integer)):
        return str(int(v))
    if isinstance(v, (numbers.Real, np.floating)):
        x = float(v)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x == 0:
            return "0"
        return f"{x:.{digits}g}"
    return str(v)


def _width(s: str) -> int:
    """Display width of a cell: combining marks (the hat of r̂) take no column."""
    return sum(0 if unicodedata.combining(ch) else 1 for ch in s)


def _rjust(s: str, w: int) -> str:
    return " " * max(0, w - _width(s)) + s


def _ljust(s: str, w: int) -> str:
    return s + " " * max(0, w - _width(s))


def _plain(v: Any) -> Any:
    """A JSON/CSV-friendly Python scalar."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (numbers.Integral, np.integer)):
        return int(v)
    if isinstance(v, (numbers.Real, np.floating)):
        return float(v)
    return str(v)


def _json_value(v: Any) -> Any:
    v = _plain(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return v


class Table:
    """A step table: ``columns`` (names) and ``rows`` (lists of numbers, bools or None).

    Exports: :meth:`to_text` (aligned, ~6 significant digits), :meth:`to_markdown`,
    :meth:`to_csv` (full precision, ``csv`` module), :meth:`to_json` (full precision;
    NaN/±inf as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``).
    """

    def __init__(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str = "",
                 notes: Sequence[str] = (), meta: dict | None = None, descriptions: dict | None = None):
        self.columns: list[str] = [str(c) for c in columns]
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"Table: column names must be unique, got {self.columns}")
        self.rows: list[list[Any]] = [list(r) for r in rows]
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ValueError(f"Table: a row has {len(r)} values for {len(self.columns)} columns")
        self.title = title
        self.notes: list[str] = list(notes)
        self.meta: dict = dict(meta or {})
        self.descriptions: dict = dict(descriptions or {})

    # -- access ---------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        """The values of one column, top to bottom."""
        try:
            i = self.columns.index(name)
        except ValueError:
            raise ValueError(f"Table: no column {name!r}; it has {', '.join(self.columns)}") from None
        return [r[i] for r in self.rows]

    def row(self, t: int) -> dict:
        """The row whose ``t`` is ``t``, as a dict column → value."""
        ts = self.column("t")
        if t not in ts:
            raise ValueError(f"Table: no row with t = {t}")
        return dict(zip(self.columns, self.rows[ts.index(t)]))

    def to_dicts(self) -> list[dict]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    # -- exports --------------------------------------------------------
    def _cells(self, digits: int) -> list[list[str]]:
        return [[_fmt_number(v, digits) for v in r] for r in self.rows]

    def to_text(self, digits: int = 6, *, notes: bool = True) -> str:
        """Aligned plain text for terminals: numbers right-aligned with ``digits`` significant digits."""
        digits = _check_digits(digits)
        body = self._cells(digits)
        widths = [max([_width(c)] + [_width(r[i]) for r in body]) for i, c in enumerate(self.columns)]
        lines = []
        if self.title:
            lines.append(self.title)
        lines.append("  ".join(_rjust(c, w) for c, w in zip(self.columns, widths)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        for r in body:
            lines.append("  ".join(_rjust(c, w) for c, w in zip(r, widths)).rstrip())
        if notes and self.notes:
            lines.append("")
            lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_markdown(self, digits: int = 6, *, notes: bool = True) -> str:
        """A GitHub-flavoured Markdown table (``|`` in cells escaped)."""
        digits = _check_digits(digits)

        def esc(s: str) -> str:
            return s.replace("|", "\\|")

        lines = []
        if self.title:
            lines += [f"**{esc(self.title)}**", ""]
        lines.append("| " + " | ".join(esc(c) for c in self.columns) + " |")
        lines.append("|" + "|".join("---:" for _ in self.columns) + "|")
        for r in self._cells(digits):
            lines.append("| " + " | ".join(esc(c) for c in r) + " |")
        if notes and self.notes:
            lines.append("")
            lines.extend(f"- {esc(n)}" for n in self.notes)
        return "\n".join(lines)

    def to_csv(self) -> str:
        """CSV with a header row; floats written with ``repr`` (round-trip exact); blanks for None."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow(["" if v is None else (repr(float(v)) if isinstance(_plain(v), float) else _plain(v))
                        for v in r])
        return buf.getvalue()

    def to_dict(self) -> dict:
        return {"title": self.title, "columns": list(self.columns),
                "rows": [[_json_value(v) for v in r] for r in self.rows],
                "notes": list(self.notes), "meta": {k: _jsonable(v) for k, v in self.meta.items()}}

    def to_json(self, indent: int | None = 2) -> str:
        """JSON: {"title", "columns", "rows", "notes", "meta"}; strict (no bare NaN)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def render(self, fmt: str = "text", digits: int = 6) -> str:
        fmt = _check_format(fmt)
        if fmt == "text":
            return self.to_text(digits)
        if fmt == "markdown":
            return self.to_markdown(digits)
        if fmt == "csv":
            return self.to_csv()
        return self.to_json()

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"<Table {self.title!r}: {len(self.rows)} rows × {len(self.columns)} columns>"


FORMATS = ("text", "markdown", "csv", "json")


def _check_format(fmt: str) -> str:
    if fmt == "md":
        fmt = "markdown"
    if fmt not in FORMATS:
        raise ValueError(f"format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


def _check_digits(digits: Any) -> int:
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or not 1 <= digits <= 17:
        raise ValueError(f"digits: must be an integer from 1 to 17, got {digits!r}")
    return int(digits)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if v is None or isinstance(v, (str, bool)):
        return v
    if isinstance(v, (numbers.Real, np.floating, np.integer, np.bool_)):
        return _json_value(v)
    return str(v)


# ====================================================================== rules


def build_rule(rule: Any, hyper: dict | None = None, convention: str | None = None):
    """A :class:`~ravine.rules.Rule` from a rule, a class or a name, with hyperparameters.

    ``hyper`` keys may be constructor keywords (``betas``, ``amsgrad``, ``form`` …) or
    fields of the rule's ``Hyper`` (``beta1`` …). Unknown keys and bad values raise a
    one-line ``ValueError``.
    """
    from .rules import ALIASES, RULES, Rule

    hyper = dict(hyper or {})
    if isinstance(rule, Rule):
        if convention is not None and convention != rule.convention:
            raise ValueError(f"{type(rule).__name__}: pass convention when building the rule, "
                             f"or give the rule by name")
        return rule.with_hyper(**hyper) if hyper else rule
    if isinstance(rule, type) and issubclass(rule, Rule):
        cls = rule
    elif isinstance(rule, str):
        key = rule.strip().lower().replace("-", "_")
        key = ALIASES.get(key, key)
        if key not in RULES:
            raise ValueError(f"optimizer: unknown name {rule!r}; choose one of: {', '.join(RULES)}")
        cls = RULES[key]
    else:
        raise ValueError(f"optimizer: expected a rule, a rule class or a name, got {rule!r}")
    params = inspect.signature(cls.__init__).parameters
    init_kw = {k: v for k, v in hyper.items() if k in params and k not in ("self", "convention")}
    rest = {k: v for k, v in hyper.items() if k not in init_kw}
    if convention is not None:
        init_kw["convention"] = convention
    try:
        built = cls(**init_kw)
    except TypeError as exc:  # should not happen: keys are filtered above
        raise ValueError(f"{cls.__name__}: {exc}") from None
    if rest:
        bad = [k for k in rest if k not in built.h._fields]
        if bad:
            known = sorted({k for k in params if k not in ("self", "convention")} | set(built.h._fields))
            raise ValueError(f"{cls.__name__}: unknown hyperparameter {bad[0]!r}; it has {', '.join(known)}")
        built = built.with_hyper(**rest)
    return built


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


def explain(rule: Any, problem: Any = None, start: Any = None, steps: int = 10, lr: Any = None, *,
            hyper: dict | None = None, convention: str | None = None, problem_params: dict | None = None,
            grad_fn: Callable | None = None, hessian: Callable | None = None, f: Callable | None = None,
            variables: Sequence[str] | None = None, opt_state: Any = None, include_start: bool = True,
            nonfinite: str = "raise") -> Table:
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
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps: must be an integer >= 0, got {steps!r}")
    steps = int(steps)

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
    for i in range(steps):
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
        steps_out.append((t, eta, seen[0] if (lookahead and seen) else None, rec, np.asarray(x_new, dtype=float),
                          fval(x_new), skipped))
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
            if (fld in getattr(type(r).State, "_fields", ()) and isinstance(init_val, float)
                    and not isinstance(init_val, np.ndarray)
                    and all(isinstance(v, float) and v == init_val for v in vals)):
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
                notes.append(f"{label}, shape {sorted(shapes)[0]}, is not shown: "
                             "it is not one value per coordinate")
    if placeholders:
        notes.append("not used with these hyperparameters (left out): "
                     + ", ".join(f"{symbols.get(p, p)}" for p in placeholders))

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
        rows.append([0] + ([None] if sched is not None else []) + [float(c) for c in theta]
                    + [None] * (len(columns) - 2 - dim - (1 if sched is not None else 0)) + [fval(theta)])
    for t, eta, la, rec, xn, fn, skipped in steps_out:
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
    meta = {"rule": r.name, "convention": r.convention, "hyperparameters": r.h._asdict(),
            "problem": pname, "variables": list(variables), "start": theta.tolist(), "steps": steps,
            "source": type(r).source}
    if prob is not None and getattr(prob, "params", None):
        meta["problem_params"] = dict(prob.params)
    return Table(columns, rows, title=title, notes=notes, meta=meta, descriptions=descriptions)


def _fmt_hyper(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


# ====================================================================== CLI helpers


def parse_value(text: str) -> Any:
    """A hyperparameter value typed on the command line: int, float, bool, a pair
    (``betas=0.9,0.99`` or ``0.9/0.99``) or a name (``form=heavy_ball``) — as ``ravine run``."""
    from .cli_core import _value

    return _value(text, "value")


def parse_assignments(items: Iterable[str], what: str = "--set") -> dict:
    """``--set`` items, read as ``ravine run`` reads them (``lr=0.1,betas=0.9/0.99``)."""
    from .cli_core import _assignments

    out = {}
    for item in items:
        if "=" not in item or not item.split("=", 1)[1].strip():
            raise ValueError(f"{what}: expected key=value, got {item!r}")
        out.update(_assignments(item, what))
    return out


def _parse_point(text: str) -> list[float]:
    try:
        vals = [float(p) for p in text.replace(" ", "").strip("()[]").split(",") if p != ""]
    except ValueError:
        raise ValueError(f"--start: expected numbers separated by commas, got {text!r}") from None
    if not vals:
        raise ValueError(f"--start: expected numbers separated by commas, got {text!r}")
    return vals


# ====================================================================== click command

import click  # noqa: E402  (the CLI imports this module only when `ravine explain` runs)


@click.command(name="explain", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("optimizer", required=False)
@click.option("--problem", "problem", metavar="NAME", help="Catalog problem (ravine list problems).")
@click.option("--formula", metavar="TEXT", help="A formula instead, e.g. '(1-x)^2 + 100*(y-x^2)^2'.")
@click.option("--variables", metavar="x,y", help="Variable order for --formula.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Problem parameter, e.g. --param x=3.5 (repeatable).")
@click.option("--start", metavar="x,y", help="Start point θ_0 (default: the problem's).")
@click.option("--steps", type=int, default=10, show_default=True, help="Number of steps.")
@click.option("--lr", type=float, default=None, help="Learning rate η (default: the convention's).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Hyperparameter, e.g. --set betas=0.9,0.99 --set eps=1e-8 (repeatable).")
@click.option("--convention", metavar="NAME", help="Convention of the optimizer (torch, keras, seed002 …).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--digits", type=int, default=6, show_default=True, help="Significant digits (text, markdown).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE instead of stdout.")
@click.option("--seed-example", "seed_example", metavar="NAME",
              help="Print a worked example of the seeds, slide beside correct values ('list' lists them, "
                   "'all' prints all).")
def command(optimizer, problem, formula, variables, params, start, steps, lr, sets, convention, fmt, digits,
            output, seed_example):
    """Step-by-step table of every quantity of OPTIMIZER on a problem.

    \b
    Examples:
      ravine explain adam --problem sigmoid_neuron --steps 1 --lr 0.1 --set betas=0.9,0.99
      ravine explain nag --formula "x^2 + 10*y^2" --start 1,1 --steps 5
      ravine explain adam --seed-example adam_sigmoid
      ravine explain --seed-example list
    """
    _check_digits(digits)
    if seed_example is not None:
        text = _seed_example_output(optimizer, seed_example, fmt, digits, problem, formula, sets, lr, start)
    else:
        if not optimizer:
            raise click.UsageError("give an OPTIMIZER (ravine list optimizers) or --seed-example NAME")
        if problem and formula:
            raise click.UsageError("give --problem or --formula, not both")
        if not problem and not formula:
            raise click.UsageError("give --problem NAME or --formula TEXT")
        if variables and not formula:
            raise click.UsageError("--variables goes with --formula")
        hyper = parse_assignments(sets, "--set")
        pparams = parse_assignments(params, "--param")
        if formula:
            if pparams:
                raise click.UsageError("--param goes with --problem")
            from .problems import from_formula

            prob = from_formula(formula, [v.strip() for v in variables.split(",")] if variables else None)
        else:
            prob = _as_problem(problem, pparams)
        tab = explain(optimizer, prob, start=_parse_point(start) if start else None, steps=steps, lr=lr,
                      hyper=hyper, convention=convention)
        text = tab.render(fmt, digits)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
    else:
        click.echo(text)


def _seed_example_output(optimizer, name, fmt, digits, problem, formula, sets, lr, start) -> str:
    from . import seeds

    extra = [o for o, v in (("--problem", problem), ("--formula", formula), ("--set", sets), ("--lr", lr),
                            ("--start", start)) if v]
    if extra:
        raise click.UsageError(f"--seed-example fixes its own setup; drop {extra[0]}")
    if name == "list":
        lines = [f"{n:24s} {seeds.EXAMPLES[n][1]}" for n in seeds.EXAMPLES]
        return "\n".join(lines)
    names = list(seeds.EXAMPLES) if name == "all" else [name]
    out = []
    for n in names:
        ex = seeds.get_example(n)
        if optimizer and name != "all":
            from .rules import ALIASES, RULES

            key = optimizer.strip().lower().replace("-", "_")
            key = ALIASES.get(key, key)
            if key not in RULES:
                raise ValueError(f"optimizer: unknown name {optimizer!r}; choose one of: {', '.join(RULES)}")
            if key not in ex.rules:
                uses = ", ".join(ex.rules) if ex.rules else "no optimizer"
                raise click.UsageError(f"seed example {n!r} uses {uses}, not {key!r}")
        out.append(ex.render(fmt, digits))
    if fmt == "json" and len(out) > 1:
        return "[\n" + ",\n".join(out) + "\n]"
    return "\n\n".join(out)
