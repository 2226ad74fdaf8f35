"""The NumPy backend: a rule's ``update`` on the whole ``(starts, dim)`` array at once."""

from __future__ import annotations

import numpy as np

from ..rules import NonFiniteGradientError, Rule
from ..rules.base import masked, masked_state, nonfinite_parts, outcome
from .result import CONVERGED, DIVERGED, MAX_STEPS, RUNNING


def _run_group_numpy(
    rule: Rule, problem, starts, steps, tol, divergence, rec_steps, keep_state, noise, sched, maximize, nonfinite
):
    """The reference path: the rule on (S, D) arrays, one step at a time."""
    S, D = starts.shape
    dtype = starts.dtype
    theta = starts.copy()
    state = rule.init_state(rule.h, theta)
    status = np.full(S, RUNNING, dtype=np.int8)
    stop_step = np.full(S, steps, dtype=np.int64)
    R = len(rec_steps)
    rec_pos = {int(s): i for i, s in enumerate(rec_steps)}
    out_theta = np.empty((R, S, D), dtype=dtype)
    out_loss = np.empty((R, S), dtype=dtype)
    out_gn = np.empty((R, S), dtype=dtype)
    out_state = {
        f: np.empty((R, S, D), dtype=dtype)
        for f in rule.State._fields
        if keep_state and np.shape(getattr(state, f)) == (S, D)
    }
    sign = -1.0 if maximize else 1.0
    needs_h = "hessian" in rule.needs
    lookahead = "lookahead" in rule.needs

    def grad_at(x, t):
        with np.errstate(all="ignore"):
            g = sign * problem.grad(x)
        if noise is not None:
            g = g + noise[t - 1]
        return g

    def record(ri, x, g):
        with np.errstate(all="ignore"):
            out_theta[ri] = x
            out_loss[ri] = problem.f(x)
            out_gn[ri] = np.sqrt((g * g).sum(-1)) if g is not None else np.sqrt((problem.grad(x) ** 2).sum(-1))
        for f in out_state:
            out_state[f][ri] = getattr(state, f)

    g0 = None
    with np.errstate(all="ignore"):
        g0 = sign * problem.grad(theta)
        gnorm0 = np.sqrt((g0 * g0).sum(-1))
    if tol is not None:
        status[gnorm0 <= tol] = CONVERGED
        stop_step[gnorm0 <= tol] = 0
    if 0 in rec_pos:
        record(rec_pos[0], theta, g0)

    for t in range(1, steps + 1):
        active = status == RUNNING
        if not active.any():
            for s in rec_steps[rec_steps >= t]:
                record(rec_pos[int(s)], theta, None)
            break
        h = rule.h._replace(**{k: v[t - 1] for k, v in sched.items()}) if sched else rule.h
        k = rule.terms(h, t)
        x_eval = rule.lookahead(h, state, theta) if lookahead else theta
        g = grad_at(x_eval, t)
        finite = np.isfinite(g).all(-1)
        if nonfinite == "raise" and not finite[active].all():
            raise NonFiniteGradientError(f"run: non-finite gradient at step {t} (nonfinite='raise')")
        with np.errstate(all="ignore"):
            if needs_h:
                H = sign * problem.hessian(theta)
                rec = rule.update(h, state, g, theta, k, H)
            else:
                rec = rule.update(h, state, g, theta, k)
            new_theta, new_state = outcome(rule.State, rec, theta)
            within = (np.abs(new_theta) <= divergence).all(-1)  # False for NaN
        if nonfinite in ("raise", "skip"):  # also what a finite g produced: an overflow in θ or the state
            made = _finite_rows(new_theta, S)
            for v in new_state:
                made &= _finite_rows(v, S)
            if nonfinite == "raise" and not made[active].all():
                i = int(np.flatnonzero(active & ~made)[0])
                parts = nonfinite_parts(new_theta[i], rule.State(*(_row(v, i, S) for v in new_state)))
                raise NonFiniteGradientError(
                    f"run: a finite gradient gave non-finite {', '.join(parts)} at step {t} "
                    f"(trajectory {i}; an overflow; nonfinite='raise')"
                )
            finite = finite & made
        step = active & finite if nonfinite == "skip" else active
        blow = step & ~within
        status[blow] = DIVERGED
        stop_step[blow] = t
        theta = masked((step & within)[:, None], new_theta, theta)
        state = masked_state(step[:, None], new_state, state)  # (S, 1) fits (S, D) and (W, S, D) windows
        ok = step & within
        if tol is not None or t in rec_pos:
            with np.errstate(all="ignore"):
                g_new = sign * problem.grad(theta)
                gn = np.sqrt((g_new * g_new).sum(-1))
            if tol is not None:
                conv = ok & (gn <= tol)
                status[conv] = CONVERGED
                stop_step[conv] = t
            if t in rec_pos:
                record(rec_pos[t], theta, g_new)
    status[status == RUNNING] = MAX_STEPS
    return dict(theta=out_theta, loss=out_loss, grad_norm=out_gn, status=status, stop_step=stop_step, state=out_state)


def _finite_rows(x, S):
    """Per trajectory, every entry of a step's result finite: ``x`` is (S, D), a (W, S, D)
    window, or a scalar placeholder."""
    x = np.asarray(x)
    if x.ndim == 0:
        return np.full(S, bool(np.isfinite(x)))
    fin = np.isfinite(x)
    return fin.all(-1) if x.ndim == 2 else fin.all(axis=tuple(a for a in range(x.ndim) if a != 1))


def _row(x, i, S):
    """Trajectory i of a State field (the shapes of :func:`_finite_rows`)."""
    x = np.asarray(x)
    return x if x.ndim == 0 else (x[i] if x.ndim == 2 else x[:, i])
