"""Static pictures of optimizer runs (matplotlib; imported only here, never by ``import ravine``).

Every function returns the matplotlib :class:`~matplotlib.figure.Figure` and saves it when
given ``path``. Figures are built without pyplot on the Agg canvas, so saving works on any
machine (no display, no global backend switch); pass ``ax=`` to draw into an axes of your own.

* :func:`contour` -- a 2-D problem's contour map with the trajectories of several optimizers
  (legend, start points and minima marked; log-spaced levels where ``problem.log_levels``).
* :func:`surface3d` -- the surface z = f(x, y) with the paths drawn on it.
* :func:`loss_curves` -- loss against step on a log axis (f − f* where f ≤ 0 occurs and the
  minima are known, else a symlog axis).
* :func:`seed_bands` -- training curves, mean ± std over seeds (label → list of per-seed arrays).
* :func:`heatmap` -- final loss or steps-to-tolerance over a grid of two hyperparameters,
  computed by the vectorized runner (:func:`ravine.runner.grid` + :func:`ravine.run`), with the
  stability bounds of :class:`ravine.analysis.QuadraticRates` drawn over it on quadratics.
* :func:`step_sizes` -- ‖Δθ_t‖ against t (Adagrad's vanishing step beside RMSProp's).

No hidden clipping: numbers are never clipped. A trajectory that leaves the plotting window is
drawn up to the point where it crosses the window's edge, and that point is marked (✕) with the
step and, when the runner marked it diverged, the step of divergence. Excursions that come back
are drawn and clipped to the axes by matplotlib.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["contour", "surface3d", "loss_curves", "seed_bands", "heatmap", "step_sizes",
           "Trace", "traces", "COLORS"]

#: colours by label order (colour-blind-friendly Tableau/Okabe-Ito mix)
COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#17becf", "#7f7f7f", "#bcbd22"]


# ------------------------------------------------------------------------------- helpers

def _figure(ax=None, figsize=(6.4, 4.8), projection=None):
    """(fig, ax): a fresh Agg-backed Figure, or ``ax``'s figure."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    if projection == "3d":
        import mpl_toolkits.mplot3d  # noqa: F401  (registers the projection)
    ax = fig.add_subplot(projection=projection)
    return fig, ax


def new_figure(nrows=1, ncols=1, figsize=(6.4, 4.8), **kw):
    """A fresh Agg-backed Figure with a grid of axes (``Figure.subplots``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _save(fig, path, dpi=100, quantize=True):
    if path is not None:
        path = Path(path)
        if path.suffix.lower() not in (".png", ".svg", ".pdf", ".jpg", ".jpeg"):
            raise ValueError(f"path: picture files must end in .png, .svg, .pdf or .jpg, got {path.name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".png" and quantize:
            _save_png(fig, path, dpi)
        else:
            fig.savefig(path, dpi=dpi)
    return fig


def _save_png(fig, path, dpi):
    """PNG on a 256-colour palette (a few times smaller than RGBA; no visible change)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    buf.seek(0)
    with Image.open(buf) as im:
        im = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                        dither=Image.Dither.NONE)
        im.save(path, optimize=True)


def _problem(problem):
    from .problems import Problem, get_problem

    if isinstance(problem, str):
        return get_problem(problem)
    if not isinstance(problem, Problem):
        raise ValueError(f"problem: expected a Problem or a problem name, got {problem!r}")
    return problem


def _f_star(problem) -> float | None:
    if problem is not None and problem.minima:
        return float(min(m.value for m in problem.minima))
    return None


@dataclass
class Trace:
    """One trajectory to draw: θ (R, D) at ``steps`` (R,), its ``loss`` (R,) and ``status``."""

    label: str
    theta: np.ndarray
    steps: np.ndarray
    loss: np.ndarray | None
    status: str = "unknown"
    stop_step: int | None = None


