"""The plot package's shared parts: Agg figures, saving, colours, windows, backgrounds, paths.

Figures are built without pyplot on the Agg canvas (no display, no global backend switch).
Names here are used by every module of ``ravine.plot``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import _checks
from . import palette
from .palette import COLORS, MARKERS

#: the contour map of :mod:`ravine.plot.palette` as a matplotlib colormap name's stand-in:
#: ``draw_background(cmap=None)`` builds it (matplotlib is imported only when drawing)
CONTOUR_CMAP = "ravine"


def contour_cmap(name=None):
    """``name`` (a matplotlib colormap or its name), or for None/"ravine" the palette's
    contour map (:data:`ravine.plot.palette.CONTOUR_SCALE`)."""
    if name is not None and name != CONTOUR_CMAP:
        return name
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(CONTOUR_CMAP, [(p, c) for p, c in palette.CONTOUR_SCALE])


def marker_style(kind: str, color: str | None = None) -> dict:
    """matplotlib keywords for a point of ``kind`` (:data:`ravine.plot.palette.MARKERS`);
    ``color`` fills "path" faces and edges."""
    m = MARKERS[kind]

    def col(c):
        return color if c == "path" else c

    return {
        "marker": m["matplotlib"],
        "ms": m["size"],
        "color": col(m["face"]),
        "mec": col(m["edge"]),
        "mew": m["edge_width"],
    }


# ------------------------------------------------------------------------------- helpers


#: named styles for :func:`style`: matplotlib rcParams, the figure's size in inches
#: (``figure.figsize``) and the saved pictures' dots per inch (``savefig.dpi``) included.
#: "slides", the look of the command line and the gallery: 1600 × 900 pixels (16:9), text readable
#: from the back of a lecture hall (16-18 pt on a 10-inch-wide figure, about 2 % of its width),
#: thick lines. "compact": matplotlib's own look, 640 × 480. "paper": small text, printed at 200 dpi.
STYLES = {
    "slides": {
        "figure.figsize": (10.0, 5.625),
        "savefig.dpi": 160,
        "font.size": 16,
        "axes.titlesize": 18,
        "axes.labelsize": 16,
        "legend.fontsize": 13,
        "xtick.labelsize": 14,
        "ytick.labelsize": 14,
        "lines.linewidth": 2.4,
        "lines.markersize": 8,
        "axes.linewidth": 1.2,
        "legend.framealpha": 0.9,
    },
    "compact": {"figure.figsize": (6.4, 4.8), "savefig.dpi": 100},
    "paper": {
        "figure.figsize": (6.4, 4.0),
        "savefig.dpi": 200,
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "legend.fontsize": 8,
    },
}
#: the style of ``ravine plot|animate|sweep``, ``ravine demo`` and the gallery
DEFAULT_STYLE = "slides"


def style(name: str = DEFAULT_STYLE):
    """A context manager: figures made inside it use the named style of :data:`STYLES` (its
    size, dots per inch, text and lines), unless a call gives its own ``figsize``/``dpi``.
    Outside it the functions follow matplotlib's rcParams (640 × 480 unless you set them).

    >>> from ravine import plot
    >>> with plot.style("slides"):
    ...     fig = plot.contour("rosenbrock")
    >>> fig.get_size_inches().tolist()  # saved at 160 dpi: 1600 x 900 pixels
    [10.0, 5.625]
    """
    import matplotlib as mpl

    _checks.choice("style", "name", name, STYLES)
    return mpl.rc_context(STYLES[name])


def style_pixels(name: str = DEFAULT_STYLE) -> tuple[tuple[float, float], int]:
    """``(figsize, dpi)`` of the named style: its size in inches and its dots per inch."""
    _checks.choice("style", "name", name, STYLES)
    st = STYLES[name]
    w, h = st["figure.figsize"]
    return (float(w), float(h)), int(st["savefig.dpi"])


def _dpi(dpi=None) -> float:
    """``dpi``, or the active style's (rcParams ``savefig.dpi``, ``figure.dpi`` where that says "figure")."""
    if dpi is not None:
        return dpi
    import matplotlib as mpl

    d = mpl.rcParams["savefig.dpi"]
    return float(mpl.rcParams["figure.dpi"] if d == "figure" else d)


