"""``/api/map``: final f − f* (or steps to ‖∇f‖ ≤ tol) over an (η, y) grid of one optimizer,
one batched :func:`ravine.run` (compiled once its kernel is), with the stability bounds of
:mod:`ravine.analysis` on η as lines.

:func:`hypermap` is a sequence of named steps: the second field (:func:`map_y`), the work
bound, the quadratic model's λmax, the kernel, the grid's side, the axes (:func:`axis`), the
batched run (:func:`run_grid`), the reference value (:func:`reference`), the cells' values and
codes (:func:`cells`) and the bounds drawn (:func:`stability_bounds`)."""

from __future__ import annotations

import time

import numpy as np

from ravine._json import jsonable
from ravine.rules.hyper import describe, field_map
from ravine.runner import CONVERGED, DIVERGED, grid, run

from .encode import f64, nested
from .limits import BadRequest, check_deadline, guarded, one_line
from .problems import quadratic_model
from .schemas import LIMITS, MapRequest

__all__ = ["hypermap", "map_y"]


def map_y(rule, name):
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


def _check_work(n: int, yname, steps: int) -> None:
    """cells × steps is at most ``max_map_work``."""
    cells = n * n if yname else n
    if cells * steps > LIMITS["max_map_work"]:
        raise BadRequest(
            f"map: cells × steps must be <= {LIMITS['max_map_work']}, got {n if yname else ''}"
            f"{' × ' if yname else ''}{n} cells × {steps} steps = {cells * steps} "
            "(a smaller n or fewer steps)"
        )


def _lambda_max(model: dict, wd: float) -> float | None:
    """λmax of the model's Hessian (+ the coupled decay ``wd``), None without a positive one."""
    if model["kind"] is None:
        return None
    L = float(np.linalg.eigvalsh(model["hessian"])[-1]) + wd
    return L if L > 0 else None


def _numpy_side(n: int, yname, steps: int) -> int:
    """The NumPy path's grid side: ``n`` or less, so that its cells fit ``max_map_work_numpy``."""
    m = n
    per = max(steps, 1)
    while m > 2 and (m * m if yname else m) * per > LIMITS["max_map_work_numpy"]:
        m -= 1
    return m


def _default_range(base, name: str, L, form) -> tuple[float, float]:
    """An axis's range when the request gives none, on the field's own scale."""
    v = float(base.hyperparameters()[name])
    if name == "lr":
        ref = 2.0 / L if (L and form is not None) else v
        return (ref * 10**-2.5, ref * 10**0.8) if (L and form is not None) else (v * 1e-2, v * 10**1.5)
    if field_map(type(base).settable())[name].scale == "log1m":
        return (1 - 10**-0.02, 1 - 10**-2.5)
    return (1e-10, 10.0)


def axis(base, which: str, name: str, rng, m: int, L, form):
    """``m`` values of field ``name`` over ``rng`` (else :func:`_default_range`), both ends
    checked by the rule, log-spaced on the field's scale (log, or log(1 − v)); and the scale."""
    lo, hi = rng if rng is not None else _default_range(base, name, L, form)
    for v in (lo, hi):
        try:
            base.with_hyper(**{name: v})
        except ValueError as exc:
            raise BadRequest(f"{which}_range: {one_line(exc)}") from None
    scale = field_map(type(base).settable())[name].scale
    if scale == "log1m":
        if not hi < 1:
            raise BadRequest(f"{which}_range: {name} is mapped on log(1 − {name}), so it must be < 1")
        return np.sort(1 - np.logspace(np.log10(1 - lo), np.log10(1 - hi), m)), scale
    return np.logspace(np.log10(lo), np.log10(hi), m), scale


