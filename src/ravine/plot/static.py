"""Static pictures of runs: contour maps, 3-D surfaces, loss curves, seed bands, step sizes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._figure import (
    Trace,
    _colors,
    _draw_paths,
    _f_star,
    _figure,
    _fontsize,
    _grid,
    _mark_minima,
    _problem,
    _save,
    _title,
    _window,
    curve_window,
    draw_background,
    draw_curve,
    marker_style,
    outcome,
    traces,
)


def contour(
    problem,
    runs=None,
    *,
    ax=None,
    path=None,
    bounds=None,
    levels=24,
    log=None,
    title=None,
    colors=None,
    legend=True,
    filled=True,
    figsize=None,
    dpi=None,
    legend_loc="best",
    markers=None,
):
    """Contour map of a 2-D problem with the trajectories in ``runs``.

    Parameters
    ----------
    problem : Problem or catalog name (2-D)
    runs : RunResult, list of RunResults, or mapping label → RunResult / (R, 2) array; None
        draws the map alone
    bounds : ((x0, x1), (y0, y1)) plotting window (default ``problem.bounds``)
    levels : number of contour levels; log-spaced (on f − min f) when ``log`` (default
        ``problem.log_levels``)
    title : None: what happened (:func:`ravine.plot.outcome`: "adam converges in 87 steps; sgd
        diverges at step 12"), then the problem's title
    figsize, dpi : None: the active style's (:func:`ravine.plot.style`)

    Start points are white circles, minima white stars (:mod:`ravine.plot.palette`); a path
    that leaves the window ends at the window's edge with a ✕ and its legend entry says at
    which step (and, when the runner marked it diverged, the step of divergence).
    """
    problem = _problem(problem)
    if problem.dim == 1:
        return curve1d(
            problem,
            runs,
            ax=ax,
            path=path,
            bounds=bounds,
            title=title,
            colors=colors,
            legend=legend,
            figsize=figsize,
            dpi=dpi,
            legend_loc=legend_loc,
        )
    if problem.dim != 2:
        raise ValueError(f"contour: needs a 1-D or 2-D problem, {problem.name} has dim {problem.dim}")
    window = _window(problem, bounds)
    fig, ax = _figure(ax, figsize)
    draw_background(ax, problem, window, levels=levels, log=log, filled=filled)
    _mark_minima(ax, problem, window)
    trs = traces(runs, problem) if runs is not None else []
    if trs:
        _draw_paths(ax, trs, window, _colors(trs, colors), markers=markers)
    ax.set_title(title if title is not None else _title(problem, trs, window), fontsize=_fontsize(10))
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=_fontsize(7.5), loc=legend_loc, framealpha=0.85)
    return _save(fig, path, dpi)


def curve1d(
    problem,
    runs=None,
    *,
    ax=None,
    path=None,
    bounds=None,
    title=None,
    colors=None,
    legend=True,
    figsize=None,
    dpi=None,
    legend_loc="best",
    n=400,
):
    """A 1-D problem's curve f(x) with each run's iterates (x_t, f(x_t)) joined in order.

    The lecture's gradient descent on f(x) = x² (lecture 002's ``gd(eta, f_grad)``) is the use:
    η = 0.05 creeps down one side, η = 1.1 bounces from side to side and climbs out. The
    window is widened to hold every iterate that stays finite, so a divergent run shows.
    """
    problem = _problem(problem)
    if problem.dim != 1:
        raise ValueError(f"curve1d: needs a 1-D problem, {problem.name} has dim {problem.dim}")
    trs = traces(runs, problem) if runs is not None else []
    lo, hi = curve_window(problem, bounds, trs)
    fig, ax = _figure(ax, figsize)
    draw_curve(ax, problem, lo, hi, n)
    pal = _colors(trs, colors)
    for tr in trs:
        x = tr.theta[:, 0]
        with np.errstate(all="ignore"):
            fx = problem.f(tr.theta)
        ok = np.isfinite(x) & np.isfinite(fx)
        c = pal[tr.label]
        ax.plot(
            x[ok],
            fx[ok],
            "-o",
            color=c,
            lw=1.0,
            ms=3.5,
            alpha=0.9,
            zorder=3,
            label=f"{tr.label} ({tr.steps[-1]} steps{', ' + tr.status if tr.status else ''})",
        )
        if ok.any():
            i0 = int(np.argmax(ok))
            ax.plot(x[i0], fx[i0], ls="none", **marker_style("start"), zorder=4)
    ax.set_title(title if title is not None else _title(problem, trs), fontsize=_fontsize(10))
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=_fontsize(7.5), loc=legend_loc, framealpha=0.85)
    return _save(fig, path, dpi)


# ------------------------------------------------------------------------------- surface


def surface3d(
    problem,
    runs=None,
    *,
    ax=None,
    path=None,
    bounds=None,
    log=None,
    title=None,
    colors=None,
    legend=True,
    elev=40,
    azim=-60,
    n=150,
    figsize=None,
    dpi=None,
    cmap="viridis",
):
    """The surface z = f(x, y) of a 2-D problem with the trajectories drawn on it.

    ``log`` (default ``problem.log_levels``) plots log₁₀(1 + f − f_min) so that valleys stay
    visible. Paths are cut where they leave the window (3-D axes do not clip), marked ✕.
    """
    problem = _problem(problem)
    if problem.dim != 2:
        raise ValueError(f"surface3d: needs a 2-D problem, {problem.name} has dim {problem.dim}")
    window = _window(problem, bounds)
    fig, ax = _figure(ax, figsize, projection="3d")
    ax.computed_zorder = False  # paths stay drawn above the surface
    log = problem.log_levels if log is None else log
    X, Y, Z = _grid(problem, window, n)
    finite = Z[np.isfinite(Z)]
    zmin = float(finite.min()) if finite.size else 0.0
    f_star = _f_star(problem)
    if f_star is not None:
        zmin = min(zmin, f_star)

    def tz(v):
        v = np.asarray(v, float)
        return np.log10(1.0 + np.maximum(v - zmin, 0.0)) if log else v

    def zf(pts):
        with np.errstate(all="ignore"):
            return tz(problem.f(np.asarray(pts, float)))

    ZT = tz(Z)
    if not log:  # keep the surface readable: cap the drawn height at the 98th percentile
        top = float(np.quantile(finite, 0.98)) if finite.size else 1.0
        ZT = np.where(ZT > top, np.nan, ZT)
    ax.plot_surface(X, Y, ZT, cmap=cmap, alpha=0.9, linewidth=0, antialiased=False, rstride=1, cstride=1)
    ax.contour(X, Y, ZT, levels=15, zdir="z", offset=np.nanmin(ZT), cmap=cmap, linewidths=0.6, alpha=0.6)
    zspan = float(np.nanmax(ZT) - np.nanmin(ZT)) or 1.0
    pts_min = [m.point for m in problem.minima if all(window[j, 0] <= m.point[j] <= window[j, 1] for j in range(2))]
    if pts_min:
        pm = np.asarray(pts_min)
        ax.plot(
            pm[:, 0],
            pm[:, 1],
            zf(pm) + 0.01 * zspan,
            ls="none",
            **marker_style("minimum"),
            label="minimum",
            zorder=12,
        )
    trs = traces(runs, problem) if runs is not None else []
    if trs:  # after the surface, lifted by 1 % of its height: drawn over it (computed_zorder off)
        _draw_paths(ax, trs, window, _colors(trs, colors), z=zf, zoff=0.01 * zspan)
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    ax.set_xlabel(problem.variables[0])
    ax.set_ylabel(problem.variables[1])
    ax.set_zlabel("log₁₀(1 + f − f_min)" if log else "f")
    ax.view_init(elev=elev, azim=azim)
    ax.set_title(title if title is not None else _title(problem, trs, window), fontsize=_fontsize(10))
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=_fontsize(7.5), loc="upper left")
    return _save(fig, path, dpi, quantize=False)  # a shaded surface needs more than 256 colours


# ------------------------------------------------------------------------------- loss curves


def loss_curves(
    runs,
    *,
    problem=None,
    ax=None,
    path=None,
    relative=None,
    title=None,
    colors=None,
    legend=True,
    figsize=None,
    dpi=None,
    ylabel=None,
):
    """Loss against step for every trajectory, on a log axis.

    ``relative``: plot f − f* (None: only when some loss is ≤ 0 and the minima are known).
    When losses are ≤ 0 and f* is unknown the axis is symlog. Runs that diverged end with ✕
    at the step of divergence. ``problem`` (default: the catalog problem named in the run)
    gives f*. ``title`` None: what happened (:func:`ravine.plot.outcome`); "" for none.
    """
    if problem is None:
        from ..runner import RunResult

        first = runs if isinstance(runs, RunResult) else (runs[0] if isinstance(runs, (list, tuple)) and runs else None)
        if isinstance(first, RunResult):
            try:
                problem = _problem(first.problem)
            except ValueError:
                problem = None
    else:
        problem = _problem(problem)
    trs = [t for t in traces(runs, problem) if t.loss is not None]
    if not trs:
        raise ValueError("loss_curves: no losses to draw")
    f_star = _f_star(problem)
    allv = np.concatenate([t.loss[np.isfinite(t.loss)] for t in trs]) if trs else np.zeros(0)
    nonpos = allv.size and (allv <= 0).any()
    if relative is None:
        relative = bool(nonpos and f_star is not None)
    if relative and f_star is None:
        raise ValueError("loss_curves: relative=True needs a problem with known minima (f*)")
    fig, ax = _figure(ax, figsize)
    colors = _colors(trs, colors)
    seen = set()
    for tr in trs:
        y = tr.loss - f_star if relative else tr.loss
        lab = tr.label if tr.label not in seen else None
        seen.add(tr.label)
        if tr.status == "diverged" and lab:
            lab += f" — diverged at step {tr.stop_step}"
        ax.plot(tr.steps, y, color=colors[tr.label], lw=1.5, label=lab)
        if tr.status == "diverged":
            ax.plot(tr.steps[-1], y[-1], marker="X", ms=9, color=colors[tr.label], mec="k", gid="diverged")
    vals = np.concatenate([(t.loss - f_star if relative else t.loss) for t in trs])
    vals = vals[np.isfinite(vals)]
    if vals.size and (vals > 0).all() or relative:
        ax.set_yscale("log", nonpositive="mask")
    else:
        pos = np.abs(vals[vals != 0])
        ax.set_yscale("symlog", linthresh=float(np.quantile(pos, 0.05)) if pos.size else 1.0)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel or ("f(θ) − f*" if relative else "f(θ)"))
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(title if title is not None else outcome(trs), fontsize=_fontsize(10))
    if legend:
        ax.legend(fontsize=_fontsize(7.5))
    return _save(fig, path, dpi)


# ------------------------------------------------------------------------------- seed bands


def seed_bands(
    histories: Mapping[str, Sequence],
    *,
    x=None,
    ax=None,
    path=None,
    log=None,
    xlabel="step",
    ylabel="loss",
    title=None,
    colors=None,
    legend=True,
    figsize=None,
    dpi=None,
):
    """Training curves over seeds, one band per label, in the statistics of the axis.

    On a linear axis: mean ± one standard deviation. On a log axis (the default when every
    value is > 0): the geometric mean ×/÷ the geometric standard deviation, i.e. mean ± std of
    log y — the band an arithmetic ± std would draw dips towards 0 (to 1e-5 and below) as soon
    as the spread is comparable to the mean, which on a log axis is no band at all.

    ``histories``: label → list of per-seed metric arrays (1-D; different lengths are
    allowed: statistics use the seeds still running at each index), or label → 2-D array
    (seeds × steps). ``x``: the common x values (default 0, 1, …). ``log``: log y axis.
    """
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("seed_bands: histories must be a non-empty mapping label → list of per-seed arrays")
    stats = {}
    for label, runs in histories.items():
        arrs = [
            np.asarray(r, dtype=float).ravel()
            for r in (runs if not isinstance(runs, np.ndarray) or runs.ndim > 1 else [runs])
        ]
        if not arrs or any(a.size == 0 for a in arrs):
            raise ValueError(f"seed_bands: {label!r} needs at least one non-empty array")
        L = max(a.size for a in arrs)
        M = np.full((len(arrs), L), np.nan)
        for i, a in enumerate(arrs):
            M[i, : a.size] = a
        stats[label] = (M, len(arrs))
    allv = np.concatenate([M[np.isfinite(M)] for M, _ in stats.values()])
    if log is None:
        log = bool(allv.size) and bool((allv > 0).all())
    import warnings

    for label, (M, n) in list(stats.items()):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if log:  # geometric: statistics of log y (non-positive values are not on the axis)
                L = np.log(np.where(M > 0, M, np.nan))
                m, s = np.nanmean(L, 0), np.nanstd(L, 0)
                stats[label] = (np.exp(m), np.exp(m - s), np.exp(m + s), n)
            else:
                m, s = np.nanmean(M, 0), np.nanstd(M, 0)
                stats[label] = (m, m - s, m + s, n)
    fig, ax = _figure(ax, figsize)
    pal = _colors([Trace(k, np.zeros((1, 1)), np.zeros(1), None) for k in stats], colors)
    what = "geometric mean ×/÷ std" if log else "mean ± std"
    for label, (mean, lo, hi, n) in stats.items():
        xs = np.arange(mean.size) if x is None else np.asarray(x, float)[: mean.size]
        if xs.size != mean.size:
            raise ValueError(f"seed_bands: x has {xs.size} values but {label!r} has {mean.size}")
        c = pal[label]
        ax.plot(xs, mean, color=c, lw=1.6, label=f"{label} ({what}, {n} seeds)")
        ax.fill_between(xs, lo, hi, color=c, alpha=0.2, lw=0, gid=f"band:{label}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if title is not None:
        ax.set_title(title, fontsize=_fontsize(10))
    if legend:
        ax.legend(fontsize=_fontsize(7.5))
    return _save(fig, path, dpi)


# ------------------------------------------------------------------------------- step sizes


def step_sizes(
    runs, *, ax=None, path=None, title=None, colors=None, reference=None, legend=True, figsize=None, dpi=None
):
    """‖Δθ_t‖₂ = ‖θ_t − θ_{t−1}‖ against t on log–log axes (from the recorded θ).

    ``reference``: optional mapping label → callable t ↦ value drawn dashed (e.g.
    η/√t for Adagrad's decay).
    """
    trs = traces(runs)
    fig, ax = _figure(ax, figsize)
    colors = _colors(trs, colors)
    seen = set()
    for tr in trs:
        if len(tr.steps) < 2:
            continue
        d = np.linalg.norm(np.diff(tr.theta, axis=0), axis=-1)
        t = tr.steps[1:]
        lab = tr.label if tr.label not in seen else None
        seen.add(tr.label)
        ax.plot(t, d, color=colors[tr.label], lw=1.4, label=lab)
    if reference:
        tmax = max(int(tr.steps[-1]) for tr in trs)
        tt = np.arange(1, max(tmax, 2) + 1)
        for lab, fn in reference.items():
            ax.plot(tt, [fn(t) for t in tt], "k--", lw=1, alpha=0.7, label=lab)
    ax.set_xscale("log")
    ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel("step t")
    ax.set_ylabel("step size ‖Δθ_t‖")
    ax.grid(True, which="major", alpha=0.3)
    if title is not None:
        ax.set_title(title, fontsize=_fontsize(10))
    if legend:
        ax.legend(fontsize=_fontsize(7.5))
    return _save(fig, path, dpi)


# ------------------------------------------------------------------------------- heatmap
