"""The explorer's computations, usable without HTTP (perf, tests): :class:`Explorer`.

It keeps a small LRU cache of problems (catalog names and user formulas), runs every
optimizer through :func:`ravine.run`, replays one step with ``Rule.apply`` for
``/api/explain``, and describes the rules for ``/api/meta`` from the rules themselves
(:func:`ravine.rules.hyper.describe`, ``Rule.movement``).

Speed: a compiled (Numba) kernel is used for an (optimizer, problem, flags) combination once
it has been compiled; until then the NumPy path answers and the kernel is compiled in one
background thread, so no request waits for a compiler. A combination that fails to compile
stays on NumPy. The compile queue is deduplicated and bounded (``LIMITS["compile_queue"]``:
a full queue means NumPy this time). Memory: a kernel's machine code is never given back
(2-22 MiB each), so a process compiles at most ``LIMITS["compiled_kernels"]`` distinct
(problem, kernel) combinations in its life, and kernels for the first
``LIMITS["compiled_formulas"]`` user formulas only; later new combinations run on NumPy, with
the same numbers (:meth:`Explorer._may_compile`; the bound is in ``docs/explorer.md``).

Bounds (:data:`~ravine.explorer.schemas.LIMITS`): every integer hyperparameter (a count such as
``window``) ``<= max_count``; Σ (steps + 1) × recorded state numbers ``<= max_state_values``;
Σ steps × expression nodes per step (:meth:`SymbolicProblem.cost`: f and gradient, and the
Hessian for second-order rules) ``<= max_cost``; a new formula's symbolic work in a child
process killed after ``formula_seconds``. :meth:`Explorer.call` runs a computation under a
deadline: every evaluation of the problem on the NumPy path and every replayed step checks it
and raises :class:`Overloaded` past it (or once the explorer is closing).
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections import OrderedDict

import numpy as np

from ravine._json import jsonable
from ravine.plot import palette
from ravine.problems import from_formula, get_problem, list_problems
from ravine.rules import RULES, get_rule
from ravine.rules.hyper import NO_DEFAULT, describe, field_map
from ravine.runner import CONVERGED, DIVERGED, STATUS, RunResult, grid, run

from .._version import __version__
from .encode import encode, f32, f64, nested
from .schemas import LIMITS, EigenRequest, ExplainRequest, MapRequest, OptimizerSpec, ProblemSpec, RunSetup

__all__ = ["Explorer", "BadRequest", "Overloaded", "rule_meta", "one_line"]


class BadRequest(ValueError):
    """A request that is well-formed but cannot be served; becomes a 422 with its message."""


class Overloaded(Exception):
    """The request passed its time limit (504), or the explorer is stopping (503)."""

    def __init__(self, message: str, status: int = 504):
        super().__init__(message)
        self.status = status


_deadline = threading.local()  # .at: the monotonic time limit, .closing: the explorer's Event


def check_deadline() -> None:
    """Raise :class:`Overloaded` when this thread's computation is past its limit."""
    closing = getattr(_deadline, "closing", None)
    if closing is not None and closing.is_set():
        raise Overloaded("the explorer is stopping", 503)
    at = getattr(_deadline, "at", None)
    if at is not None and time.monotonic() > at:
        raise Overloaded(f"the request passed its time limit of {LIMITS['request_seconds']:g} s")


def time_left(default: float) -> float:
    at = getattr(_deadline, "at", None)
    return default if at is None else max(0.0, min(default, at - time.monotonic()))


def _guarded(problem):
    """A shallow copy of ``problem`` whose every evaluation checks the deadline first."""
    q = copy.copy(problem)
    for name in ("_f", "_grad", "_hessian"):
        inner = getattr(problem, name)

        def checked(x, inner=inner):
            check_deadline()
            return inner(x)

        setattr(q, name, checked)
    return q


def _cost(problem, rule) -> int:
    """Expression nodes one step of ``rule`` evaluates (a problem without a formula: 50)."""
    cost = getattr(problem, "cost", None)
    if cost is None:
        return 50
    c = cost()
    n = c["f"] + c["grad"] * (2 if "lookahead" in rule.needs else 1)
    if "hessian" in rule.needs:
        n += c["hessian"]
    return max(n, 1)


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (what a 422 answer says)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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