def traces(runs, problem=None) -> list[Trace]:
    """Normalize what the plot functions accept into a list of :class:`Trace`.

    ``runs``: a :class:`ravine.RunResult`; a list of them; or a mapping label → RunResult or
    label → array of points (R, D) (each a trajectory recorded at steps 0..R−1). Records after a
    trajectory stopped (the runner repeats its frozen last point) are dropped.
    """
    from .runner import STATUS, RunResult

    out: list[Trace] = []

    def add_result(res: RunResult, prefix=None):
        for i in range(len(res.labels)):
            stop = int(res.stop_step[i])
            keep = res.steps <= stop
            if not keep.any():
                keep[:1] = True
            label = res.labels[i] if prefix is None else prefix
            out.append(Trace(label=str(label), theta=np.asarray(res.theta[keep, i], float),
                             steps=np.asarray(res.steps[keep]), loss=np.asarray(res.loss[keep, i], float),
                             status=STATUS[int(res.status[i])], stop_step=stop))

    if isinstance(runs, RunResult):
        add_result(runs)
    elif isinstance(runs, Mapping):
        for label, v in runs.items():
            if isinstance(v, RunResult):
                add_result(v, prefix=label if len(set(v.labels)) == 1 else None)
            else:
                a = np.asarray(v, dtype=float)
                if a.ndim == 1:
                    a = a[:, None]
                if a.ndim != 2 or a.shape[0] == 0:
                    raise ValueError(f"runs[{label!r}]: expected an array of points (R, D), got shape {a.shape}")
                loss = None
                if problem is not None and a.shape[1] == problem.dim:
                    with np.errstate(all="ignore"):
                        loss = np.asarray(problem.f(a), float)
                out.append(Trace(label=str(label), theta=a, steps=np.arange(a.shape[0]), loss=loss))
    elif isinstance(runs, (list, tuple)):
        for r in runs:
            if not isinstance(r, RunResult):
                raise ValueError(f"runs: expected RunResults in the list, got {type(r).__name__}")
            add_result(r)
    else:
        raise ValueError("runs: expected a RunResult, a list of RunResults or a mapping "
                         f"label → RunResult/array, got {type(runs).__name__}")
    if not out:
        raise ValueError("runs: nothing to draw")
    return out


def _colors(trs: Sequence[Trace], colors=None) -> dict[str, str]:
    labels = list(dict.fromkeys(t.label for t in trs))
    if isinstance(colors, Mapping):
        return {lab: colors.get(lab, COLORS[i % len(COLORS)]) for i, lab in enumerate(labels)}
    pal = list(colors) if colors is not None else COLORS
    return {lab: pal[i % len(pal)] for i, lab in enumerate(labels)}


def _window(problem, bounds=None):
    b = problem.bounds if bounds is None else bounds
    b = np.asarray(b, dtype=float)
    if b.shape != (problem.dim, 2) or not np.isfinite(b).all() or (b[:, 0] >= b[:, 1]).any():
        raise ValueError(f"bounds: expected {problem.dim} (low, high) pairs with low < high, got {bounds!r}")
    return b


def visible_part(xy: np.ndarray, window: np.ndarray):
    """The drawable part of a path: ``(points, exit_index)``.

    If the path ends outside ``window`` (or becomes non-finite), it is cut where it last
    leaves the window: the returned points end at the crossing of the window's edge and
    ``exit_index`` is the index of the first point outside (else ``None``). Points are never
    moved otherwise; excursions that return stay in (the axes clip them).
    """
    xy = np.asarray(xy, dtype=float)
    finite = np.isfinite(xy).all(-1)
    if not finite.all():
        xy_f = xy[:int(np.argmin(finite))]  # up to the first non-finite point
    else:
        xy_f = xy
    lo, hi = window[:, 0], window[:, 1]
    inside = ((xy_f >= lo) & (xy_f <= hi)).all(-1) if len(xy_f) else np.zeros(0, bool)
    if len(xy_f) == len(xy) and len(xy) and inside[-1]:
        return xy, None
    if not inside.any():  # starts outside and never comes in: draw what there is
        return xy_f, (len(xy_f) if len(xy_f) < len(xy) else None)
    k = int(np.nonzero(inside)[0][-1])
    p = xy_f[k]
    if k + 1 < len(xy_f):
        q = xy_f[k + 1]
        d = q - p
        s = 1.0
        with np.errstate(all="ignore"):
            for j in range(len(p)):
                if q[j] > hi[j]:
                    s = min(s, (hi[j] - p[j]) / d[j])
                elif q[j] < lo[j]:
                    s = min(s, (lo[j] - p[j]) / d[j])
        edge = p + max(0.0, s) * d
    else:  # the next point is non-finite
        edge = p
    return np.vstack([xy_f[:k + 1], edge[None]]), k + 1


