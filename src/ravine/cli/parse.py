"""One parser for each kind of command-line argument, used by every ``ravine`` command.

========================  =============================================================
kind                      syntax
========================  =============================================================
value                     ``0.1``, ``1e-3``, ``true``/``false``, ``0.9/0.999`` (a pair), ``heavy_ball``
assignments               ``lr=0.1,betas=0.9/0.999`` (a comma starts a new assignment only
                          where a ``name=`` follows, so ``betas=0.9,0.999`` works too); the
                          one ``key=value`` reader, ``ravine._keyvalue``, also reads
                          ``ravine train --schedule step:step_size=10,gamma=0.5``
optimizer                 ``adam``, ``adam(lr=0.01,beta1=0.8)`` or ``adam:lr=0.01,beta1=0.8``
hyperparameters           each optimizer's keywords from its spec (``ravine.rules.hyper``):
                          ``betas`` or ``beta1``/``beta2``; an unknown key is an error
problem                   ``rosenbrock`` or ``rosenbrock:b=10`` (or ``--formula TEXT``)
size                      ``--size 12x6.75`` (inches, each 1 to 40), with ``--dpi``
point                     ``-1.2,1`` (as many numbers as the problem has variables)
axis                      ``lr=1e-3:1:20:log``, ``momentum=0:0.99:20``, ``beta2=0.9:0.9999:20:log1m``,
                          ``window=1,2,5``
output file / folder      ``-o out.png``, ``--out out/train``: checked before any work starts
                          (a file's folder exists and the file opens for writing; a folder
                          is made if missing and a file can be made in it)
bounded numbers           ``--steps`` and other counts: click's ``IntRange``; ``--tol``, ``--noise``:
                          :func:`bounded_float` (finite, in range); what a run would record:
                          :func:`check_work`
========================  =============================================================

Every error is a :class:`click.BadParameter`-style one-liner that names the flag the user
typed, the value, and what is allowed; ``ravine``'s ``main`` prints it as ``ravine: error: …``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

from .. import _keyvalue as _kv

__all__ = [
    "ParseError",
    "optimizer_class",
    "spec_name",
    "parse_value",
    "parse_assignments",
    "parse_optimizer",
    "parse_optimizers",
    "optimizer_kwargs",
    "parse_point",
    "parse_problem",
    "parse_axis",
    "unknown_keys",
    "check_output_file",
    "check_output_dir",
    "bounded_float",
    "check_work",
    "MAX_RECORDED",
    "MAX_COUNT",
    "state_numbers",
    "shorten_labels",
    "fmt_number",
    "parse_size",
    "did_you_mean",
    "Choice",
    "complete_optimizer",
    "complete_problem",
    "check_pixels",
    "MAX_PIXELS",
]

#: the largest picture (width × height in pixels) a command draws
MAX_PIXELS = 40_000_000

#: the largest integer hyperparameter (a count such as ``window``: memory is count × trajectories)
MAX_COUNT = 1_000_000
#: numbers a command may record (steps × trajectories × numbers per step) before it refuses
MAX_RECORDED = 20_000_000

_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_\-]*)\s*(?:\((.*)\))?\s*$", re.S)


class ParseError(click.UsageError):
    """A command-line value that cannot be read: one line naming the flag."""


def parse_value(text: str, flag: str = "value") -> Any:
    """A value typed on the command line: bool, int, float, a ``/``- or ``,``-separated pair,
    a quoted string or a form name (``heavy_ball``): :func:`ravine._keyvalue.parse_value`."""
    try:
        return _kv.parse_value(text, flag)
    except ValueError as exc:
        raise ParseError(str(exc)) from None


def parse_assignments(text: str | Iterable[str], flag: str) -> dict:
    """``"lr=0.1, betas=0.9,0.99"`` → ``{"lr": 0.1, "betas": (0.9, 0.99)}``; a list of such
    strings (a repeated option) is read in order: :func:`ravine._keyvalue.parse_assignments`."""
    try:
        return _kv.parse_assignments(text, flag)
    except ValueError as exc:
        raise ParseError(str(exc)) from None


def optimizer_class(name: str, flag: str):
    from ..rules import RULES, normalize_name

    key = normalize_name(name)
    if key not in RULES:
        raise ParseError(
            f"{flag}: unknown name {name!r}; choose one of: {', '.join(RULES)}" + _did_you_mean(name, RULES)
        )
    return RULES[key]


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    import difflib

    choices = list(choices)
    close = difflib.get_close_matches(str(name), choices, n=1) or difflib.get_close_matches(
        str(name).lower(), choices, n=1
    )
    return f" (did you mean {close[0]!r}?)" if close else ""


did_you_mean = _did_you_mean


class Choice(click.Choice):
    """``click.Choice`` whose refusal ends with the nearest choice: "(did you mean 'optimizers'?)"."""

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            exc.message = f"{exc.message}{_did_you_mean(value, [str(c) for c in self.choices])}"
            raise


def complete_optimizer(ctx, param, incomplete: str) -> list[str]:
    """Shell completion of optimizer names (``ravine.rules.RULES``)."""
    from ..rules import RULES

    return [n for n in RULES if n.startswith(incomplete.lower())]


def complete_problem(ctx, param, incomplete: str) -> list[str]:
    """Shell completion of the catalog's problem names."""
    from ..problems import list_problems

    return [n for n in list_problems() if n.startswith(incomplete)]


