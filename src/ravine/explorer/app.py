"""``ravine serve``: the interactive explorer, a local FastAPI app.

Endpoints (all JSON; every request body validated by pydantic, see ``docs/explorer.md``)::

    GET  /                    the page (static/index.html)
    GET  /static/{file}       app.js, style.css
    GET  /vendor/plotly.min.js  Plotly.js from the installed ``plotly`` package (no CDN)
    GET  /api/health          {"ok": true}
    GET  /api/meta            optimizers (hyperparameters, defaults per convention, symbols,
                              slider hints), 2-D catalog problems, limits
    POST /api/problem         {problem | formula, bounds?} -> title, window, minima, contour grid
    POST /api/run             a whole setup -> trajectories, losses, gradients, optimizer state
    POST /api/explain         setup + optimizer index + step -> the rule's Record at that step
    POST /api/export?format=csv|json   setup -> RunResult.to_csv() / to_json()

Limits (``LIMITS``): steps ≤ 10 000, ≤ 16 optimizers, steps × optimizers ≤ 40 000, formula
≤ 2000 characters (and the parser's own limits), start coordinates finite with |x| ≤ 1e6,
request bodies ≤ 64 KiB. Hyperparameters are validated by the rules themselves; their one-line
``ValueError`` becomes a 422 ``{"detail": message}``. User formulas are parsed only by
:func:`ravine.problems.from_formula` (a whitelist over the syntax tree; never evaluated).

Speed: each optimizer runs through :func:`ravine.run`. A compiled (Numba) kernel is used for an
(optimizer, problem, flags) combination once it has been compiled; until then the NumPy path
answers and the kernel is compiled in one background thread, so no request waits for a
compiler. A combination that fails to compile stays on NumPy.
"""
from __future__ import annotations

import contextlib
import json
import math
import re
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import click
import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, field_validator

import ravine
from ravine.problems import FormulaError, from_formula, get_problem, list_problems
from ravine.rules import RULES, get_rule
from ravine.runner import STATUS, RunResult

__all__ = ["create_app", "command", "Explorer", "LIMITS", "RunSetup"]

STATIC = Path(__file__).with_name("static")

LIMITS = {
    "max_steps": 10_000,
    "max_optimizers": 16,
    "max_work": 40_000,          # steps × optimizers per request
    "max_formula": 2000,
    "max_coordinate": 1e6,
    "max_body": 64 * 1024,       # bytes
    "contour_points": 121,
}

#: which state field is the optimizer's first moment / velocity, and how θ moves with it:
#: "displacement": θ ← θ + v (the arrow is v); "gradient": θ ← θ − η·m (the arrow is −m).
MOMENTUM = {
    "sgd": ("b", "gradient"),
    "momentum": ("v", None),        # heavy_ball: displacement; average: gradient (decided per form)
    "nag": ("v", "displacement"),
    "rmsprop": ("b", "gradient"),
    "rmsprop_nesterov": ("v", "displacement"),
    "adam": ("s", "gradient"),
    "adamw": ("s", "gradient"),
    "nadam": ("s", "gradient"),
    "yogi": ("s", "gradient"),
}


def _momentum_of(rule) -> Optional[dict]:
    entry = MOMENTUM.get(rule.name)
    if entry is None:
        return None
    field, kind = entry
    if kind is None:
        kind = "displacement" if rule.h.form == "heavy_ball" else "gradient"
    return {"field": field, "kind": kind, "symbol": rule.symbols.get(field, field)}


# ----------------------------------------------------------------------------- request models

Finite = Annotated[float, Field(allow_inf_nan=False)]
Coordinate = Annotated[float, Field(allow_inf_nan=False, ge=-LIMITS["max_coordinate"],
                                    le=LIMITS["max_coordinate"])]
SmallInt = Annotated[int, Field(strict=True, ge=-10**9, le=10**9)]
ShortStr = Annotated[str, Field(max_length=40)]
HyperValue = Union[StrictBool, SmallInt, StrictFloat, ShortStr]