def _grid(problem, window, n=200):
    xs = np.linspace(window[0, 0], window[0, 1], n)
    ys = np.linspace(window[1, 0], window[1, 1], n)
    X, Y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        Z = np.asarray(problem.f(np.stack([X, Y], -1)), float)
    return X, Y, Z


def _levels(Z, log, n, f_star=None):
    """(shifted Z, levels, norm-kind). Log levels on Z − min (so negative-valued problems work)."""
    finite = Z[np.isfinite(Z)]
    if finite.size == 0:
        raise ValueError("contour: the function is not finite anywhere in the window")
    if log:
        zmin = float(finite.min()) if f_star is None else min(float(finite.min()), f_star)
        zz = Z - zmin
        pos = zz[np.isfinite(zz) & (zz > 0)]
        top = float(np.max(pos)) if pos.size else 1.0
        low = max(float(np.quantile(pos, 0.002)) if pos.size else top * 1e-6, top * 1e-9)
        return zz, np.geomspace(low, top, n), zmin
    lo, hi = float(finite.min()), float(np.quantile(finite, 0.98))
    if hi <= lo:
        hi = float(finite.max()) if finite.max() > lo else lo + 1.0
    return Z, np.linspace(lo, hi, n), 0.0


def draw_background(ax, problem, window, *, levels=24, log=None, filled=True, cmap="viridis", n=200):
    """Contour map of ``problem`` over ``window`` into ``ax``; returns (ContourSet, zshift)."""
    from matplotlib.colors import LogNorm

    log = problem.log_levels if log is None else log
    X, Y, Z = _grid(problem, window, n)
    zz, lv, shift = _levels(Z, log, levels, _f_star(problem))
    norm = LogNorm(vmin=lv[0], vmax=lv[-1]) if log else None
    cs = None
    if filled:
        cs = ax.contourf(X, Y, zz, levels=lv, cmap=cmap, norm=norm, alpha=0.45, extend="both")
    ax.contour(X, Y, zz, levels=lv, colors="k", linewidths=0.4, alpha=0.35, norm=norm)
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    ax.set_xlabel(problem.variables[0])
    ax.set_ylabel(problem.variables[1])
    return cs, shift


def _mark_minima(ax, problem, window, z=None):
    pts = [m.point for m in problem.minima
           if all(window[j, 0] <= m.point[j] <= window[j, 1] for j in range(2))]
    if not pts:
        return
    pts = np.asarray(pts)
    if z is None:
        ax.plot(pts[:, 0], pts[:, 1], ls="none", marker="*", ms=14, color="white", mec="k", mew=1.0,
                label="minimum", zorder=6)
    else:
        ax.plot(pts[:, 0], pts[:, 1], z(pts), ls="none", marker="*", ms=12, color="white", mec="k",
                mew=0.8, label="minimum", zorder=6)


def _suffix(tr: Trace, exit_index) -> str:
    if tr.status == "diverged":
        return f" — diverged at step {tr.stop_step}"
    if exit_index is not None and exit_index < len(tr.steps):
        return f" — left the window at step {int(tr.steps[exit_index])}"
    return ""


def _draw_paths(ax, trs, window, colors, *, lw=1.6, z=None, zoff=0.0, markers=None):
    """Draw each trace (2-D, or on a surface with z = transform(points)) into ``ax``."""
    seen_label: set = set()
    starts_drawn: set = set()
    for tr in trs:
        pts, ex = visible_part(tr.theta[:, :2], window)
        if len(pts) == 0:
            continue
        c = colors[tr.label]
        label = tr.label + _suffix(tr, ex)
        show = label if tr.label not in seen_label else None
        seen_label.add(tr.label)
        mk = markers if markers is not None else ("o" if len(pts) <= 60 else None)
        if z is None:
            ax.plot(pts[:, 0], pts[:, 1], color=c, lw=lw, marker=mk, ms=2.5, label=show, zorder=4,
                    gid=f"path:{tr.label}")
            key = tuple(np.round(pts[0], 12))
            if key not in starts_drawn:
                ax.plot(*pts[0], marker="o", ms=7, color="white", mec="k", mew=1.2, zorder=5)
                starts_drawn.add(key)
            if ex is not None:
                ax.plot(*pts[-1], marker="X", ms=10, color=c, mec="k", mew=0.8, zorder=7, gid=f"exit:{tr.label}",
                        clip_on=False)
            else:
                ax.plot(*pts[-1], marker="o", ms=4.5, color=c, mec="k", mew=0.5, zorder=6)
        else:
            zz = z(pts) + zoff
            ax.plot(pts[:, 0], pts[:, 1], zz, color=c, lw=lw, label=show, zorder=10, gid=f"path:{tr.label}")
            ax.plot([pts[0, 0]], [pts[0, 1]], [zz[0]], marker="o", ms=6, color="white", mec="k", zorder=11)
            ax.plot([pts[-1, 0]], [pts[-1, 1]], [zz[-1]], marker="X" if ex is not None else "o",
                    ms=8 if ex is not None else 4, color=c, mec="k", zorder=11)