def _as_float_if_real(field, v):
    if field is not None and field.kind.type == "real" and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v


def optimizer_kwargs(rule_cls, kw: Mapping[str, Any], flag: str) -> dict:
    """``kw`` checked against the rule's spec: ``betas`` or ``beta1``/``beta2``; an unknown key
    is an error naming the flag and listing the keys the optimizer has."""
    from ..rules import hyper as hp

    fields = hp.field_map(rule_cls.settable())
    pairs = hp.pair_names(rule_cls.settable())
    keys = rule_cls.keywords()
    out = {}
    for k, v in kw.items():
        if k in pairs:
            if not isinstance(v, tuple) or len(v) != len(pairs[k]):
                raise ParseError(f"{flag}: {k} must be {len(pairs[k])} values like 0.9/0.999, got {v!r}")
            out[k] = tuple(_as_float_if_real(fields[p], x) for p, x in zip(pairs[k], v))
        elif k in fields:
            f = fields[k]
            if f.kind.type == "int" and isinstance(v, int) and not isinstance(v, bool) and v > MAX_COUNT:
                raise ParseError(f"{flag}: {k} must be <= {MAX_COUNT} (memory grows with it), got {v}")
            out[k] = _as_float_if_real(f, v)
        else:
            raise ParseError(
                f"{flag}: {rule_cls.name} has no hyperparameter {k!r}; it has {', '.join(keys)}"
                + _did_you_mean(k, keys)
            )
    return out


def unknown_keys(common: Mapping[str, Any], rule_classes: Sequence, flag: str) -> None:
    """Refuse a shared setting (``--set``, ``--lr``) that no named optimizer has."""
    for k in common:
        if not any(k in cls.keywords() for cls in rule_classes):
            names = ", ".join(sorted({cls.name for cls in rule_classes}))
            raise ParseError(f"{flag}: no optimizer given ({names}) has a hyperparameter {k!r}")


def spec_name(spec: str) -> str:
    head = spec.partition("(")[0] if "(" in spec else spec.partition(":")[0]
    return head.strip()