class OptimizerSpec(BaseModel):
    """One optimizer: a rule name, a convention (its defaults) and hyperparameter overrides."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=40)]
    convention: Annotated[str, Field(min_length=1, max_length=20)] = "torch"
    hyper: Annotated[dict[ShortStr, HyperValue], Field(max_length=16)] = Field(default_factory=dict)


class ProblemSpec(BaseModel):
    """A catalog problem by name, or a user formula (which wins when given)."""

    model_config = ConfigDict(extra="forbid")
    problem: Annotated[str, Field(min_length=1, max_length=40)] = "rosenbrock"
    formula: Optional[Annotated[str, Field(max_length=LIMITS["max_formula"])]] = None
    bounds: Optional[Annotated[list[Annotated[list[Coordinate], Field(min_length=2, max_length=2)]],
                               Field(min_length=2, max_length=2)]] = None

    @field_validator("bounds")
    @classmethod
    def _ordered(cls, v):
        if v is not None:
            for lo, hi in v:
                if not lo < hi:
                    raise ValueError(f"each bounds pair must have low < high, got ({lo:g}, {hi:g})")
        return v


class RunSetup(ProblemSpec):
    """Everything a run needs; the page's URL encodes exactly this."""

    start: Annotated[list[Coordinate], Field(min_length=2, max_length=2)]
    steps: Annotated[int, Field(ge=0, le=LIMITS["max_steps"])] = 500
    optimizers: Annotated[list[OptimizerSpec], Field(min_length=1, max_length=LIMITS["max_optimizers"])]
    tol: Optional[Annotated[float, Field(allow_inf_nan=False, ge=0)]] = None
    grad_noise: Annotated[float, Field(allow_inf_nan=False, ge=0, le=1e3)] = 0.0
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    setup: RunSetup
    index: Annotated[int, Field(ge=0, lt=LIMITS["max_optimizers"])] = 0
    step: Annotated[int, Field(ge=0, le=LIMITS["max_steps"])] = 0


class BadRequest(ValueError):
    """A request that is well-formed but cannot be served; becomes a 422 with its message."""


# ----------------------------------------------------------------------------- helpers

def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _arr(a) -> Any:
    """An array as nested lists; non-finite values become None (JSON null)."""
    a = np.asarray(a, dtype=float)
    if np.isfinite(a).all():
        return a.tolist()
    return np.where(np.isfinite(a), a, None).tolist()


def _vec(a) -> np.ndarray:
    """A C-contiguous float64 copy/view, for the encoder (non-finite values become null)."""
    return np.ascontiguousarray(a, dtype=np.float64)