def run_grid(base, req: MapRequest, problem, xv, yv, yname, compiled: bool):
    """One batched run of ``base`` over the grid (lr outer, y inner); the result, the tolerance
    and the divergence threshold (1000 × the problem's window)."""
    setup = req.setup
    values = {"lr": [float(v) for v in xv]}
    if yname:
        values[yname] = [float(v) for v in yv]
    try:
        cells_rules = grid(base, **values)  # lr outer, y inner
    except ValueError as exc:
        raise BadRequest(f"optimizers[{req.index}]: {one_line(exc)}") from None
    window = np.asarray(problem.bounds, float)
    divergence = 1000.0 * float(np.max(np.abs(window)))
    tol = setup.tol if setup.tol is not None else (1e-6 if req.metric == "steps" else None)
    res = run(
        cells_rules,
        problem if compiled else guarded(problem),
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
    return res, tol, divergence


def reference(model: dict, problem, res) -> tuple[float, str]:
    """f* the map's losses are measured from, and what it is."""
    if model["kind"] == "quadratic" and model["point_kind"] == "minimum":
        return model["f_star"], "f(θ*)"
    if problem.f_min is not None:
        return float(problem.f_min), "f_min (the known minimum)"
    fin = res.final_loss[np.isfinite(res.final_loss) & (res.status != DIVERGED)]
    return (float(fin.min()) if fin.size else 0.0), "the least final f on the map"


def cells(res, metric: str, f_ref: float, shape, yname):
    """The cells' values (f − f*, or the step of convergence) and codes (0 a value, 1 none,
    2 diverged), in rows per y value (what a heatmap's z is)."""
    status = res.status.reshape(shape)
    if metric == "loss":
        vals = res.final_loss.reshape(shape).astype(float) - f_ref
    else:
        vals = np.where(status == CONVERGED, res.stop_step.reshape(shape), np.nan).astype(float)
    vals = np.where(status == DIVERGED, np.nan, vals)
    code = np.where(status == DIVERGED, 2, np.where(np.isfinite(vals), 0, 1))
    if yname:  # transpose (lr, y) → (y, lr)
        vals, code = vals.T, code.T
    return vals, code


def _point(v) -> str:
    return "(" + ", ".join(f"{float(c):.4g}" for c in v) + ")"


def local_note(model: dict, L: float, problem, start, wd: float) -> str:
    """What a bound drawn from the local quadratic model means on a function that is not a
    quadratic: where the model is taken (the minimum θ* nearest the start), and the curvature at
    the start, which differs (Rosenbrock: λmax 1506 at (−1.2, 1), 1002 at θ* = (1, 1)), so the
    map's edge between converged and diverged cells need not follow the line."""
    note = (
        f"the dashed line is the bound of the local quadratic model at the minimum θ* = "
        f"{_point(model['theta_star'])} (L = λmax of the Hessian there = {L:.4g}), not of f"
    )
    with np.errstate(all="ignore"):
        H0 = np.asarray(problem.hessian(np.asarray(start, float)), float)
    if np.isfinite(H0).all():
        L0 = float(np.linalg.eigvalsh(0.5 * (H0 + H0.T))[-1]) + wd
        note += (
            f": elsewhere f's curvature differs (λmax = {L0:.4g} at the start θ₀ = {_point(start)}), "
            "so the edge of the diverged cells need not follow the line"
        )
    return note


def stability_bounds(base, form, L, model: dict, yname, yv) -> tuple[list, str | None]:
    """The stability edges on η drawn on the map (:func:`heavy_ball_bound`,
    :func:`nesterov_bound`), and a note when none is drawn.

    Each bound is ``{"label", "x", "y", "model", "at"}``: ``model`` is "quadratic" (f is one:
    the bound is exact) or "local" (the quadratic model at the minimum ``at`` nearest the start;
    the label says so, as "local quadratic at θ* = (1, 1): GD stability: η < 2/L, L = 1002")."""
    from ravine.analysis import heavy_ball_bound, nesterov_bound
    from ravine.analysis.linear import linear_form

    bounds = []
    local = model["kind"] == "local"
    where = f"local quadratic at θ* = {_point(model['theta_star'])}: " if local else ""
    at = nested(model["theta_star"]) if model["kind"] is not None else None
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
            bounds.append(
                {
                    "label": f"{where}{label}, L = {L:.4g}",
                    "x": nested(edges),
                    "y": nested(ys),
                    "model": model["kind"],
                    "at": at,
                }
            )
        else:  # one η: the edge for the current β
            if form.method == "nesterov":
                edge = nesterov_bound(L, form.momentum)
            else:
                edge = heavy_ball_bound(L, form.momentum)
            bounds.append(
                {
                    "label": f"{where}{_bound_label(form, base)}, L = {L:.4g}",
                    "x": [edge / form.lr_scale],
                    "y": None,
                    "model": model["kind"],
                    "at": at,
                }
            )
    elif L is not None and yname == "beta1":
        note = (
            "no bound drawn: Adam's stability depends on its preconditioner P = √v̂ + ε, which changes "
            "along the run (Cohen et al. 2022: λmax(P⁻¹H) < (2 + 2β₁)/((1 − β₁)η))"
        )
    elif L is not None:
        note = f"no bound drawn: {base.name}'s step is not linear in the gradient"
    return bounds, note


def hypermap(explorer, req: MapRequest) -> dict:
    """Final f − f* (or steps to ‖∇f‖ ≤ tol) over an (η, y) grid of optimizer ``req.index``,
    one batched :func:`ravine.run` (compiled once its kernel is), with the stability bounds
    of :mod:`ravine.analysis` on η as lines."""
    from ravine.analysis.linear import linear_form

    t0 = time.perf_counter()
    setup = req.setup
    rules, base, e = explorer.select(req)
    p = e.problem
    yname = map_y(base, req.y)
    n = req.n
    _check_work(n, yname, setup.steps)
    model = quadratic_model(e, setup.start)
    form = linear_form(base)
    L = _lambda_max(model, form.weight_decay if form is not None else 0.0)
    cur = base.hyperparameters()

    kernels = explorer.kernels
    key = kernels.key(base, p, setup, map=True)
    compiling = key is not None and kernels.ask(base, e, key, setup)
    compiled = key is not None and key in e.warm
    m = n if compiled else _numpy_side(n, yname, setup.steps)  # NumPy: a coarser grid

    xv, xscale = axis(base, "x", "lr", req.x_range, m, L, form)
    yv, yscale = axis(base, "y", yname, req.y_range, m, L, form) if yname else (None, None)
    res, tol, divergence = run_grid(base, req, p, xv, yv, yname, compiled)
    f_ref, f_ref_kind = reference(model, p, res)
    shape = (xv.size, yv.size) if yname else (xv.size,)
    vals, code = cells(res, req.metric, f_ref, shape, yname)
    bounds, note = stability_bounds(base, form, L, model, yname, yv)
    if bounds and model["kind"] == "local":
        note = local_note(model, L, p, setup.start, form.weight_decay)
    return {
        "index": req.index,
        "label": explorer.labels(rules)[req.index],
        "name": base.name,
        "metric": req.metric,
        "x": {"name": "lr", "scale": xscale, "values": f64(xv), "symbol": _symbol(base, "lr")},
        "y": None if not yname else {"name": yname, "scale": yscale, "values": f64(yv), "symbol": _symbol(base, yname)},
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