def parse_optimizer(
    spec: str, flag: str = "optimizer", common: Mapping[str, Any] | None = None, convention: str | None = None
):
    """``"adam"``, ``"adam(lr=0.01, amsgrad=true)"`` or ``"adam:lr=0.01"`` → ``(label, rule)``.

    ``common`` values (``--set``, ``--lr``) apply to the optimizers that have them; the
    optimizer's own values win.
    """
    if ":" in spec and "(" not in spec:
        name, _, args = spec.partition(":")
        spec = f"{name}({args})"
    m = _NAME.match(spec)
    if not m:
        raise ParseError(f"{flag}: cannot read {spec!r}; write NAME, NAME(key=value,...) or NAME:key=value,...")
    name, args = m.group(1), m.group(2) or ""
    cls = optimizer_class(name, flag)
    where = f"{flag} {name}"
    own = optimizer_kwargs(cls, parse_assignments(args, where), where) if args.strip() else {}
    shared = {k: v for k, v in (common or {}).items() if k in cls.keywords()}
    shared = optimizer_kwargs(cls, shared, where) if shared else {}
    from ..rules import hyper as hp

    # the optimizer's own values win over the shared ones, pair by part
    kw = {**hp.split_pairs(cls.__name__, cls.fields, shared), **hp.split_pairs(cls.__name__, cls.fields, own)}
    try:
        rule = cls.build(convention or "torch", **kw)
    except ValueError as exc:
        hint = ""
        msg = str(exc).splitlines()[0]
        if convention is not None and convention not in cls.conventions and " was renamed " not in msg:
            hint = _did_you_mean(convention, cls.conventions)
        raise ParseError(f"{where}: {msg}{hint}") from None
    shown = dict(own) or ({"lr": rule.h.lr} if "lr" in rule.h._fields else {})
    label = rule.name + (" (" + ", ".join(f"{k} {_show(v)}" for k, v in shown.items()) + ")" if shown else "")
    return label, rule