def _fontsize(default: float) -> float:
    """``default`` scaled by the active style (rcParams font.size against matplotlib's 10)."""
    import matplotlib as mpl

    return default * float(mpl.rcParams["font.size"]) / 10.0


def _new(figsize):
    """A fresh Figure on the Agg canvas that a notebook shows inline (:mod:`._notebook`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ._notebook import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _figure(ax=None, figsize=None, projection=None):
    """(fig, ax): a fresh Agg-backed Figure (``figsize`` None: the active style's), or ``ax``'s figure."""
    if ax is not None:
        return ax.figure, ax
    fig = _new(figsize)
    if projection == "3d":
        import mpl_toolkits.mplot3d  # noqa: F401  (registers the projection)
    ax = fig.add_subplot(projection=projection)
    return fig, ax


def new_figure(nrows=1, ncols=1, figsize=None, **kw):
    """A fresh Agg-backed Figure with a grid of axes (``Figure.subplots``); ``figsize`` None:
    the active style's (:func:`style`)."""
    fig = _new(figsize)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _save(fig, path, dpi=None, quantize=True):
    """Write ``fig`` to ``path`` (None: nothing) at ``dpi`` (None: the active style's)."""
    if path is not None:
        dpi = _dpi(dpi)
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
        im = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        im.save(path, optimize=True)


def _problem(problem):
    from ..problems import Problem, get_problem

    if isinstance(problem, str):
        return get_problem(problem)
    if not isinstance(problem, Problem):
        raise ValueError(f"problem: expected a Problem or a problem name, got {problem!r}")
    return problem


def _f_star(problem) -> float | None:
    return None if problem is None else problem.f_min


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
    from ..runner import STATUS, RunResult

    out: list[Trace] = []

    def add_result(res: RunResult, prefix=None):
        for i in range(len(res.labels)):
            stop = int(res.stop_step[i])
            keep = res.steps <= stop
            if not keep.any():
                keep[:1] = True
            label = res.labels[i] if prefix is None else prefix
            out.append(
                Trace(
                    label=str(label),
                    theta=np.asarray(res.theta[keep, i], float),
                    steps=np.asarray(res.steps[keep]),
                    loss=np.asarray(res.loss[keep, i], float),
                    status=STATUS[int(res.status[i])],
                    stop_step=stop,
                )
            )

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
        raise ValueError(
            "runs: expected a RunResult, a list of RunResults or a mapping "
            f"label → RunResult/array, got {type(runs).__name__}"
        )
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
        xy_f = xy[: int(np.argmin(finite))]  # up to the first non-finite point
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
    return np.vstack([xy_f[: k + 1], edge[None]]), k + 1


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


def draw_background(ax, problem, window, *, levels=24, log=None, filled=True, cmap=None, n=200):
    """Contour map of ``problem`` over ``window`` into ``ax``; returns (ContourSet, zshift)."""
    from matplotlib.colors import LogNorm

    log = problem.log_levels if log is None else log
    X, Y, Z = _grid(problem, window, n)
    zz, lv, shift = _levels(Z, log, levels, _f_star(problem))
    norm = LogNorm(vmin=lv[0], vmax=lv[-1]) if log else None
    cs = None
    if filled:
        cs = ax.contourf(X, Y, zz, levels=lv, cmap=contour_cmap(cmap), norm=norm, alpha=0.45, extend="both")
    ax.contour(X, Y, zz, levels=lv, colors="k", linewidths=0.4, alpha=0.35, norm=norm)
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    ax.set_xlabel(problem.variables[0])
    ax.set_ylabel(problem.variables[1])
    return cs, shift


def _mark_minima(ax, problem, window, z=None):
    pts = [m.point for m in problem.minima if all(window[j, 0] <= m.point[j] <= window[j, 1] for j in range(2))]
    if not pts:
        return
    pts = np.asarray(pts)
    if z is None:
        ax.plot(
            pts[:, 0],
            pts[:, 1],
            ls="none",
            **marker_style("minimum"),
            label="minimum",
            zorder=6,
        )
    else:
        ax.plot(
            pts[:, 0],
            pts[:, 1],
            z(pts),
            ls="none",
            **{**marker_style("minimum"), "ms": 12, "mew": 0.8},
            label="minimum",
            zorder=6,
        )


def _suffix(tr: Trace, exit_index) -> str:
    if tr.status == "diverged":
        return f" — diverged at step {tr.stop_step}"
    if exit_index is not None and exit_index < len(tr.steps):
        return f" — left the window at step {int(tr.steps[exit_index])}"
    return ""


def _casing(lw):
    """matplotlib path effects: the palette's thin dark edge under a path line, then the line."""
    from matplotlib import patheffects

    k = palette.PATH_CASING
    return [
        patheffects.Stroke(linewidth=lw + k["extra_width"], foreground=k["color"], alpha=k["opacity"]),
        patheffects.Normal(),
    ]


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
            ax.plot(
                pts[:, 0],
                pts[:, 1],
                color=c,
                lw=lw,
                marker=mk,
                ms=2.5,
                label=show,
                zorder=4,
                gid=f"path:{tr.label}",
                path_effects=_casing(lw),
            )
            key = tuple(np.round(pts[0], 12))
            if key not in starts_drawn:
                ax.plot(*pts[0], **marker_style("start"), zorder=5)
                starts_drawn.add(key)
            if ex is not None:
                ax.plot(
                    *pts[-1],
                    **marker_style("diverged", c),
                    zorder=7,
                    gid=f"exit:{tr.label}",
                    clip_on=False,
                )
            else:
                ax.plot(*pts[-1], **marker_style("end", c), zorder=6)
        else:
            zz = z(pts) + zoff
            ax.plot(pts[:, 0], pts[:, 1], zz, color=c, lw=lw, label=show, zorder=10, gid=f"path:{tr.label}")
            ax.plot([pts[0, 0]], [pts[0, 1]], [zz[0]], **{**marker_style("start"), "ms": 6}, zorder=11)
            end = marker_style("diverged" if ex is not None else "end", c)
            end["ms"] = 8 if ex is not None else 4
            ax.plot([pts[-1, 0]], [pts[-1, 1]], [zz[-1]], **end, zorder=11)


def _short_title(problem):
    t = problem.title or problem.name
    return t if len(t) <= 70 else problem.name


def _event(tr: Trace, window=None) -> tuple[str, int]:
    """How a trace ended: ("converged" | "diverged" | "left" | "ran", step). "left": it ends
    outside ``window`` (the step of the first point outside, :func:`visible_part`)."""
    if tr.status in ("converged", "diverged") and tr.stop_step is not None:
        return tr.status, int(tr.stop_step)
    if window is not None:
        _, ex = visible_part(tr.theta[:, : len(window)], window)
        if ex is not None and ex < len(tr.steps):
            return "left", int(tr.steps[ex])
    return "ran", int(tr.steps[-1])


#: how a run ended → (one run's phrase, several runs' verb: singular, plural)
_VERBS = {
    "converged": ("converges in {s} steps", "converges", "converge"),
    "diverged": ("diverges at step {s}", "diverges", "diverge"),
    "left": ("leaves the window at step {s}", "leaves the window", "leave the window"),
    "ran": ("", "runs to the end", "run to the end"),
}


def outcome(trs: Sequence[Trace], window=None) -> str:
    """What happened to the runs, for a title: "adam converges in 87 steps; sgd diverges at step
    12" (one phrase per label, from the runner's status and the step it stopped at; a run that
    did neither says its final f, or where it left ``window``). More than three labels, or
    several starts of one: counts ("8 optimizers: 3 converge (first: adam, step 87), 1 diverges
    (sgd, step 12), 4 run to the end"). Phrases go on separate lines where one line would run
    past 80 characters. "converges" is the runner's stopping test (‖∇f‖ ≤ tol, asked for with
    ``tol``), not a claim that the point is a minimum."""
    by_label: dict[str, list[Trace]] = {}
    for t in trs:
        by_label.setdefault(t.label, []).append(t)

    def one(tr: Trace) -> str:
        kind, step = _event(tr, window)
        if kind != "ran":
            return f"{tr.label} " + _VERBS[kind][0].format(s=step).replace("in 1 steps", "in 1 step")
        if tr.loss is not None and len(tr.loss) and np.isfinite(tr.loss[-1]):
            return f"{tr.label}: f = {float(tr.loss[-1]):.3g} after {step} steps"
        return f"{tr.label}: {step} steps"

    def counts(what: str, runs: list[tuple[str, Trace]]) -> str:
        ends = [(lab, *_event(t, window)) for lab, t in runs]
        parts = []
        for kind, (_, singular, plural) in _VERBS.items():
            hit = sorted((step, lab) for lab, k, step in ends if k == kind)
            if hit:
                first = "" if kind == "ran" else f" ({'first: ' * (len(hit) > 1)}{hit[0][1]}, step {hit[0][0]})"
                parts.append(f"{len(hit)} {singular if len(hit) == 1 else plural}{first}")
        return f"{what}: " + ", ".join(parts)

    if len(by_label) > 3:
        what = f"{len(by_label)} optimizers" if len(trs) == len(by_label) else f"{len(trs)} runs"
        return counts(what, [(t.label, t) for t in trs])
    phrases = [
        one(ts[0]) if len(ts) == 1 else counts(f"{lab} from {len(ts)} starts", [(lab, t) for t in ts])
        for lab, ts in by_label.items()
    ]
    line = "; ".join(phrases)
    return line if len(line) <= 80 else ";\n".join(phrases)


def _title(problem, trs: Sequence[Trace], window=None) -> str:
    """The default title: what happened (:func:`outcome`), then the problem."""
    return f"{outcome(trs, window)}\n{_short_title(problem)}" if trs else _short_title(problem)


# ------------------------------------------------------------------------------- 1-D problems


def curve_window(problem, bounds=None, trs: Sequence[Trace] = (), widen: bool = True) -> tuple[float, float]:
    """(lo, hi) of a 1-D problem's picture: ``bounds`` when given; else the problem's bounds,
    widened (``widen``) by 5 % beyond every finite iterate so that a divergent run shows."""
    lo, hi = (float(v) for v in (_window(problem, bounds)[0] if bounds is not None else problem.bounds[0]))
    if bounds is None and widen:
        for tr in trs:
            x = tr.theta[:, 0][np.isfinite(tr.theta[:, 0])]
            if x.size:
                lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
        pad = 0.05 * (hi - lo)
        lo, hi = lo - pad, hi + pad
    return lo, hi


def draw_curve(ax, problem, lo: float, hi: float, n: int = 400) -> None:
    """A 1-D problem's curve f(x) over [lo, hi] into ``ax``, its minima (stars), the axes' labels
    and x limits."""
    xs = np.linspace(lo, hi, n)
    with np.errstate(all="ignore"):
        ax.plot(xs, problem.f(xs[:, None]), color="0.35", lw=1.4, label=f"f({problem.variables[0]})", zorder=1)
    for m in problem.minima:
        if lo <= m.point[0] <= hi:
            ax.plot(m.point[0], m.value, ls="none", **marker_style("minimum"), zorder=5)
    ax.set_xlim(lo, hi)
    ax.set_xlabel(problem.variables[0])
    ax.set_ylabel("f")


def on_curve(problem, x: np.ndarray) -> np.ndarray:
    """Points (x, f(x)) of a 1-D problem, (R, 2), for the iterates ``x`` (R,) or (R, 1)."""
    x = np.asarray(x, float).reshape(-1, 1)
    with np.errstate(all="ignore"):
        return np.column_stack([x[:, 0], np.asarray(problem.f(x), float).reshape(-1)])


# ------------------------------------------------------------------------------- contour