def _show(a) -> np.ndarray:
    """Numbers for drawing: float32 (7 significant digits) halves the JSON of a run. The exact
    float64 values are in /api/explain (one step) and /api/export (everything)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(over="ignore"):
        out = a.astype(np.float32)
    out[np.isfinite(a) & ~np.isfinite(out)] = np.nan  # beyond float32's range: drawn as a gap
    return np.ascontiguousarray(out)


def _plain(obj):
    """Arrays inside ``obj`` as nested lists with None for non-finite values (the json path)."""
    if isinstance(obj, np.ndarray):
        return _arr(obj)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


try:  # optional: ~10× faster JSON, numpy arrays encoded directly, NaN/inf → null
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None


def encode(data) -> bytes:
    """The JSON body of an answer (strict JSON: non-finite numbers are null)."""
    if _orjson is not None:
        return _orjson.dumps(data, option=_orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(_plain(data), allow_nan=False, separators=(",", ":")).encode()


def _num(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, tuple):
        return [_num(x) for x in v]
    return v


_CHOICES = re.compile(r"must be one of (.+), got ")


def _field_info(cls, field: str, value) -> dict:
    """Slider hints for one hyperparameter (the rule validates whatever the user sends)."""
    info: dict[str, Any] = {"name": field, "symbol": cls.symbols.get(field, field)}
    if isinstance(value, bool):
        info["kind"] = "bool"
    elif isinstance(value, str):
        info["kind"] = "choice"
        try:  # ask the rule itself which values it accepts (its check_choice message lists them)
            cls().with_hyper(**{field: "\x00probe"})
            info["choices"] = [value]
        except ValueError as exc:
            m = _CHOICES.search(str(exc))
            info["choices"] = re.findall(r"'([^']*)'", m.group(1)) if m else [value]
    elif isinstance(value, int):
        info.update(kind="int", min=1, max=100, step=1)
    elif field in ("lr", "fallback_lr"):
        info.update(kind="log", min=1e-5, max=10.0)
    elif field == "eps":
        info.update(kind="log", min=1e-12, max=1.0)
    elif field in ("momentum", "alpha", "beta1", "beta2", "rho", "dampening"):
        info.update(kind="unit", min=0.0, max=0.9999, step=0.0001)
    else:  # weight_decay, lr_decay, damping, initial values, momentum_decay: ≥ 0, 0 allowed
        info.update(kind="log0", min=1e-6, max=10.0)
    return info


def _rule_meta(name: str, cls) -> dict:
    defaults = {}
    for conv in cls.conventions:
        defaults[conv] = {k: _num(v) for k, v in cls(convention=conv).hyperparameters().items()}
    base = cls().hyperparameters()
    return {
        "name": name,
        "title": cls.title,
        "source": cls.source,
        "conventions": list(cls.conventions),
        "defaults": defaults,
        "fields": [_field_info(cls, f, base[f]) for f in cls.Hyper._fields],
        "state": list(cls.State._fields),
        "record": list(cls.Record._fields),
        "symbols": dict(cls.symbols),
        "needs": list(cls.needs),
        "momentum": MOMENTUM.get(name, (None,))[0],
    }


def _literals(h) -> tuple:
    """The compile-time part of a rule's hyperparameters (flags, forms, ints, exact zeros)."""
    return tuple((k, v) for k, v in h._asdict().items() if not isinstance(v, float) or v == 0.0)


class _Entry:
    """A cached problem with what the explorer learned about it."""

    def __init__(self, problem, key):
        self.problem = problem
        self.key = key
        self.warm: set = set()
        self.broken: set = set()
        self.pending: set = set()
        self.contour: Optional[dict] = None
        self.lock = threading.Lock()


# ----------------------------------------------------------------------------- the engine

