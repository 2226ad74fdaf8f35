"""The explorer's computations, usable without HTTP (perf, tests): :class:`Explorer`.

It keeps a small LRU cache of problems (:mod:`~ravine.explorer.problems`), runs every
optimizer through :func:`ravine.run` (on a compiled kernel once one is:
:mod:`~ravine.explorer.compiling`), replays one step with ``Rule.apply`` for
``/api/explain``, and hands the eigen-components and the hyperparameter map to
:mod:`~ravine.explorer.eigen` and :mod:`~ravine.explorer.hypermap`, ``/api/meta`` to
:mod:`~ravine.explorer.meta`. Every request's work and memory are bounded, and it runs under
a deadline (:mod:`~ravine.explorer.limits`).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from ravine._json import jsonable
from ravine.plot._figure import visible_part
from ravine.runner import STATUS, RunResult, run

from . import eigen as _eigen
from . import hypermap as _hypermap
from . import meta as _meta
from .compiling import Kernels, numba_available
from .encode import encode, f32, nested
from .limits import BadRequest, check_cost, check_deadline, check_setup, guarded, one_line, under_deadline
from .problems import Entry, ProblemCache, problem_info
from .schemas import LIMITS, EigenRequest, ExplainRequest, MapRequest, ProblemSpec, RunSetup

__all__ = ["Explorer"]


class Explorer:
    """The computations behind the endpoints, usable without HTTP (perf, tests).

    ``numba``: use compiled kernels (when numba is installed); ``background``: compile them in
    a thread, else in the request that first needs one; ``cache_size``: problems kept."""

    def __init__(self, *, numba: bool = True, background: bool = True, cache_size: int = 32):
        self.numba = numba and numba_available()
        self.background = background
        self._closing = threading.Event()
        self.problems = ProblemCache(cache_size, self._closing)
        self.kernels = Kernels(numba=self.numba, background=background, closing=self._closing)
        self._meta: bytes | None = None

    def close(self):
        """Stop: computations in flight end at their next check, queued compiles are dropped."""
        self._closing.set()
        self.kernels.close()

    @property
    def closing(self) -> bool:
        """True once :meth:`close` was called (the server is stopping)."""
        return self._closing.is_set()

    def call(self, fn, *args, seconds: float | None = None):
        """``fn(*args)`` under a deadline of ``seconds`` (``LIMITS["request_seconds"]``)."""
        limit = LIMITS["request_seconds"] if seconds is None else seconds
        return under_deadline(fn, args, limit, self._closing)

    # -- problems --------------------------------------------------------------------------
    def entry(self, spec: ProblemSpec) -> Entry:
        return self.problems.entry(spec)

    def problem_info(self, spec: ProblemSpec) -> dict:
        return problem_info(self.entry(spec), spec)

    # -- optimizers ------------------------------------------------------------------------
    @staticmethod
    def labels(rules) -> list[str]:
        """The rules' names, numbered from the second of a name on (``adam``, ``adam#2``)."""
        out, seen = [], {}
        for r in rules:
            seen[r.name] = seen.get(r.name, 0) + 1
            out.append(r.name if seen[r.name] == 1 else f"{r.name}#{seen[r.name]}")
        return out

    def run_one(self, rule, e: Entry, setup: RunSetup) -> RunResult:
        """One rule's run, on its compiled kernel when it is warm (a failing kernel: NumPy from
        then on), else on NumPy under the deadline, asking for the kernel afterwards."""
        kw = dict(
            starts=[setup.start],
            steps=setup.steps,
            record="all",
            tol=setup.tol,
            grad_noise=setup.grad_noise,
            seed=setup.seed,
        )
        p = e.problem
        key = self.kernels.key(rule, p, setup)
        if key is not None and key in e.warm:
            try:
                return run([rule], p, backend="numba", **kw)
            except ValueError:
                raise
            except Exception:  # a compiler problem: NumPy from now on
                self.kernels.failed(e, key)
        out = run([rule], guarded(p), backend="numpy", **kw)
        if key is not None:
            self.kernels.ask(rule, e, key, setup)
        return out

    def results(self, setup: RunSetup):
        rules = check_setup(setup)
        e = self.entry(setup)
        check_cost(rules, e.problem, setup)
        out = []
        for i, r in enumerate(rules):
            try:
                out.append(self.run_one(r, e, setup))
            except ValueError as exc:
                raise BadRequest(f"optimizers[{i}]: {one_line(exc)}") from None
        return rules, e, out

    def run(self, setup: RunSetup) -> dict:
        t0 = time.perf_counter()
        rules, e, results = self.results(setup)
        p = e.problem
        labels = self.labels(rules)
        window = np.asarray(setup.bounds or p.bounds, dtype=float)
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
                    "exit": _exit(theta, window),
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

    def select(self, req):
        """The setup's rules, optimizer ``req.index`` of them and the problem, all checked."""
        rules = check_setup(req.setup)
        if req.index >= len(rules):
            raise BadRequest(f"index: there are {len(rules)} optimizers, got index {req.index}")
        e = self.entry(req.setup)
        check_cost([rules[req.index]], e.problem, req.setup)
        return rules, rules[req.index], e

    def explain(self, req: ExplainRequest) -> dict:
        """The rule's Record at step ``req.step`` of optimizer ``req.index`` (replayed with
        ``Rule.apply``, exactly as the runner steps: same look-ahead, Hessian and noise)."""
        setup = req.setup
        rules, rule, e = self.select(req)
        p = e.problem
        res = self.run_one(rule, e, setup)
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

    # -- the eigen-components and hyperparameter-map views, the meta ----------------------
    def eigen(self, req: EigenRequest) -> dict:
        """:func:`ravine.explorer.eigen.eigen`."""
        return _eigen.eigen(self, req)

    def hypermap(self, req: MapRequest) -> dict:
        """:func:`ravine.explorer.hypermap.hypermap`."""
        return _hypermap.hypermap(self, req)

    def meta(self) -> bytes:
        """``/api/meta``'s answer (:func:`ravine.explorer.meta.meta`), encoded once."""
        if self._meta is None:
            self._meta = encode(_meta.meta())
        return self._meta


def _exit(theta: np.ndarray, window: np.ndarray) -> dict | None:
    """Where a path leaves the plotting window for good (the static plots' cut,
    :func:`ravine.plot._figure.visible_part`): ``{"step": k, "x", "y"}`` with k the first
    step outside (or not finite) and (x, y) the crossing of the window's edge; None when the
    path ends inside."""
    pts, k = visible_part(theta, window)
    if k is None:
        return None
    return {"step": int(k), "x": float(pts[-1, 0]), "y": float(pts[-1, 1])}
