"""Animations of several optimizers moving together: on a 1-D problem's curve, a 2-D problem's
contour map, or its 3-D surface.

``animate(problem, runs, "out.gif")`` writes a GIF with Pillow; ``"out.mp4"`` uses matplotlib's
ffmpeg writer and needs the ``ffmpeg`` program on PATH (:class:`FFmpegNotFoundError`
otherwise, raised before any work is done). The recorded steps are subsampled to ``frames``
frames (evenly in step index, always including the first and the last); each frame shows
every path up to that step, its current point, and the step number. A path that leaves the
window stops at its edge, where its point turns into a ✕.

matplotlib is imported only inside this module (Agg canvas, no pyplot).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .. import _checks
from ._figure import (
    _colors,
    _dpi,
    _figure,
    _fontsize,
    _mark_minima,
    _problem,
    _title,
    _window,
    curve_window,
    draw_background,
    draw_curve,
    on_curve,
    traces,
    visible_part,
)

__all__ = ["animate", "scene", "Scene", "frame_steps", "FFmpegNotFoundError"]


class FFmpegNotFoundError(RuntimeError):
    """MP4 output was asked for but the ffmpeg program is not on PATH."""


FFMPEG_HELP = (
    "MP4 output needs the ffmpeg program, which was not found on PATH; install it "
    "(Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg; conda: "
    "conda install -c conda-forge ffmpeg) or write a .gif instead"
)


def frame_steps(steps: np.ndarray, frames: int) -> np.ndarray:
    """Indices into ``steps`` for ``frames`` frames: evenly spaced, first and last included.

    With fewer recorded steps than ``frames`` every recorded step is one frame.
    """
    n = len(steps)
    if n <= frames:
        return np.arange(n)
    return np.round(np.linspace(0, n - 1, frames)).astype(int)


def _check_out(path):
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".gif", ".mp4"):
        raise ValueError(f"output: animations are written as .gif or .mp4, got {path.name!r}")
    if ext == ".mp4" and shutil.which("ffmpeg") is None:
        raise FFmpegNotFoundError(FFMPEG_HELP)
    return path, ext


def animate(
    problem,
    runs,
    path,
    *,
    frames: int = 60,
    fps: int = 15,
    three_d: bool = False,
    bounds=None,
    title=None,
    colors=None,
    levels=24,
    log=None,
    figsize=None,
    dpi=None,
    tail: int | None = None,
    elev=40,
    azim=-60,
    rotate: float = 0.0,
    legend_loc=None,
):
    """Write an animation of the trajectories in ``runs`` on ``problem``; returns the path.

    Parameters
    ----------
    problem : a 1-D problem (the curve f(x), each run's iterates as points joined on it) or a
        2-D one (the contour map, or the surface with ``three_d``)
    runs : RunResult, list of RunResults or mapping label → RunResult / (R, D) array
    path : ``*.gif`` (Pillow) or ``*.mp4`` (ffmpeg)
    frames : number of frames (the recorded steps are subsampled to it; at most one frame
        per recorded step)
    fps : frames per second
    three_d : draw on the surface (``ravine.plot.surface3d`` style) instead of the contour map
    bounds : the window, ((x0, x1),) or ((x0, x1), (y0, y1)) (default the problem's bounds)
    title : None: what happened (:func:`ravine.plot.outcome`) and the problem; a line with the
        step number is added below it in every frame
    figsize, dpi : None: the active style's (:func:`ravine.plot.style`; 1600 × 900 in "slides")
    tail : show only the last ``tail`` recorded points of each path (None: the whole path)
    rotate : degrees of azimuth the 3-D view turns over the animation
    legend_loc : where the legend goes (paths are drawn over it, so pick an empty corner)
    """
    from matplotlib.animation import FFMpegWriter

    _checks.real("animate", "fps", fps, lo=0, lo_open=True)
    path, ext = _check_out(path)
    sc = scene(
        problem,
        runs,
        frames=frames,
        three_d=three_d,
        bounds=bounds,
        title=title,
        colors=colors,
        levels=levels,
        log=log,
        figsize=figsize,
        tail=tail,
        elev=elev,
        azim=azim,
        rotate=rotate,
        legend_loc=legend_loc,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    dpi = _dpi(dpi)
    sc.fig.set_dpi(dpi)
    n = len(sc.steps)
    if ext == ".gif":
        _write_gif(sc.fig, sc.moving, sc.draw, n, fps, path, blit=not (three_d and rotate))
    else:
        writer = FFMpegWriter(fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])
        with writer.saving(sc.fig, str(path), dpi):
            for k in range(n):
                sc.draw(k)
                writer.grab_frame()
    return path


class Scene(NamedTuple):
    """An animation before it is written: the figure, the step shown in each frame, ``draw(k)``
    (sets frame k's artists), the artists that move, and each trace's path and current point."""

    fig: Any
    steps: np.ndarray
    draw: Callable[[int], list]
    moving: list
    lines: list
    heads: list


def scene(
    problem,
    runs,
    *,
    frames: int = 60,
    three_d: bool = False,
    bounds=None,
    title=None,
    colors=None,
    levels=24,
    log=None,
    figsize=None,
    tail: int | None = None,
    elev=40,
    azim=-60,
    rotate: float = 0.0,
    legend_loc=None,
) -> Scene:
    """The :class:`Scene` that :func:`animate` writes (the same arguments, less the file's)."""
    _checks.integer("animate", "frames", frames, minimum=1)
    problem = _problem(problem)
    if problem.dim not in (1, 2) or (three_d and problem.dim != 2):
        need = "a 2-D problem for three_d" if three_d else "a 1-D or 2-D problem"
        raise ValueError(f"animate: needs {need}, {problem.name} has dim {problem.dim}")
    trs = traces(runs, problem)
    if problem.dim == 1:  # the window holds the start points; a run that leaves it ends with ✕
        lo, hi = curve_window(problem, bounds, [replace(t, theta=t.theta[:1]) for t in trs])
        window = np.array([[lo, hi]])
    else:
        window = _window(problem, bounds)
    cols = _colors(trs, colors)
    all_steps = np.unique(np.concatenate([t.steps for t in trs]))
    fidx = frame_steps(all_steps, int(frames))
    fsteps = all_steps[fidx]

    # per trace: the drawable points and, for each frame, how many of them to show
    parts = []
    for tr in trs:
        pts, ex = visible_part(tr.theta[:, : problem.dim], window)
        if problem.dim == 1:  # drawn at (x, f(x)) on the curve
            pts = on_curve(problem, pts)
        n_at = np.searchsorted(tr.steps, fsteps, side="right")  # records with step <= frame step
        n_at = np.minimum(n_at, len(pts)) if ex is None else np.where(n_at >= ex + 1, len(pts), np.minimum(n_at, ex))
        parts.append((tr, pts, ex, n_at))

    if three_d:
        fig, ax = _figure(None, figsize, projection="3d")
        ax.computed_zorder = False  # paths stay drawn above the surface
        from ._figure import _grid

        X, Y, Z = _grid(problem, window, 60)
        log = problem.log_levels if log is None else log
        finite = Z[np.isfinite(Z)]
        zmin = float(finite.min()) if finite.size else 0.0

        def tz(v):
            v = np.asarray(v, float)
            return np.log10(1.0 + np.maximum(v - zmin, 0.0)) if log else v

        ZT = tz(Z)
        if not log:
            top = float(np.quantile(finite, 0.98)) if finite.size else 1.0
            ZT = np.where(ZT > top, np.nan, ZT)
        ax.plot_surface(X, Y, ZT, cmap="viridis", alpha=0.5, linewidth=0, antialiased=False, rstride=2, cstride=2)
        zoff = 0.01 * (float(np.nanmax(ZT) - np.nanmin(ZT)) or 1.0)
        ax.set_xlim(*window[0])
        ax.set_ylim(*window[1])
        ax.set_xlabel(problem.variables[0])
        ax.set_ylabel(problem.variables[1])
        ax.set_zlabel("log₁₀(1 + f − f_min)" if log else "f")
        ax.view_init(elev=elev, azim=azim)
        zs = []
        for _tr, pts, _ex, _n in parts:
            with np.errstate(all="ignore"):
                zs.append(tz(problem.f(pts)) + zoff if len(pts) else np.zeros(0))
    elif problem.dim == 1:
        fig, ax = _figure(None, figsize)
        draw_curve(ax, problem, *window[0])
        ys = np.concatenate([pts[:, 1] for _tr, pts, _ex, _n in parts] + [ax.lines[0].get_ydata()])
        ys = ys[np.isfinite(ys)]
        pad = 0.05 * (float(ys.max() - ys.min()) or 1.0)
        ax.set_ylim(float(ys.min()) - pad, float(ys.max()) + pad)
        zs = [None] * len(parts)
    else:
        fig, ax = _figure(None, figsize)
        draw_background(ax, problem, window, levels=levels, log=log)
        _mark_minima(ax, problem, window)
        zs = [None] * len(parts)

    lines, heads = [], []
    seen = set()
    for (tr, pts, _ex, _n), _zz in zip(parts, zs):
        c = cols[tr.label]
        label = tr.label if tr.label not in seen else None
        seen.add(tr.label)
        if three_d:
            (ln,) = ax.plot([], [], [], color=c, lw=1.8, label=label, zorder=10)
            (hd,) = ax.plot([], [], [], marker="o", ms=6, color=c, mec="k", ls="none", zorder=11)
        elif problem.dim == 1:  # the iterates so far as points joined on the curve
            (ln,) = ax.plot([], [], "-o", color=c, lw=1.0, ms=3.5, alpha=0.9, label=label, zorder=3)
            (hd,) = ax.plot([], [], marker="o", ms=9, color=c, mec="k", ls="none", zorder=6, clip_on=False)
            ax.plot(*pts[0], marker="o", ms=7, color="white", mec="k", mew=1.2, zorder=5)
        else:
            (ln,) = ax.plot([], [], color=c, lw=1.8, label=label, zorder=4)
            (hd,) = ax.plot([], [], marker="o", ms=7, color=c, mec="k", ls="none", zorder=6, clip_on=False)
            ax.plot(*pts[0], marker="o", ms=7, color="white", mec="k", mew=1.2, zorder=5)
        lines.append(ln)
        heads.append(hd)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=_fontsize(7), loc=legend_loc or ("upper left" if three_d else "best"), framealpha=0.85)
    head_title = title if title is not None else _title(problem, trs, window)
    ttl = ax.set_title(f"{head_title}\nstep {int(fsteps[0])}", fontsize=_fontsize(9))

    def draw(k):
        for (_tr, pts, ex, n_at), zz, ln, hd in zip(parts, zs, lines, heads):
            n = int(n_at[k])
            lo = 0 if tail is None else max(0, n - int(tail))
            seg = pts[lo:n]
            gone = ex is not None and n >= len(pts)
            if three_d:
                ln.set_data_3d(seg[:, 0], seg[:, 1], zz[lo:n])
                if n:
                    hd.set_data_3d([seg[-1, 0]], [seg[-1, 1]], [zz[n - 1]])
            else:
                ln.set_data(seg[:, 0], seg[:, 1])
                if n:
                    hd.set_data([seg[-1, 0]], [seg[-1, 1]])
            hd.set_marker("X" if gone else "o")
        if three_d and rotate:
            ax.view_init(elev=elev, azim=azim + rotate * k / max(len(fsteps) - 1, 1))
        ttl.set_text(f"{head_title}\nstep {int(fsteps[k])}")
        return [*lines, *heads, ttl]

    return Scene(fig, fsteps, draw, [*lines, *heads, ttl], lines, heads)


def _write_gif(fig, moving, draw, n, fps, path, blit=True):
    """Render ``n`` frames on the Agg canvas (static parts drawn once when ``blit``) and write
    them with Pillow on one shared 256-colour palette, the last frame's: exactly ``n`` frames.
    The last frame is rendered first for its palette, and every frame is reduced to the palette
    as it is rendered: the frames held until Pillow writes them take one byte per pixel."""
    from PIL import Image

    canvas = fig.canvas
    if blit:
        for a in moving:
            a.set_animated(True)
        canvas.draw()
        bg = canvas.copy_from_bbox(fig.bbox)

    def render(k):
        draw(k)
        if blit:
            canvas.restore_region(bg)
            for a in moving:
                fig.draw_artist(a)
        else:
            canvas.draw()
        return Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])

    # octree keeps small saturated areas (the paths) apart from the big smooth ones (the map)
    palette = render(n - 1).quantize(colors=255, method=Image.Quantize.FASTOCTREE)
    frames = [render(k).quantize(palette=palette, dither=Image.Dither.NONE) for k in range(n)]
    duration = max(int(round(1000.0 / fps)), 20)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration, loop=0, optimize=False, disposal=1)