def _short_title(problem):
    t = problem.title or problem.name
    return t if len(t) <= 70 else problem.name


# ------------------------------------------------------------------------------- contour

def contour(problem, runs=None, *, ax=None, path=None, bounds=None, levels=24, log=None,
            title=None, colors=None, legend=True, filled=True, figsize=(6.4, 4.8), dpi=100,
            legend_loc="best", markers=None):
    """Contour map of a 2-D problem with the trajectories in ``runs``.

    Parameters
    ----------
    problem : Problem or catalog name (2-D)
    runs : RunResult, list of RunResults, or mapping label → RunResult / (R, 2) array; None
        draws the map alone
    bounds : ((x0, x1), (y0, y1)) plotting window (default ``problem.bounds``)
    levels : number of contour levels; log-spaced (on f − min f) when ``log`` (default
        ``problem.log_levels``)
    Start points are white circles, minima gold stars; a path that leaves the window ends at
    the window's edge with a ✕ and its legend entry says at which step (and, when the runner
    marked it diverged, the step of divergence).
    """
    problem = _problem(problem)
    if problem.dim != 2:
        raise ValueError(f"contour: needs a 2-D problem, {problem.name} has dim {problem.dim}")
    window = _window(problem, bounds)
    fig, ax = _figure(ax, figsize)
    draw_background(ax, problem, window, levels=levels, log=log, filled=filled)
    _mark_minima(ax, problem, window)
    if runs is not None:
        trs = traces(runs, problem)
        _draw_paths(ax, trs, window, _colors(trs, colors), markers=markers)
    ax.set_title(title if title is not None else _short_title(problem), fontsize=10)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7.5, loc=legend_loc, framealpha=0.85)
    return _save(fig, path, dpi)


# ------------------------------------------------------------------------------- surface

def surface3d(problem, runs=None, *, ax=None, path=None, bounds=None, log=None, title=None,
              colors=None, legend=True, elev=40, azim=-60, n=70, figsize=(6.4, 5.0), dpi=100,
              cmap="viridis"):
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
    ax.plot_surface(X, Y, ZT, cmap=cmap, alpha=0.55, linewidth=0, antialiased=False, rstride=2, cstride=2)
    ax.contour(X, Y, ZT, levels=15, zdir="z", offset=np.nanmin(ZT), cmap=cmap, linewidths=0.6, alpha=0.6)
    zspan = float(np.nanmax(ZT) - np.nanmin(ZT)) or 1.0
    pts_min = [m.point for m in problem.minima
               if all(window[j, 0] <= m.point[j] <= window[j, 1] for j in range(2))]
    if pts_min:
        pm = np.asarray(pts_min)
        ax.plot(pm[:, 0], pm[:, 1], zf(pm) + 0.01 * zspan, ls="none", marker="*", ms=12, color="white",
                mec="k", label="minimum", zorder=12)
    if runs is not None:
        trs = traces(runs, problem)
        _draw_paths(ax, trs, window, _colors(trs, colors), z=zf, zoff=0.01 * zspan)
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    ax.set_xlabel(problem.variables[0])
    ax.set_ylabel(problem.variables[1])
    ax.set_zlabel("log₁₀(1 + f − f_min)" if log else "f")
    ax.view_init(elev=elev, azim=azim)
    ax.set_title(title if title is not None else _short_title(problem), fontsize=10)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7.5, loc="upper left")
    return _save(fig, path, dpi, quantize=False)  # a shaded surface needs more than 256 colours