def _show(v) -> str:
    if isinstance(v, tuple):
        return "/".join(_show(x) for x in v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def parse_optimizers(
    specs: Sequence[str],
    *,
    lr: float | None = None,
    sets: Iterable[str] = (),
    convention: str | None = None,
    flag: str = "optimizer",
) -> dict:
    """Several optimizer specs and the shared ``--lr``/``--set`` → ``{label: rule}`` (labels unique)."""
    if not specs:
        raise ParseError(f"{flag}: give at least one optimizer, e.g. 'sgd' or 'adam:lr=0.01'")
    common = parse_assignments(list(sets), "--set")
    if lr is not None:
        common["lr"] = float(lr)
    classes = [optimizer_class(spec_name(s), flag) for s in specs]
    for k in common:
        unknown_keys({k: common[k]}, classes, "--lr" if k == "lr" and lr is not None else "--set")
    out: dict = {}
    for spec in specs:
        label, rule = parse_optimizer(spec, flag, common, convention)
        base, n = label, 2
        while label in out:
            label = f"{base} #{n}"
            n += 1
        out[label] = rule
    return out


def parse_point(text: str, dim: int | None, flag: str = "--start"):
    """``"-1.2,1"`` → ``array([-1.2, 1.0])`` (``dim`` numbers, finite)."""
    import numpy as np

    parts = [p for p in re.split(r"[,\s]+", str(text).strip().strip("()[]")) if p]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise ParseError(f"{flag}: expected numbers separated by commas, got {text!r}") from None
    if not vals or not all(math.isfinite(v) for v in vals):
        raise ParseError(f"{flag}: expected finite numbers separated by commas, got {text!r}")
    if dim is not None and len(vals) != dim:
        raise ParseError(
            f"{flag}: the problem has {dim} variable{'s' * (dim != 1)}, got {len(vals)} "
            f"number{'s' * (len(vals) != 1)} in {text!r}"
        )
    return np.array(vals, dtype=float)


def parse_problem(
    problem: str | None,
    formula: str | None = None,
    *,
    variables: str | None = None,
    params: Iterable[str] = (),
    default: str | None = None,
    flag: str = "--problem",
):
    """``--problem NAME[:key=value,...]`` (and repeated ``--param key=value``) or ``--formula TEXT``."""
    from ..problems import from_formula, get_problem

    params = list(params)
    if problem and formula is not None:
        raise ParseError("give --problem or --formula, not both")
    if formula is not None:
        if params:
            raise ParseError("--param goes with --problem, not --formula")
        if not formula.strip():
            raise ParseError("--formula: empty formula; write e.g. --formula 'x^2 + 10*y^2'")
        names = [v.strip() for v in variables.split(",")] if variables else None
        try:
            return from_formula(formula, names)
        except ValueError as exc:  # FormulaError: "formula: ..." or "variables: ..." names the flag
            msg = str(exc).splitlines()[0]
            raise ParseError(re.sub(r"^(formula|variables): ", r"--\1: ", msg)) from None
    if variables:
        raise ParseError("--variables goes with --formula")
    if not problem:
        if default is None:
            raise ParseError("give a problem: --problem NAME (see 'ravine list problems') or --formula TEXT")
        problem = default
    name, _, rest = problem.partition(":")
    kw = parse_assignments(rest, f"{flag} {name}") if rest else {}
    kw.update(parse_assignments(params, "--param"))
    try:
        return get_problem(name.strip(), **kw)
    except (TypeError, ValueError) as exc:
        from ..problems import list_problems

        msg = str(exc).splitlines()[0]
        # a renamed name's message already names the new one (ravine._renamed)
        hint = "" if name.strip() in list_problems() or " was renamed " in msg else _did_you_mean(name, list_problems())
        raise ParseError(f"{flag}: {msg}{hint}") from None


def parse_axis(text: str, flag: str = "axis"):
    """``'lr=1e-3:1:20:log'`` → ('lr', values, 'log'); ``'momentum=0:0.99:20'`` linear;
    ``'beta2=0.9:0.9999:20:log1m'`` 20 values evenly spaced in log(1 − v) (decay factors near 1);
    ``'window=1,2,5'`` an explicit list."""
    import numpy as np

    if "=" not in text:
        raise ParseError(f"{flag}: expected name=low:high:n[:log|log1m|lin] or name=v1,v2,..., got {text!r}")
    name, spec = (s.strip() for s in text.split("=", 1))
    if not name:
        raise ParseError(f"{flag}: missing hyperparameter name in {text!r}")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) not in (3, 4):
            raise ParseError(f"{flag} {name}: expected low:high:n[:log|log1m|lin], got {spec!r}")
        try:
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ParseError(f"{flag} {name}: expected low:high:n with numbers, got {spec!r}") from None
        scale = parts[3].strip().lower() if len(parts) == 4 else "lin"
        if scale not in ("log", "log1m", "lin", "linear"):
            raise ParseError(f"{flag} {name}: scale must be 'log', 'log1m' or 'lin', got {parts[3]!r}")
        if not (np.isfinite(lo) and np.isfinite(hi)) or n < 1 or n > 200:
            raise ParseError(f"{flag} {name}: need finite bounds and 1 <= n <= 200, got {spec!r}")
        if scale == "log":
            if lo <= 0 or hi <= 0:
                raise ParseError(f"{flag} {name}: a log axis needs low and high > 0, got {spec!r}")
            return name, np.geomspace(lo, hi, n), "log"
        if scale == "log1m":  # decay factors near 1: evenly spaced in log(1 - v)
            if not (lo < 1 and hi < 1):
                raise ParseError(f"{flag} {name}: a log1m axis needs low and high < 1, got {spec!r}")
            return name, 1.0 - np.geomspace(1.0 - lo, 1.0 - hi, n), "log1m"
        return name, np.linspace(lo, hi, n), "linear"
    try:
        vals = np.array([float(v) for v in spec.split(",") if v.strip()], dtype=float)
    except ValueError:
        raise ParseError(f"{flag} {name}: expected numbers, got {spec!r}") from None
    if vals.size == 0 or not np.isfinite(vals).all():
        raise ParseError(f"{flag} {name}: expected finite numbers, got {spec!r}")
    return name, vals, None


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def check_output_file(path, flag: str, suffixes: Sequence[str] | None = None) -> str:
    """An output file the command will write, checked before the work starts: its folder
    exists, the path is not a folder, the suffix fits, and the file can be opened for writing
    (tried for real: permissions, read-only file systems; a file made by the try is removed)."""
    import os
    from pathlib import Path

    p = Path(path)
    if not str(path).strip():
        raise ParseError(f"{flag}: empty file name")
    if p.is_dir():
        raise ParseError(f"{flag}: {str(path)!r} is a folder; give a file name")
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise ParseError(f"{flag}: the file must end in {', '.join(suffixes)}, got {p.name!r}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise ParseError(f"{flag}: cannot write {str(path)!r}: the folder {str(folder)!r} does not exist")
    existed = p.exists()
    try:
        with open(p, "a"):
            pass
    except OSError as exc:
        raise ParseError(f"{flag}: cannot write {str(path)!r}: {_reason(exc)}") from None
    if not existed:
        try:
            os.unlink(p)
        except OSError:
            pass
    return str(path)


def check_output_dir(path, flag: str) -> str:
    """An output folder, checked before the work starts: made if missing, and writable
    (a file is made and removed in it to be sure)."""
    import os
    import tempfile
    from pathlib import Path

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ParseError(f"{flag}: {str(path)!r} is a file, not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=".ravine-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ParseError(f"{flag}: cannot write in {str(path)!r}: {_reason(exc)}") from None
    return str(path)


def bounded_float(value, flag: str, lo: float = 0.0, hi: float = 1e12):
    """``None`` or a finite float in ``[lo, hi]``."""
    if value is None:
        return None
    v = float(value)
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ParseError(f"{flag}: must be a finite number in [{lo:g}, {hi:g}], got {value!r}")
    return v


def check_work(steps: int, trajectories: int, per_step: int, flag: str = "--steps") -> None:
    """Refuse a run that would record more than :data:`MAX_RECORDED` numbers."""
    n = (steps + 1) * max(trajectories, 1) * max(per_step, 1)
    if n > MAX_RECORDED:
        raise ParseError(
            f"{flag}: {steps} steps × {trajectories} trajectories would record {n} numbers; "
            f"the limit is {MAX_RECORDED} (fewer steps or trajectories)"
        )


def state_numbers(rules, dim: int) -> int:
    """The state numbers one trajectory of the largest of ``rules`` records per step."""
    import numpy as np

    sizes = [sum(int(np.size(v)) for v in r.init(np.zeros((1, dim))).state) for r in rules]
    return max(sizes, default=0)


def fmt_number(v, digits: int) -> str:
    """A number to ``digits`` significant digits, never cut (the tables' own formatting)."""
    from ..tables.table import fmt_number as _fmt

    return _fmt(v, digits)


def shorten_labels(labels: Sequence[str], width: int = 40) -> list[str]:
    """Labels longer than ``width`` shortened with "…" in the middle (the start names the
    optimizer, the end holds the last settings and any ``#n``); a label whose short form would
    read like another's is kept whole, so the labels stay distinct."""
    labels = [str(s) for s in labels]

    def short(s: str) -> str:
        if len(s) <= width:
            return s
        tail = width // 3
        return s[: width - 1 - tail] + "…" + s[-tail:]

    shorts = [short(s) for s in labels]
    return [
        lab if shorts.count(s) > 1 or s in labels[:i] + labels[i + 1 :] else s
        for i, (lab, s) in enumerate(zip(labels, shorts))
    ]


def parse_size(text: str | None, flag: str = "--size"):
    """``"12x6.75"`` (inches, width × height, each from 1 to 40) → ``(12.0, 6.75)``; None → None."""
    if text is None:
        return None
    parts = re.split(r"\s*[x×X,]\s*", str(text).strip())
    try:
        w, h = (float(p) for p in parts)
    except ValueError:
        raise ParseError(f"{flag}: expected WIDTHxHEIGHT in inches, e.g. 12x6.75, got {text!r}") from None
    if not all(math.isfinite(v) and 1 <= v <= 40 for v in (w, h)):
        raise ParseError(f"{flag}: width and height must be from 1 to 40 inches, got {text!r}")
    return w, h


def check_pixels(size, dpi: int, default_size, flag: str = "--size", limit: int = MAX_PIXELS) -> None:
    """Refuse a picture of more than ``limit`` pixels (``size`` in inches at ``dpi``)."""
    w, h = size or default_size
    px = int(w * dpi) * int(h * dpi)
    if px > limit:
        raise ParseError(
            f"{flag}/--dpi: {w:g}x{h:g} inches at {dpi} dpi is {int(w * dpi)} × {int(h * dpi)} pixels; "
            f"the limit is {limit} pixels (a smaller size or dpi)"
        )