class Explorer:
    """The computations behind the endpoints, usable without HTTP (bench, tests)."""

    def __init__(self, *, numba: bool = True, background: bool = True, cache_size: int = 32):
        self.numba = numba and _numba_available()
        self.background = background
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ravine-compile") \
            if self.numba and background else None
        self._meta: Optional[bytes] = None

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- problems --------------------------------------------------------------------------
    def entry(self, spec: ProblemSpec) -> _Entry:
        if spec.formula is not None and spec.formula.strip():
            key = ("formula", spec.formula)
        else:
            key = ("catalog", spec.problem.strip().lower())
        with self._lock:
            e = self._cache.get(key)
            if e is not None:
                self._cache.move_to_end(key)
        if e is None:
            if key[0] == "formula":
                problem = from_formula(spec.formula)  # FormulaError (a ValueError): one line
            else:
                problem = get_problem(spec.problem)
            if problem.dim != 2:
                raise BadRequest(f"problem: the explorer draws functions of 2 variables; "
                                 f"{problem.name!r} has {problem.dim} ({', '.join(problem.variables)})")
            e = _Entry(problem, key)
            with self._lock:
                e = self._cache.setdefault(key, e)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return e

    def bounds(self, e: _Entry, spec: ProblemSpec):
        return [list(b) for b in (spec.bounds or e.problem.bounds)]

    def problem_info(self, spec: ProblemSpec) -> dict:
        e = self.entry(spec)
        p = e.problem
        bounds = self.bounds(e, spec)
        n = LIMITS["contour_points"]
        xs = np.linspace(bounds[0][0], bounds[0][1], n)
        ys = np.linspace(bounds[1][0], bounds[1][1], n)
        X, Y = np.meshgrid(xs, ys)
        with np.errstate(all="ignore"):
            Z = np.asarray(p.f(np.stack([X, Y], -1)), dtype=float)
        fin = Z[np.isfinite(Z)]
        zmin = float(fin.min()) if fin.size else 0.0
        zmax = float(fin.max()) if fin.size else 1.0
        spread = zmax - zmin
        # log-spaced levels for valleys (the catalog says so) or a wide dynamic range
        typical = float(np.median(fin - zmin)) if fin.size else 0.0
        log = bool(p.log_levels or (spread > 0 and typical > 0 and spread / typical > 50))
        return {
            "name": p.name, "title": p.title, "variables": list(p.variables),
            "formula": getattr(p, "formula", None) if e.key[0] == "formula" else None,
            "source": p.source, "notes": p.notes, "bounds": bounds, "default_bounds": [list(b) for b in p.bounds],
            "start": list(p.start), "log_levels": log,
            "minima": [{"point": list(m.point), "value": m.value} for m in p.minima],
            "critical_points": [list(c) for c in p.critical_points],
            "contour": {"x": _vec(xs), "y": _vec(ys), "z": _vec(Z), "zmin": zmin, "zmax": zmax},
        }

    # -- optimizers ------------------------------------------------------------------------
    @staticmethod
    def rule(spec: OptimizerSpec):
        rule = get_rule(spec.name, convention=spec.convention)
        if spec.hyper:
            rule = rule.with_hyper(**spec.hyper)
        return rule

    @staticmethod
    def labels(rules) -> list[str]:
        out, seen = [], {}
        for r in rules:
            seen[r.name] = seen.get(r.name, 0) + 1
            out.append(r.name if seen[r.name] == 1 else f"{r.name}#{seen[r.name]}")
        return out

    def _check(self, setup: RunSetup):
        work = setup.steps * len(setup.optimizers)
        if work > LIMITS["max_work"]:
            raise BadRequest(f"steps × optimizers must be <= {LIMITS['max_work']}, got "
                             f"{setup.steps} × {len(setup.optimizers)} = {work}")
        rules = []
        for i, spec in enumerate(setup.optimizers):
            try:
                rules.append(self.rule(spec))
            except ValueError as exc:
                raise BadRequest(f"optimizers[{i}]: {_one_line(exc)}") from None
        return rules

    def _run_one(self, rule, e: _Entry, setup: RunSetup) -> RunResult:
        kw = dict(starts=[setup.start], steps=setup.steps, record="all", tol=setup.tol,
                  grad_noise=setup.grad_noise, seed=setup.seed)
        p = e.problem
        key = (type(rule), _literals(rule.h), setup.grad_noise > 0)
        eligible = self.numba and rule.elementwise and p.scalar_functions() is not None
        if eligible and key in e.warm:
            try:
                return ravine.run([rule], p, backend="numba", **kw)
            except ValueError:
                raise
            except Exception:  # a compiler problem: NumPy from now on
                e.warm.discard(key)
                e.broken.add(key)
        out = ravine.run([rule], p, backend="numpy", **kw)
        if eligible and key not in e.broken:
            with e.lock:
                todo = key not in e.pending and key not in e.warm
                if todo:
                    e.pending.add(key)
            if todo:
                if self._pool is not None:
                    self._pool.submit(self._compile, rule, e, key, setup.start, setup.grad_noise)
                else:
                    self._compile(rule, e, key, setup.start, setup.grad_noise)
        return out

    @staticmethod
    def _compile(rule, e: _Entry, key, start, grad_noise):
        try:
            ravine.run([rule], e.problem, starts=[start], steps=2, record="all", backend="numba",
                       grad_noise=grad_noise)
            e.warm.add(key)
        except Exception:  # noqa: BLE001 - any compiler failure: stay on NumPy
            e.broken.add(key)
        finally:
            e.pending.discard(key)

    def results(self, setup: RunSetup):
        rules = self._check(setup)
        e = self.entry(setup)
        out = []
        for i, r in enumerate(rules):
            try:
                out.append(self._run_one(r, e, setup))
            except ValueError as exc:
                raise BadRequest(f"optimizers[{i}]: {_one_line(exc)}") from None
        return rules, e, out

    def run(self, setup: RunSetup) -> dict:
        t0 = time.perf_counter()
        rules, e, results = self.results(setup)
        p = e.problem
        labels = self.labels(rules)
        trajs = []
        backends = set()
        for i, (rule, res) in enumerate(zip(rules, results)):
            theta = res.theta[:, 0]
            with np.errstate(all="ignore"):
                g = np.asarray(p.grad(theta), dtype=float)
            backends.add(res.backend)
            trajs.append({
                "index": i, "label": labels[i], "name": rule.name, "convention": rule.convention,
                "hyper": {k: _num(v) for k, v in rule.hyperparameters().items()},
                "status": STATUS[res.status[0]], "stop_step": int(res.stop_step[0]),
                "x": _show(theta[:, 0]), "y": _show(theta[:, 1]),
                "loss": _show(res.loss[:, 0]), "grad_norm": _show(res.grad_norm[:, 0]),
                "gx": _show(g[:, 0]), "gy": _show(g[:, 1]),
                # each state field as [coordinate 1 over steps, coordinate 2 over steps]
                "state": {k: _show(v[:, 0].T) for k, v in res.state.items()},
                "symbols": dict(rule.symbols),
                "momentum": _momentum_of(rule),
            })
        return {"problem": p.name, "title": p.title, "steps": int(setup.steps),
                "trajectories": trajs, "backend": "+".join(sorted(backends)),
                "server_ms": round(1000 * (time.perf_counter() - t0), 3)}

    def combined(self, setup: RunSetup) -> RunResult:
        """All trajectories as one RunResult (for the canonical CSV/JSON export)."""
        rules, e, results = self.results(setup)
        labels = self.labels(rules)
        n = len(results)
        return RunResult(
            problem=e.problem.name if e.key[0] == "catalog" else f"formula: {setup.formula}",
            labels=labels, optimizers=dict(zip(labels, rules)),
            group=np.arange(n), start=np.zeros(n, dtype=int), steps=results[0].steps,
            theta=np.concatenate([r.theta for r in results], axis=1),
            loss=np.concatenate([r.loss for r in results], axis=1),
            grad_norm=np.concatenate([r.grad_norm for r in results], axis=1),
            status=np.concatenate([r.status for r in results]),
            stop_step=np.concatenate([r.stop_step for r in results]),
            backend="+".join(sorted({r.backend for r in results})))

    def explain(self, req: ExplainRequest) -> dict:
        """The rule's Record at step ``req.step`` of optimizer ``req.index`` (replayed with
        ``Rule.apply``, exactly as the runner steps: same look-ahead, Hessian and noise)."""
        setup = req.setup
        rules = self._check(setup)
        if req.index >= len(rules):
            raise BadRequest(f"index: there are {len(rules)} optimizers, got index {req.index}")
        rule = rules[req.index]
        e = self.entry(setup)
        p = e.problem
        res = self._run_one(rule, e, setup)
        stop = int(res.stop_step[0])
        t_end = min(req.step, setup.steps, stop if STATUS[res.status[0]] != "max_steps" else setup.steps)
        theta = np.asarray([setup.start], dtype=float)
        noise = None
        if setup.grad_noise > 0:
            rng = np.random.default_rng(setup.seed)
            noise = setup.grad_noise * rng.standard_normal((setup.steps, 1, 2))
        st = rule.init(theta)
        rec = None
        with np.errstate(all="ignore"):
            for t in range(1, t_end + 1):
                def grad_fn(x, t=t):
                    g = p.grad(x)
                    return g + noise[t - 1] if noise is not None else g
                kw = {"nonfinite": "ignore"}
                if "hessian" in rule.needs:
                    kw["hessian"] = p.hessian(theta)
                if "lookahead" in rule.needs:
                    kw["grad_fn"] = grad_fn
                    g = None
                else:
                    g = grad_fn(theta)
                theta_new, st, rec = rule.apply(theta, g, st, **kw)
                if t < t_end or t_end == 0:
                    theta = theta_new
                else:
                    theta_next = theta_new
            g0 = p.grad(theta)
        rows = []
        if rec is None:  # step 0: the initial state
            rows.append({"field": "g", "symbol": "g", "value": _arr(g0[0])})
            for f in rule.State._fields:
                v = getattr(st.state, f)
                rows.append({"field": f, "symbol": rule.symbols.get(f, f),
                             "value": _arr(np.asarray(v, dtype=float)[..., 0, :] if np.ndim(v) >= 2 else v)})
            theta_before, theta_after = theta[0], theta[0]
        else:
            for f in rule.Record._fields:
                v = getattr(rec, f)
                if isinstance(v, (bool, np.bool_)) or (np.ndim(v) >= 1 and np.asarray(v).dtype == bool):
                    val = np.asarray(v).reshape(-1).tolist() if np.ndim(v) else bool(v)
                elif np.ndim(v) >= 2:
                    val = _arr(np.asarray(v, dtype=float)[..., 0, :])
                else:
                    val = _arr(v) if np.ndim(v) else _num(float(v))
                rows.append({"field": f, "symbol": rule.symbols.get(f, f), "value": val})
            theta_before, theta_after = theta[0], theta_next[0]
        return {"index": req.index, "label": self.labels(rules)[req.index], "name": rule.name,
                "title": rule.title, "source": rule.source, "step": t_end, "requested_step": req.step,
                "status": STATUS[res.status[0]], "stop_step": stop,
                "theta_before": _arr(theta_before), "theta_after": _arr(theta_after),
                "hyper": {k: _num(v) for k, v in rule.hyperparameters().items()},
                "rows": rows}

    def meta(self) -> bytes:
        if self._meta is None:
            problems = []
            for name in list_problems():
                p = get_problem(name)
                if p.dim == 2:
                    problems.append({"name": name, "title": p.title, "bounds": [list(b) for b in p.bounds],
                                     "start": list(p.start), "log_levels": p.log_levels})
            self._meta = json.dumps({
                "version": getattr(ravine, "__version__", ""),
                "optimizers": [_rule_meta(n, c) for n, c in RULES.items()],
                "problems": problems, "limits": LIMITS,
            }).encode()
        return self._meta