# ------------------------------------------------------------------------------- loss curves

def loss_curves(runs, *, problem=None, ax=None, path=None, relative=None, title=None, colors=None,
                legend=True, figsize=(6.4, 4.0), dpi=100, ylabel=None):
    """Loss against step for every trajectory, on a log axis.

    ``relative``: plot f − f* (None: only when some loss is ≤ 0 and the minima are known).
    When losses are ≤ 0 and f* is unknown the axis is symlog. Runs that diverged end with ✕
    at the step of divergence. ``problem`` (default: the catalog problem named in the run)
    gives f*.
    """
    if problem is None:
        from .runner import RunResult

        first = runs if isinstance(runs, RunResult) else (
            runs[0] if isinstance(runs, (list, tuple)) and runs else None)
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
    if title is not None:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(fontsize=7.5)
    return _save(fig, path, dpi)


# ------------------------------------------------------------------------------- seed bands

def seed_bands(histories: Mapping[str, Sequence], *, x=None, ax=None, path=None, log=None,
               xlabel="step", ylabel="loss", title=None, colors=None, legend=True,
               figsize=(6.4, 4.0), dpi=100):
    """Training curves: mean ± one standard deviation over seeds, one band per label.

    ``histories``: label → list of per-seed metric arrays (1-D; different lengths are
    allowed: statistics use the seeds still running at each index), or label → 2-D array
    (seeds × steps). ``x``: the common x values (default 0, 1, …). ``log``: log y axis (default
    when every value is > 0). The band's lower edge is only drawn above zero on a log axis
    (drawing, not data, is clipped).
    """
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("seed_bands: histories must be a non-empty mapping label → list of per-seed arrays")
    stats = {}
    for label, runs in histories.items():
        arrs = [np.asarray(r, dtype=float).ravel() for r in (runs if not isinstance(runs, np.ndarray) or runs.ndim > 1
                                                             else [runs])]
        if not arrs or any(a.size == 0 for a in arrs):
            raise ValueError(f"seed_bands: {label!r} needs at least one non-empty array")
        L = max(a.size for a in arrs)
        M = np.full((len(arrs), L), np.nan)
        for i, a in enumerate(arrs):
            M[i, :a.size] = a
        with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(M, 0)
            std = np.nanstd(M, 0)
        stats[label] = (mean, std, len(arrs))
    allv = np.concatenate([m for m, _, _ in stats.values()])
    allv = allv[np.isfinite(allv)]
    if log is None:
        log = bool(allv.size) and bool((allv > 0).all())
    fig, ax = _figure(ax, figsize)
    pal = _colors([Trace(k, np.zeros((1, 1)), np.zeros(1), None) for k in stats], colors)
    for label, (mean, std, n) in stats.items():
        xs = np.arange(mean.size) if x is None else np.asarray(x, float)[:mean.size]
        if xs.size != mean.size:
            raise ValueError(f"seed_bands: x has {xs.size} values but {label!r} has {mean.size}")
        lo, hi = mean - std, mean + std
        if log:
            floor = float(np.nanmin(mean[mean > 0])) * 1e-3 if (mean > 0).any() else 1e-300
            lo = np.maximum(lo, floor)
        c = pal[label]
        ax.plot(xs, mean, color=c, lw=1.6, label=f"{label} (mean ± std, {n} seeds)")
        ax.fill_between(xs, lo, hi, color=c, alpha=0.2, lw=0, gid=f"band:{label}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if title is not None:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(fontsize=7.5)
    return _save(fig, path, dpi)


# ------------------------------------------------------------------------------- step sizes

def step_sizes(runs, *, ax=None, path=None, title=None, colors=None, reference=None, legend=True,
               figsize=(6.4, 4.0), dpi=100):
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
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(fontsize=7.5)
    return _save(fig, path, dpi)


# ------------------------------------------------------------------------------- heatmap

def _edges(v, log):
    v = np.asarray(v, float)
    if v.size == 1:
        return np.array([v[0] / 1.5, v[0] * 1.5]) if log else np.array([v[0] - 0.5, v[0] + 0.5])
    if log:
        lv = np.log(v)
        mid = (lv[1:] + lv[:-1]) / 2
        return np.exp(np.r_[lv[0] - (mid[0] - lv[0]), mid, lv[-1] + (lv[-1] - mid[-1])])
    mid = (v[1:] + v[:-1]) / 2
    return np.r_[v[0] - (mid[0] - v[0]), mid, v[-1] + (v[-1] - mid[-1])]


def _is_log(v):
    v = np.asarray(v, float)
    if v.size < 3 or (v <= 0).any():
        return False
    dl = np.diff(np.log(v))
    dd = np.diff(v)
    return bool(np.allclose(dl, dl[0], rtol=1e-3)) and not bool(np.allclose(dd, dd[0], rtol=1e-3))


def _quadratic_hessian(problem):
    """The constant Hessian of ``problem`` if it is a quadratic (checked at several points)."""
    from .problems import Quadratic

    if isinstance(problem, Quadratic):
        return np.asarray(problem.hessian(np.zeros(problem.dim)), float)
    rng = np.random.default_rng(0)
    w = np.asarray(problem.bounds, float)
    pts = w[:, 0] + (w[:, 1] - w[:, 0]) * rng.random((5, problem.dim))
    try:
        with np.errstate(all="ignore"):
            H = np.asarray(problem.hessian(pts), float)
    except Exception:  # noqa: BLE001  (a problem without a Hessian: no theory lines)
        return None
    if not np.isfinite(H).all() or not np.allclose(H, H[0], rtol=1e-9, atol=1e-12):
        return None
    return H[0]


def _heavy_ball_form(rule):
    """(lr_scale, weight_decay, momentum) if ``rule`` is a heavy ball on a quadratic, else None.

    SGD (dampening τ, no Nesterov): θ_{t+1} = θ_t − η(1−τ)g + μ(θ_t − θ_{t−1}) from t = 2 on;
    Momentum(form="heavy_ball"): η, α; form="average": η(1−β), β.
    """
    from .rules import SGD, Momentum

    h = rule.h
    if isinstance(rule, SGD) and not h.nesterov:
        return 1.0 - h.dampening, h.weight_decay, "momentum"
    if isinstance(rule, Momentum):
        return ("1-momentum" if h.form == "average" else 1.0), 0.0, "momentum"
    return None


def heatmap(rule, problem, x, y, *, metric="loss", steps=200, starts=None, tol=None,
            divergence=None, ax=None, path=None, title=None, theory=True, cmap="viridis_r",
            figsize=(6.4, 4.8), dpi=100, backend="numpy", xscale=None, yscale=None, annotate=True):
    """Final loss or steps-to-tolerance over a grid of two hyperparameters.

    Parameters
    ----------
    rule : rule name or Rule (its other hyperparameters stay fixed)
    problem : Problem or name
    x, y : (hyperparameter name, values), e.g. ``("lr", np.geomspace(1e-3, 1, 20))``
    metric : "loss" (final f − f* when f* is known, else f) or "steps" (steps until
        ‖∇f‖ ≤ tol; cells that never get there are marked "not converged")
    steps, starts : passed to :func:`ravine.run` (default start: the problem's)
    tol : gradient-norm tolerance (default 1e-6 for metric="steps", none for "loss")
    divergence : ‖θ‖∞ above which the runner marks a run diverged (default 1000 × the
        window's largest |coordinate|)
    theory : on quadratics draw the stability bounds of :class:`ravine.analysis.QuadraticRates`
        for gradient descent / heavy-ball rules: the vertical (or horizontal) line
        η = 2(1+β)/λmax (= 2/λmax without momentum) when only the learning rate varies, and the
        contour heavy_ball_rate(η, β) = 1 when the axes are (lr, momentum).

    Every cell is one trajectory of one vectorized :func:`ravine.run` over
    :func:`ravine.runner.grid`. Diverged cells are grey with a ✕. The numbers are in
    ``fig.ravine_data`` (x, y, values, status, lr_max …).
    """
    from .rules import get_rule
    from .runner import CONVERGED, DIVERGED, grid, run

    problem = _problem(problem)
    base = get_rule(rule) if isinstance(rule, str) else rule
    if metric not in ("loss", "steps"):
        raise ValueError(f"metric: must be 'loss' or 'steps', got {metric!r}")
    axes = []
    for which, spec in (("x", x), ("y", y)):
        if not (isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str)):
            raise ValueError(f"{which}: expected (hyperparameter name, values), got {spec!r}")
        name, vals = spec
        vals = np.asarray(vals, dtype=float).ravel()
        if vals.size == 0 or not np.isfinite(vals).all():
            raise ValueError(f"{which}: {name} needs at least one finite value")
        if name not in base.h._fields:
            raise ValueError(f"{which}: {type(base).__name__} has no hyperparameter {name!r}; "
                             f"it has {', '.join(base.h._fields)}")
        axes.append((name, vals))
    (xn, xv), (yn, yv) = axes
    if xn == yn:
        raise ValueError(f"x and y must be different hyperparameters, both are {xn!r}")
    if tol is None and metric == "steps":
        tol = 1e-6
    window = np.asarray(problem.bounds, float)
    if divergence is None:
        divergence = 1000.0 * float(np.max(np.abs(window)))
    cast = {f: type(getattr(base.h, f)) for f in (xn, yn)}
    conv = lambda f, v: int(round(v)) if cast[f] is int else float(v)  # noqa: E731
    rules = grid(base, **{xn: [conv(xn, v) for v in xv], yn: [conv(yn, v) for v in yv]})
    res = run(rules, problem, starts, steps, tol=tol, divergence=divergence, record="final",
              backend=backend)
    S = res.theta.shape[1] // (xv.size * yv.size)
    status = res.status.reshape(xv.size, yv.size, S)
    f_star = _f_star(problem)
    if metric == "loss":
        v = res.final_loss.reshape(xv.size, yv.size, S).astype(float)
        if f_star is not None:
            v = v - f_star
        vals = v.mean(-1)
    else:
        st = res.stop_step.reshape(xv.size, yv.size, S).astype(float)
        st = np.where(status == CONVERGED, st, np.nan)
        vals = st.mean(-1)  # NaN where any start did not converge
    diverged = (status == DIVERGED).any(-1)
    not_conv = (~diverged) & ~np.isfinite(vals)
    shown = np.where(diverged, np.nan, vals)

    fig, ax = _figure(ax, figsize)
    xlog = _is_log(xv) if xscale is None else xscale == "log"
    ylog = _is_log(yv) if yscale is None else yscale == "log"
    xe, ye = _edges(xv, xlog), _edges(yv, ylog)
    import matplotlib as mpl
    from matplotlib.colors import LogNorm, Normalize

    cm = mpl.colormaps[cmap].with_extremes(bad="#cfcfcf")
    fin = shown[np.isfinite(shown)]
    if metric == "loss" and fin.size and (fin > 0).any():
        pos = fin[fin > 0]
        vmin = max(float(pos.min()), float(pos.max()) * 1e-16)
        norm = LogNorm(vmin=vmin, vmax=max(float(pos.max()), vmin * 10))
        drawn = np.where(np.isfinite(shown), np.maximum(shown, vmin), np.nan)  # colour floor only
    else:
        norm = Normalize(vmin=float(fin.min()) if fin.size else 0, vmax=float(fin.max()) if fin.size else 1)
        drawn = shown
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(drawn.T), cmap=cm, norm=norm, shading="flat")
    cb = fig.colorbar(mesh, ax=ax)
    cb.set_label(("final f − f*" if f_star is not None else "final f") if metric == "loss"
                 else f"steps until ‖∇f‖ ≤ {tol:g}")
    XC, YC = np.meshgrid(xv, yv, indexing="ij")
    ms = max(3.0, min(9.0, 120.0 / max(xv.size, yv.size)))
    if diverged.any():
        ax.scatter(XC[diverged], YC[diverged], marker="x", s=ms ** 2, c="#8b0000", lw=1.0,
                   label="diverged", gid="diverged", zorder=5)
    if not_conv.any():
        ax.scatter(XC[not_conv], YC[not_conv], marker="o", s=(ms * 0.6) ** 2, facecolors="none",
                   edgecolors="#444444", lw=0.7, label=f"not converged in {steps} steps",
                   gid="not_converged", zorder=5)
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(xn)
    ax.set_ylabel(yn)
    data = dict(x=xv, y=yv, x_name=xn, y_name=yn, values=vals, status=status, diverged=diverged,
                not_converged=not_conv, metric=metric, lr_max=None, result=res)

    if theory:
        _theory(ax, base, problem, xn, xv, xe, yn, yv, ye, xlog, ylog, data)
    if title is None:
        fixed = ", ".join(f"{k}={getattr(base.h, k):g}" for k in base.h._fields
                          if k not in (xn, yn) and isinstance(getattr(base.h, k), float)
                          and k in ("lr", "momentum", "beta1", "beta2", "alpha", "rho", "eps"))
        title = (f"{base.name} on {problem.name}: {'final loss' if metric == 'loss' else 'steps to tol'}"
                 f" after {steps} steps" + (f" ({fixed})" if fixed else ""))
    ax.set_title(title, fontsize=10)
    if annotate and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
    fig.ravine_data = data
    return _save(fig, path, dpi)