from ravine.rules.specialize import literals as _literals  # noqa: E402  (the one home)


class _Entry:
    """A cached problem with what the explorer learned about it."""

    def __init__(self, problem, key):
        self.problem = problem
        self.key = key
        self.warm: set = set()
        self.broken: set = set()
        self.pending: set = set()
        self.contour: dict | None = None
        self.lock = threading.Lock()


class Explorer:
    """The computations behind the endpoints, usable without HTTP (perf, tests)."""

    def __init__(self, *, numba: bool = True, background: bool = True, cache_size: int = 32):
        self.numba = numba and _numba_available()
        self.background = background
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._closing = threading.Event()
        # one daemon thread compiles (a stopping server never waits for a compiler)
        self._queue: queue.Queue | None = None
        if self.numba and background:
            self._queue = queue.Queue(maxsize=LIMITS["compile_queue"])
            threading.Thread(target=self._compiler, name="ravine-compile", daemon=True).start()
        self._compiled_formulas: set = set()
        self._kernels: set = set()  # (problem key, kernel key) ever compiled here: the budget
        self._meta: bytes | None = None

    def close(self):
        """Stop: computations in flight end at their next check, queued compiles are dropped."""
        self._closing.set()
        if self._queue is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass

    def call(self, fn, *args, seconds: float | None = None):
        """``fn(*args)`` under a deadline of ``seconds`` (``LIMITS["request_seconds"]``)."""
        limit = LIMITS["request_seconds"] if seconds is None else seconds
        _deadline.at = time.monotonic() + limit
        _deadline.closing = self._closing
        try:
            check_deadline()
            return fn(*args)
        finally:
            _deadline.at = _deadline.closing = None

    def _compiler(self):
        while not self._closing.is_set():
            job = self._queue.get()
            if job is None or self._closing.is_set():
                return
            self._compile(*job)

    # -- problems --------------------------------------------------------------------------
    def entry(self, spec: ProblemSpec) -> _Entry:
        if spec.formula is not None and spec.formula.strip():
            key = ("formula", spec.formula)
        else:
            key = ("catalog", spec.problem)  # get_problem folds case and spelling
        with self._lock:
            e = self._cache.get(key)
            if e is not None:
                self._cache.move_to_end(key)
        if e is None:
            if key[0] == "formula":
                # FormulaError (a ValueError): one line; the symbolic work is bounded in a child
                try:
                    problem = from_formula(
                        spec.formula, seconds=time_left(LIMITS["formula_seconds"]), cancelled=self._closing.is_set
                    )
                except ValueError:
                    check_deadline()  # stopping: 503, not the formula's fault
                    raise
            else:
                problem = get_problem(spec.problem)
            if problem.dim != 2:
                raise BadRequest(
                    f"problem: the explorer draws functions of 2 variables; "
                    f"{problem.name!r} has {problem.dim} ({', '.join(problem.variables)})"
                )
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
            "name": p.name,
            "title": p.title,
            "variables": list(p.variables),
            "formula": getattr(p, "formula", None) if e.key[0] == "formula" else None,
            "source": p.source,
            "notes": p.notes,
            "bounds": bounds,
            "default_bounds": [list(b) for b in p.bounds],
            "start": list(p.start),
            "log_levels": log,
            "minima": [{"point": list(m.point), "value": m.value} for m in p.minima],
            "critical_points": [list(c) for c in p.critical_points],
            "contour": {"x": f64(xs), "y": f64(ys), "z": f64(Z), "zmin": zmin, "zmax": zmax},
        }

    # -- optimizers ------------------------------------------------------------------------
    @staticmethod
    def rule(spec: OptimizerSpec):
        # the user's values go in with the convention's (a convention may have no default for
        # one: optax's Adadelta η, hyper.Required)
        return get_rule(spec.name, convention=spec.convention, **(spec.hyper or {}))

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
            raise BadRequest(
                f"steps × optimizers must be <= {LIMITS['max_work']}, got "
                f"{setup.steps} × {len(setup.optimizers)} = {work}"
            )
        rules = []
        for i, spec in enumerate(setup.optimizers):
            try:
                self._check_counts(spec)
                rules.append(self.rule(spec))
            except ValueError as exc:
                raise BadRequest(f"optimizers[{i}]: {one_line(exc)}") from None
        values = 0
        for rule in rules:
            st = rule.init(np.zeros((1, 2)))
            per_step = sum(int(np.size(v)) for v in st.state) + 8  # θ, loss, ‖g‖, gradient …
            values += (setup.steps + 1) * per_step
        if values > LIMITS["max_state_values"]:
            raise BadRequest(
                f"steps × recorded state: {values} numbers for these optimizers over {setup.steps} steps; "
                f"the limit is {LIMITS['max_state_values']} (fewer steps or a smaller window)"
            )
        return rules

    @staticmethod
    def _check_counts(spec: OptimizerSpec):
        """Every integer hyperparameter (a count such as ``window``) is at most ``max_count``."""
        from ravine.rules import RULES, normalize_name

        cls = RULES.get(normalize_name(spec.name))
        if cls is None:
            return  # get_rule says what is wrong
        fields = field_map(cls.settable())
        for k, v in spec.hyper.items():
            f = fields.get(k)
            if f is not None and f.kind.type == "int" and isinstance(v, int) and v > LIMITS["max_count"]:
                raise BadRequest(
                    f"{k}: must be <= {LIMITS['max_count']} in the explorer (memory grows with {k} × steps), got {v}"
                )

    def _check_cost(self, rules, e: _Entry, setup: RunSetup):
        cost = sum(setup.steps * _cost(e.problem, r) for r in rules)
        if cost > LIMITS["max_cost"]:
            per = ", ".join(str(_cost(e.problem, r)) for r in rules)
            raise BadRequest(
                f"work: {setup.steps} steps × expression nodes per step ({per}) = {cost}; the limit is "
                f"{LIMITS['max_cost']} (fewer steps or optimizers, or a simpler formula)"
            )

    def _run_one(self, rule, e: _Entry, setup: RunSetup) -> RunResult:
        kw = dict(
            starts=[setup.start],
            steps=setup.steps,
            record="all",
            tol=setup.tol,
            grad_noise=setup.grad_noise,
            seed=setup.seed,
        )
        p = e.problem
        key = (type(rule), _literals(rule.h), setup.grad_noise > 0)
        eligible = self.numba and rule.elementwise and p.scalar_functions() is not None
        if eligible and key in e.warm:
            try:
                return run([rule], p, backend="numba", **kw)
            except ValueError:
                raise
            except Exception:  # a compiler problem: NumPy from now on
                e.warm.discard(key)
                e.broken.add(key)
        out = run([rule], _guarded(p), backend="numpy", **kw)
        if eligible and key not in e.broken:
            self._ask_compile(rule, e, key, setup)
        return out

    def _ask_compile(self, rule, e: _Entry, key, setup) -> bool:
        """Compile ``key``'s kernel (in the background, or now without it) unless it is warm,
        pending, or over the budget (:meth:`_may_compile`); True when it is compiling now."""
        with e.lock:
            todo = key not in e.pending and key not in e.warm
            if todo:
                todo = self._may_compile(e, key)
            if todo:
                e.pending.add(key)
        if not todo:
            return key in e.pending
        job = (rule, e, key, setup.start, setup.grad_noise)
        if self._queue is not None:
            try:
                self._queue.put_nowait(job)
            except queue.Full:  # NumPy this time; asked again by a later request (still reserved)
                e.pending.discard(key)
                return False
            return True
        if not self.background:
            self._compile(*job)
        return False

    def _may_compile(self, e: _Entry, key) -> bool:
        """Whether ``key``'s kernel on problem ``e`` may be compiled; reserves it if so.

        A compiled kernel's machine code is never given back to the system (evicting it from a
        cache frees nothing), so the process has a lifetime budget: ``LIMITS["compiled_kernels"]``
        distinct (problem, kernel) combinations, and user formulas only while fewer than
        ``compiled_formulas`` have kernels. A combination already compiled is always allowed
        (a problem evicted from the cache and rebuilt finds its kernel compiled); beyond the
        budget new combinations run on NumPy, with the same numbers."""
        with self._lock:
            if (e.key, key) in self._kernels:
                return True
            if len(self._kernels) >= LIMITS["compiled_kernels"]:
                return False
            if e.key[0] == "formula" and e.key not in self._compiled_formulas:
                if len(self._compiled_formulas) >= LIMITS["compiled_formulas"]:
                    return False
                self._compiled_formulas.add(e.key)
            self._kernels.add((e.key, key))
            return True

    @staticmethod
    def _compile(rule, e: _Entry, key, start, grad_noise):
        try:
            record = "final" if key[0] == "map" else "all"  # the map's kernel keeps no state
            run([rule], e.problem, starts=[start], steps=2, record=record, backend="numba", grad_noise=grad_noise)
            e.warm.add(key)
        except Exception:
            e.broken.add(key)
        finally:
            e.pending.discard(key)

    def results(self, setup: RunSetup):
        rules = self._check(setup)
        e = self.entry(setup)
        self._check_cost(rules, e, setup)
        out = []
        for i, r in enumerate(rules):
            try:
                out.append(self._run_one(r, e, setup))
            except ValueError as exc:
                raise BadRequest(f"optimizers[{i}]: {one_line(exc)}") from None
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
            trajs.append(
                {
                    "index": i,
                    "label": labels[i],
                    "name": rule.name,
                    "convention": rule.convention,
                    "hyper": {k: jsonable(v) for k, v in rule.hyperparameters().items()},
                    "status": STATUS[res.status[0]],
                    "stop_step": int(res.stop_step[0]),
                    "x": f32(theta[:, 0]),
                    "y": f32(theta[:, 1]),
                    "loss": f32(res.loss[:, 0]),
                    "grad_norm": f32(res.grad_norm[:, 0]),
                    "gx": f32(g[:, 0]),
                    "gy": f32(g[:, 1]),
                    # each state field as [coordinate 1 over steps, coordinate 2 over steps]
                    "state": {k: f32(v[:, 0].T) for k, v in res.state.items()},
                    "symbols": dict(rule.symbols),
                    "momentum": rule.movement(),
                }
            )
        return {
            "problem": p.name,
            "title": p.title,
            "steps": int(setup.steps),
            "trajectories": trajs,
            "backend": "+".join(sorted(backends)),
            "server_ms": round(1000 * (time.perf_counter() - t0), 3),
        }

    def combined(self, setup: RunSetup) -> RunResult:
        """All trajectories as one RunResult (for the canonical CSV/JSON export)."""
        rules, e, results = self.results(setup)
        labels = self.labels(rules)
        n = len(results)
        return RunResult(
            problem=e.problem.name if e.key[0] == "catalog" else f"formula: {setup.formula}",
            labels=labels,
            optimizers=dict(zip(labels, rules)),
            group=np.arange(n),
            start=np.zeros(n, dtype=int),
            steps=results[0].steps,
            theta=np.concatenate([r.theta for r in results], axis=1),
            loss=np.concatenate([r.loss for r in results], axis=1),
            grad_norm=np.concatenate([r.grad_norm for r in results], axis=1),
            status=np.concatenate([r.status for r in results]),
            stop_step=np.concatenate([r.stop_step for r in results]),
            backend="+".join(sorted({r.backend for r in results})),
        )

    def _one(self, req):
        """The setup's rules, optimizer ``req.index`` of them and the problem, all checked."""
        rules = self._check(req.setup)
        if req.index >= len(rules):
            raise BadRequest(f"index: there are {len(rules)} optimizers, got index {req.index}")
        e = self.entry(req.setup)
        self._check_cost([rules[req.index]], e, req.setup)
        return rules, rules[req.index], e

    def explain(self, req: ExplainRequest) -> dict:
        """The rule's Record at step ``req.step`` of optimizer ``req.index`` (replayed with
        ``Rule.apply``, exactly as the runner steps: same look-ahead, Hessian and noise)."""
        setup = req.setup
        rules, rule, e = self._one(req)
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
                check_deadline()

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
            rows.append({"field": "g", "symbol": "g", "value": nested(g0[0])})
            for f in rule.State._fields:
                v = getattr(st.state, f)
                rows.append(
                    {
                        "field": f,
                        "symbol": rule.symbols.get(f, f),
                        "value": nested(np.asarray(v, dtype=float)[..., 0, :] if np.ndim(v) >= 2 else v),
                    }
                )
            theta_before, theta_after = theta[0], theta[0]
        else:
            for f in rule.Record._fields:
                v = getattr(rec, f)
                if isinstance(v, (bool, np.bool_)) or (np.ndim(v) >= 1 and np.asarray(v).dtype == bool):
                    val = np.asarray(v).reshape(-1).tolist() if np.ndim(v) else bool(v)
                elif np.ndim(v) >= 2:
                    val = nested(np.asarray(v, dtype=float)[..., 0, :])
                else:
                    val = nested(v) if np.ndim(v) else jsonable(float(v))
                rows.append({"field": f, "symbol": rule.symbols.get(f, f), "value": val})
            theta_before, theta_after = theta[0], theta_next[0]
        return {
            "index": req.index,
            "label": self.labels(rules)[req.index],
            "name": rule.name,
            "title": rule.title,
            "source": rule.source,
            "step": t_end,
            "requested_step": req.step,
            "status": STATUS[res.status[0]],
            "stop_step": stop,
            "theta_before": nested(theta_before),
            "theta_after": nested(theta_after),
            "hyper": {k: jsonable(v) for k, v in rule.hyperparameters().items()},
            "rows": rows,
        }

    # -- the eigen-components and hyperparameter-map views ----------------------------------
    def _model(self, e: _Entry, near) -> dict:
        """The quadratic the theory speaks of: the function itself when its Hessian is constant
        (``kind`` "quadratic"), else the local quadratic model at the minimum nearest ``near``
        (``kind`` "local"), else ``kind`` None with a ``message`` saying why."""
        from ravine.analysis import constant_hessian, find_critical_points, quadratic_critical_point

        p = e.problem
        if not hasattr(e, "quadratic"):
            H = constant_hessian(p)
            e.quadratic = None
            if H is not None:
                with np.errstate(all="ignore"):
                    b = -np.asarray(p.grad(np.zeros(2)), float)
                cp = quadratic_critical_point(H, b)
                e.quadratic = (H, cp)
        if e.quadratic is not None:
            H, cp = e.quadratic
            if not cp.unique:
                return {"kind": None, "message": f"a quadratic with a singular Hessian: {cp.message}"}
            xs = np.where(np.abs(cp.point) < 1e-13, 0.0, cp.point) + 0.0  # no −0
            return {
                "kind": "quadratic",
                "hessian": H,
                "theta_star": xs,
                "f_star": float(p.f(xs)),
                "point_kind": cp.classification.kind,
                "message": f"f is a quadratic (constant Hessian); its {cp.classification.kind} θ* = "
                f"({xs[0]:.6g}, {xs[1]:.6g})",
            }
        near = np.asarray(near, float)
        cands = [np.asarray(m.point, float) for m in p.minima]
        if not cands and np.isfinite(near).all():
            check_deadline()
            cands = [r.point for r in find_critical_points(p, [near], max_iter=50) if r.kind == "minimum"]
        if not cands or not np.isfinite(near).all():
            return {"kind": None, "message": "f is not a quadratic and no minimum was found near the run"}
        xs = min(cands, key=lambda c: float(np.linalg.norm(c - near)))
        with np.errstate(all="ignore"):
            H = np.asarray(p.hessian(xs), float)
        H = 0.5 * (H + H.T)
        if not np.isfinite(H).all() or np.linalg.eigvalsh(H)[0] <= 0:
            return {"kind": None, "message": "f is not a quadratic; its Hessian at the nearest minimum is not positive"}
        return {
            "kind": "local",
            "hessian": H,
            "theta_star": xs,
            "f_star": float(p.f(xs)),
            "point_kind": "minimum",
            "message": f"f is not a quadratic: the local quadratic model ½(θ − θ*)ᵀH(θ − θ*) at the minimum "
            f"θ* = ({xs[0]:.6g}, {xs[1]:.6g}) nearest the run; the theory holds only near it",
        }

    def eigen(self, req: EigenRequest) -> dict:
        """|q_iᵀ(θ_t − θ*)| of optimizer ``req.index`` along each eigenvector q_i of H, and the
        linear rates ρ_i the theory gives for its η and β (:mod:`ravine.analysis.linear`)."""
        from ravine.analysis.linear import linear_form, no_linear_rate_reason

        setup = req.setup
        rules, rule, e = self._one(req)
        try:
            res = self._run_one(rule, e, setup)
        except ValueError as exc:
            raise BadRequest(f"optimizers[{req.index}]: {one_line(exc)}") from None
        theta = np.asarray(res.theta[:, 0], float)
        out = {
            "index": req.index,
            "label": self.labels(rules)[req.index],
            "name": rule.name,
            "hyper": {k: jsonable(v) for k, v in rule.hyperparameters().items()},
            "steps": int(setup.steps),
            "status": STATUS[res.status[0]],
            "stop_step": int(res.stop_step[0]),
        }
        model = self._model(e, theta[-1] if np.isfinite(theta[-1]).all() else theta[0])
        out.update(kind=model["kind"], message=model["message"])
        if model["kind"] is None:
            return out
        H, xs = model["hessian"], model["theta_star"]
        form = linear_form(rule)
        wd = form.weight_decay if form is not None else 0.0
        if wd:  # coupled decay: the decayed loss f + ½λ‖θ‖² has Hessian H + λI and its own θ*
            xs = xs - np.linalg.solve(H + wd * np.eye(2), wd * xs)
        lam, Q = np.linalg.eigh(H)
        with np.errstate(all="ignore"):
            comps = np.abs((theta - xs) @ Q)  # (steps + 1, 2): |q_iᵀ(θ_t − θ*)|
        out.update(
            theta_star=nested(xs),
            hessian=nested(H),
            eigenvalues=nested(lam),
            eigenvectors=nested(Q.T),  # row i is q_i
            components=[f64(comps[:, i]) for i in range(2)],
        )
        if form is None:
            out["theory"] = None
            out["no_theory"] = no_linear_rate_reason(rule)
        else:
            rates = form.rates(lam)
            out["theory"] = {
                "method": form.method,
                "lr": form.lr,
                "momentum": form.momentum,
                "weight_decay": wd,
                "rates": nested(rates),
                "formula": form.formula,
                "start": nested(comps[0]),
            }
            out["no_theory"] = None
        if setup.grad_noise > 0:
            out["message"] += "; with gradient noise the components stall at a noise floor"
        return out

    @staticmethod
    def _map_y(rule, name):
        """The map's second field: ``name``, or the rule's momentum / β₁, else ε, else None."""
        fields = field_map(type(rule).settable())
        if name is None:
            for cand in ("momentum", "beta1", "eps"):
                if cand in fields and cand in rule.h._fields:
                    return cand
            return None
        if name == "":
            return None
        f = fields.get(name)
        ok = [k for k, v in fields.items() if k != "lr" and v.kind.type == "real" and v.scale in ("log", "log1m")]
        if f is None or name not in ok:
            raise BadRequest(f"y: {rule.name} has no hyperparameter {name!r} to map; it has {', '.join(ok) or 'none'}")
        return name

    def hypermap(self, req: MapRequest) -> dict:
        """Final f − f* (or steps to ‖∇f‖ ≤ tol) over an (η, y) grid of optimizer ``req.index``,
        one batched :func:`ravine.run` (compiled once its kernel is), with the stability bounds
        of :mod:`ravine.analysis` on η as lines."""
        from ravine.analysis import heavy_ball_bound, nesterov_bound
        from ravine.analysis.linear import linear_form
        from ravine.rules.specialize import literals

        t0 = time.perf_counter()
        setup = req.setup
        rules, base, e = self._one(req)
        p = e.problem
        fields = field_map(type(base).settable())
        yname = self._map_y(base, req.y)
        n = req.n
        cells = n * n if yname else n
        if cells * setup.steps > LIMITS["max_map_work"]:
            raise BadRequest(
                f"map: cells × steps must be <= {LIMITS['max_map_work']}, got {n if yname else ''}"
                f"{' × ' if yname else ''}{n} cells × {setup.steps} steps = {cells * setup.steps} "
                "(a smaller n or fewer steps)"
            )
        model = self._model(e, setup.start)
        form = linear_form(base)
        wd = form.weight_decay if form is not None else 0.0
        L = None
        if model["kind"] is not None:
            L = float(np.linalg.eigvalsh(model["hessian"])[-1]) + wd
            L = L if L > 0 else None
        cur = base.hyperparameters()

        # the axes' ranges (values; checked by the rule) on the fields' own scales
        def default_range(name):
            v = float(cur[name])
            if name == "lr":
                ref = 2.0 / L if (L and form is not None) else v
                return (ref * 10**-2.5, ref * 10**0.8) if (L and form is not None) else (v * 1e-2, v * 10**1.5)
            if fields[name].scale == "log1m":
                return (1 - 10**-0.02, 1 - 10**-2.5)
            return (1e-10, 10.0)

        def axis(which, name, rng):
            lo, hi = rng if rng is not None else default_range(name)
            for v in (lo, hi):
                try:
                    base.with_hyper(**{name: v})
                except ValueError as exc:
                    raise BadRequest(f"{which}_range: {one_line(exc)}") from None
            scale = fields[name].scale
            if scale == "log1m":
                if not hi < 1:
                    raise BadRequest(f"{which}_range: {name} is mapped on log(1 − {name}), so it must be < 1")
                return np.sort(1 - np.logspace(np.log10(1 - lo), np.log10(1 - hi), m)), scale
            return np.logspace(np.log10(lo), np.log10(hi), m), scale

        key = ("map", type(base), literals(base.h), setup.grad_noise > 0)
        eligible = self.numba and base.elementwise and p.scalar_functions() is not None
        compiling = False
        if eligible and key not in e.warm and key not in e.broken:
            compiling = self._ask_compile(base, e, key, setup)
        compiled = eligible and key in e.warm
        m = n
        if not compiled:  # the NumPy path: a coarser grid that fits its budget
            per = max(setup.steps, 1)
            while m > 2 and (m * m if yname else m) * per > LIMITS["max_map_work_numpy"]:
                m -= 1
        xv, xscale = axis("x", "lr", req.x_range)
        yv, yscale = axis("y", yname, req.y_range) if yname else (None, None)
        values = {"lr": [float(v) for v in xv]}
        if yname:
            values[yname] = [float(v) for v in yv]
        try:
            cells_rules = grid(base, **values)  # lr outer, y inner
        except ValueError as exc:
            raise BadRequest(f"optimizers[{req.index}]: {one_line(exc)}") from None
        window = np.asarray(p.bounds, float)
        divergence = 1000.0 * float(np.max(np.abs(window)))
        tol = setup.tol if setup.tol is not None else (1e-6 if req.metric == "steps" else None)
        res = run(
            cells_rules,
            p if compiled else _guarded(p),
            starts=[setup.start],
            steps=setup.steps,
            tol=tol,
            divergence=divergence,
            record="final",
            grad_noise=setup.grad_noise,
            seed=setup.seed,
            backend="numba" if compiled else "numpy",
        )
        check_deadline()
        shape = (xv.size, yv.size) if yname else (xv.size,)
        status = res.status.reshape(shape)
        if model["kind"] == "quadratic" and model["point_kind"] == "minimum":
            f_ref, f_ref_kind = model["f_star"], "f(θ*)"
        elif p.f_min is not None:
            f_ref, f_ref_kind = float(p.f_min), "f_min (the known minimum)"
        else:
            fin = res.final_loss[np.isfinite(res.final_loss) & (res.status != DIVERGED)]
            f_ref, f_ref_kind = (float(fin.min()) if fin.size else 0.0), "the least final f on the map"
        if req.metric == "loss":
            vals = res.final_loss.reshape(shape).astype(float) - f_ref
        else:
            vals = np.where(status == CONVERGED, res.stop_step.reshape(shape), np.nan).astype(float)
        vals = np.where(status == DIVERGED, np.nan, vals)
        code = np.where(status == DIVERGED, 2, np.where(np.isfinite(vals), 0, 1))
        # rows per y value (what a heatmap's z is): transpose (lr, y) → (y, lr)
        if yname:
            vals, code = vals.T, code.T

        bounds = []
        where = " (local: the Hessian at the nearest minimum)" if model["kind"] == "local" else ""
        note = None if L is not None else model["message"]
        if L is not None and form is not None:
            if yname == "momentum":  # the edge η_max(β) over the map's β range
                ys = np.sort(1 - np.logspace(np.log10(1 - yv[0]), np.log10(1 - yv[-1]), 200))
                edges, forms = [], []
                for b in ys:
                    f_b = linear_form(base.with_hyper(lr=1.0, momentum=float(b)))
                    edge = nesterov_bound(L, b) if f_b.method == "nesterov" else heavy_ball_bound(L, b)
                    edges.append(edge / f_b.lr_scale)
                    forms.append(f_b)
                label = _bound_label(forms[-1], base)
                bounds.append({"label": f"{label}, L = {L:.4g}{where}", "x": nested(edges), "y": nested(ys)})
            else:  # one η: the edge for the current β
                if form.method == "nesterov":
                    edge = nesterov_bound(L, form.momentum)
                else:
                    edge = heavy_ball_bound(L, form.momentum)
                bounds.append(
                    {"label": f"{_bound_label(form, base)}, L = {L:.4g}{where}", "x": [edge / form.lr_scale], "y": None}
                )
        elif L is not None and yname == "beta1":
            note = (
                "no bound drawn: Adam's stability depends on its preconditioner P = √v̂ + ε, which changes "
                "along the run (Cohen et al. 2022: λmax(P⁻¹H) < (2 + 2β₁)/((1 − β₁)η))"
            )
        elif L is not None:
            note = f"no bound drawn: {base.name}'s step is not linear in the gradient"
        return {
            "index": req.index,
            "label": self.labels(rules)[req.index],
            "name": base.name,
            "metric": req.metric,
            "x": {"name": "lr", "scale": xscale, "values": f64(xv), "symbol": _symbol(base, "lr")},
            "y": None
            if not yname
            else {"name": yname, "scale": yscale, "values": f64(yv), "symbol": _symbol(base, yname)},
            "values": f64(vals),
            "status": code.tolist(),
            "current": {"lr": jsonable(cur["lr"]), **({yname: jsonable(cur[yname])} if yname else {})},
            "f_ref": f_ref,
            "f_ref_kind": f_ref_kind,
            "tol": tol,
            "steps": int(setup.steps),
            "divergence": divergence,
            "n": int(m),
            "requested_n": int(n),
            "coarse": bool(m < n),
            "compiling": compiling,
            "backend": res.backend,
            "model": {"kind": model["kind"], "message": model["message"], "lambda_max": L},
            "bounds": bounds,
            "note": note,
            "server_ms": round(1000 * (time.perf_counter() - t0), 3),
        }

    def meta(self) -> bytes:
        if self._meta is None:
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
            self._meta = encode(
                {
                    "version": __version__,
                    "optimizers": [rule_meta(n, c) for n, c in RULES.items()],
                    "problems": problems,
                    "limits": LIMITS,
                    # the colours, markers and contour map of every ravine picture (one home)
                    "palette": palette.as_dict(),
                }
            )
        return self._meta


def _symbol(rule, name: str) -> str:
    """The symbol of hyperparameter ``name`` (η, β, ε …) as :func:`describe` gives it."""
    for d in describe(type(rule)):
        if d["name"] == name:
            return d.get("symbol") or name
    return name


def _bound_label(form, rule) -> str:
    """The stability edge of a linear form, in words and symbols."""
    if form.method == "nesterov":
        return "Nesterov stability: η < 2(1 + β)/((1 + 2β)L)"
    if form.method == "gd":
        step = "η" if form.lr_scale == 1.0 else "η(1 − τ)"
        return f"GD stability: {step} < 2/L"
    if getattr(rule.h, "form", None) == "average":
        step = "η(1 − β)"
    else:
        step = "η" if form.lr_scale == 1.0 else "η(1 − τ)"
    return f"heavy-ball stability: {step} < 2(1 + β)/L"


def _numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True