def _numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------- HTTP layer

class BodyLimit:
    """Reject request bodies over ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    n = int(value)
                except ValueError:
                    return await _send_json(send, 400, {"detail": "invalid Content-Length header"})
                if n > self.limit:
                    return await _send_json(send, 413, {"detail": f"request body too large: {n} bytes "
                                                                  f"(limit {self.limit})"})
        if not any(name == b"content-length" for name, _ in scope.get("headers", ())) \
                and scope.get("method") in ("POST", "PUT", "PATCH"):
            # no length given (chunked): read the body here, up to the limit, then replay it
            chunks, seen = [], 0
            while True:
                msg = await receive()
                if msg["type"] != "http.request":
                    return
                body = msg.get("body", b"")
                seen += len(body)
                if seen > self.limit:
                    return await _send_json(send, 413, {"detail": f"request body too large "
                                                                  f"(limit {self.limit} bytes)"})
                chunks.append(body)
                if not msg.get("more_body", False):
                    break
            data = b"".join(chunks)
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": data, "more_body": False}
                return await receive()

            return await self.app(scope, replay, send)
        return await self.app(scope, receive, send)


async def _send_json(send, status: int, body: dict):
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def _validation_message(exc: RequestValidationError) -> tuple[str, list]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        msg = str(err.get("msg", "invalid value")).splitlines()[0][:200]
        errors.append({"loc": loc, "msg": msg})  # never echo the input back
    first = errors[0] if errors else {"loc": "", "msg": "invalid request"}
    return (f"{first['loc']}: {first['msg']}" if first["loc"] else first["msg"]), errors


def _json(data: dict) -> Response:
    return Response(encode(data), media_type="application/json")


def _factory() -> FastAPI:
    """The app of one worker process (``ravine serve --workers N``)."""
    return create_app(numba=os.environ.get("RAVINE_EXPLORER_NUMBA", "1") != "0")


def create_app(*, numba: bool = True, background: bool = True) -> FastAPI:
    """The explorer app. ``numba=False`` keeps every run on the NumPy path; ``background=False``
    compiles kernels in the request that first needs them (tests)."""
    engine = Explorer(numba=numba, background=background)
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        engine.close()

    app = FastAPI(title="ravine explorer", version=getattr(ravine, "__version__", "0"),
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.engine = engine
    app.add_middleware(BodyLimit, limit=LIMITS["max_body"])

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, errors = _validation_message(exc)
        return JSONResponse({"detail": message, "errors": errors[:10]}, status_code=422)

    @app.exception_handler(ValueError)  # BadRequest, FormulaError, the rules' ValueErrors
    async def _value_error(request: Request, exc: ValueError):
        return JSONResponse({"detail": _one_line(exc)}, status_code=422)

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        allowed = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
        if name not in allowed:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return FileResponse(STATIC / name, media_type=allowed[name], headers={"Cache-Control": "no-cache"})

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js():
        import plotly

        path = Path(plotly.__file__).with_name("package_data") / "plotly.min.js"
        return FileResponse(path, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/api/health")
    def health():
        return {"ok": True}

    @app.get("/api/meta")
    def meta():
        return Response(engine.meta(), media_type="application/json")

    @app.post("/api/problem")
    def problem(spec: ProblemSpec):
        return _json(engine.problem_info(spec))

    @app.post("/api/run")
    def run(setup: RunSetup):
        return _json(engine.run(setup))

    @app.post("/api/explain")
    def explain(req: ExplainRequest):
        return _json(engine.explain(req))

    @app.post("/api/export")
    def export(setup: RunSetup, format: Literal["csv", "json"] = "csv"):
        res = engine.combined(setup)
        if format == "csv":
            return Response(res.to_csv(), media_type="text/csv",
                            headers={"Content-Disposition": 'attachment; filename="ravine-trajectories.csv"'})
        data = res.to_dict()
        data["setup"] = setup.model_dump()
        return Response(json.dumps(data), media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="ravine-trajectories.json"'})

    return app


# ----------------------------------------------------------------------------- CLI

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@click.command(name="serve", help="Start the interactive explorer in the browser (a local web app).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; the default serves this machine only.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True,
              help="Open the page in the default web browser.")
@click.option("--no-numba", is_flag=True, default=False, help="Run everything on the NumPy path.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes (one per core serves many users; each keeps its own kernels).")
def command(host: str, port: int, open_browser: bool, no_numba: bool, workers: int):
    import uvicorn

    if host not in _LOOPBACK:
        click.echo(f"ravine serve: warning: binding {host}; anyone who can reach it can use the explorer",
                   err=True)
    if workers > 1:  # uvicorn starts the processes; each builds the app from the factory below
        os.environ["RAVINE_EXPLORER_NUMBA"] = "0" if no_numba else "1"
        click.echo(f"ravine explorer: http://{host}:{port}/  ({workers} workers; Ctrl+C to stop)")
        uvicorn.run("ravine.explorer.app:_factory", factory=True, host=host, port=port, workers=workers,
                    log_level="warning", access_log=False)
        return
    app = create_app(numba=not no_numba)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host

    def announce():
        while not server.started:
            time.sleep(0.05)
            if server.should_exit:
                return
        real = port
        try:
            real = server.servers[0].sockets[0].getsockname()[1]
        except Exception:  # noqa: BLE001
            pass
        url = f"http://{shown}:{real}/"
        click.echo(f"ravine explorer: {url}  (Ctrl+C to stop)")
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    server.run()