def _theory(ax, rule, problem, xn, xv, xe, yn, yv, ye, xlog, ylog, data):
    from .analysis import QuadraticRates

    A = _quadratic_hessian(problem)
    hb = _heavy_ball_form(rule)
    if A is None or hb is None:
        return
    scale, wd, _ = hb
    try:
        q = QuadraticRates(A + wd * np.eye(A.shape[0]))
    except ValueError:  # not positive definite: no bound to draw
        return
    names = {xn, yn}
    h = rule.h

    def eff(lr, mom):
        s = (1.0 - mom) if scale == "1-momentum" else scale
        return lr * s

    if names == {"lr", "momentum"}:
        # heavy ball: stable where the spectral radius < 1
        lr_edges = xe if xn == "lr" else ye
        mom_edges = ye if xn == "lr" else xe
        lr_log = xlog if xn == "lr" else ylog
        L = (np.geomspace(lr_edges[0], lr_edges[-1], 160) if lr_log
             else np.linspace(lr_edges[0], lr_edges[-1], 160))
        Mo = np.linspace(max(mom_edges[0], 0.0), min(mom_edges[-1], 0.999999), 160)
        R = np.array([[q.heavy_ball_rate(max(eff(a, b), 0.0), b) for b in Mo] for a in L])
        if xn == "lr":
            cs = ax.contour(L, Mo, R.T, levels=[1.0], colors="white", linewidths=2.2)
            ax.contour(L, Mo, R.T, levels=[1.0], colors="k", linewidths=1.0, linestyles="--")
        else:
            cs = ax.contour(Mo, L, R, levels=[1.0], colors="white", linewidths=2.2)
            ax.contour(Mo, L, R, levels=[1.0], colors="k", linewidths=1.0, linestyles="--")
        cs.set_gid("heavy_ball_bound")
        ax.plot([], [], "k--", lw=1, label="heavy-ball rate = 1 (stability edge)")
        data["heavy_ball_rate"] = (L, Mo, R)
        lr_max = q.lr_max / (1.0 if scale == "1-momentum" else scale)
        data["lr_max"] = lr_max
        line = ax.axvline if xn == "lr" else ax.axhline
        line(lr_max, color="#b00000", ls=":", lw=1.4, gid="lr_max",
             label=f"GD edge η = 2/λmax = {lr_max:.3g} (β = 0)")
        opt = q.heavy_ball_optimal()
        o_lr = opt.lr / (1.0 - opt.momentum if scale == "1-momentum" else scale)
        px, py = (o_lr, opt.momentum) if xn == "lr" else (opt.momentum, o_lr)
        if xe[0] <= px <= xe[-1] and ye[0] <= py <= ye[-1]:
            ax.plot(px, py, marker="*", ms=13, color="gold", mec="k", ls="none",
                    label=f"Polyak optimum (η {o_lr:.3g}, β {opt.momentum:.3g})", zorder=6)
        data["polyak"] = (o_lr, opt.momentum)
    elif "lr" in names:
        mom = getattr(h, "momentum", 0.0)
        s = (1.0 - mom) if scale == "1-momentum" else scale
        lr_max = 2.0 * (1.0 + mom) / (q.lambda_max * s)
        data["lr_max"] = lr_max
        line = ax.axvline if xn == "lr" else ax.axhline
        lab = (f"η = 2/λmax = {lr_max:.3g}" if mom == 0 else f"η = 2(1+β)/λmax = {lr_max:.3g}")
        line(lr_max, color="#b00000", ls="--", lw=1.6, gid="lr_max", label=lab)
