"""Pictures of landscapes (matplotlib on the Agg canvas, through ``ravine.plot``'s helpers).

Every function returns the Figure and saves it when given ``path``:

* :func:`interpolation` — loss (and accuracy) along θ(α) = (1 − α)θ_a + αθ_b, train dashed,
  test solid, the two solutions marked at α = 0 and 1 (Goodfellow et al. 2015; lecture 004's Figure 1).
* :func:`contour2d` / :func:`surface3d` — a :class:`~ravine.landscape.surfaces.Plane`
  (filter-normalized slice, Li et al. 2018, or the plane through three solutions).
* :func:`spectral_density` — an SLQ density on a log axis (Ghorbani et al. 2019).
* :func:`sharpness_over_training` — λ_max against step with the 2/η lines (Cohen et al. 2021).
* :func:`gallery_figures` — one small landscape figure in a few seconds, for the gallery/demo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..plot._figure import COLORS, _figure, _save, new_figure
from .spectrum import SpectralDensity
from .surfaces import Line, Plane

__all__ = [
    "interpolation",
    "interpolation_grid",
    "sharpness_scatter",
    "contour2d",
    "surface3d",
    "spectral_density",
    "sharpness_over_training",
    "gallery_figures",
]


def interpolation(
    lines: Sequence[Line] | Line,
    *,
    path=None,
    title: str | None = None,
    acc: bool = True,
    log: bool = True,
    figsize=None,
):
    """Loss (left) and accuracy (right, if ``acc``) along one or more :class:`Line` s."""
    lines = [lines] if isinstance(lines, Line) else list(lines)
    fig, axes = new_figure(1, 2 if acc else 1, figsize=figsize or ((10, 4) if acc else (6, 4)))
    ax_l = axes[0, 0]
    for i, ln in enumerate(lines):
        c = COLORS[i % len(COLORS)]
        lab = f"{ln.labels[0]} → {ln.labels[1]}"
        for s, style in (("train", "--"), ("test", "-")):
            if s in ln.loss:
                ax_l.plot(
                    ln.alphas,
                    ln.loss[s],
                    style,
                    color=c,
                    lw=1.4,
                    label=f"{lab} ({s})" if len(lines) <= 4 or s == "test" else None,
                )
                if acc:
                    axes[0, 1].plot(ln.alphas, 100 * ln.acc[s], style, color=c, lw=1.4)
    for ax in axes[0]:
        for a in (0.0, 1.0):
            ax.axvline(a, color="0.7", lw=0.8, zorder=0)
        ax.set_xlabel("α   (θ = (1 − α) θ_a + α θ_b)")
    if log:
        ax_l.set_yscale("log")
    ax_l.set_ylabel("loss")
    ax_l.legend(fontsize=7, ncol=1 if len(lines) <= 4 else 2)
    if acc:
        axes[0, 1].set_ylabel("accuracy (%)   (train --, test —)")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def interpolation_grid(lines: Sequence[Line], *, path=None, title: str | None = None, ncols: int = 5, log: bool = True):
    """Small multiples: one panel per :class:`Line` (e.g. every pair of solutions), train loss
    dashed and test loss solid, the endpoints' labels in the panel title."""
    lines = list(lines)
    if not lines:
        raise ValueError("lines: need at least one Line, got none")
    ncols = min(ncols, len(lines))
    nrows = -(-len(lines) // ncols)
    fig, axes = new_figure(nrows, ncols, figsize=(2.6 * ncols, 2.2 * nrows + 0.4), sharex=True, sharey=True)
    for ax in axes.flat[len(lines) :]:
        ax.set_visible(False)
    for ax, ln in zip(axes.flat, lines):
        for s, style, c in (("train", "--", COLORS[1]), ("test", "-", COLORS[0])):
            if s in ln.loss:
                ax.plot(ln.alphas, ln.loss[s], style, color=c, lw=1.2, label=s)
        for a in (0.0, 1.0):
            ax.axvline(a, color="0.75", lw=0.7, zorder=0)
        ax.set_title(f"{ln.labels[0]} → {ln.labels[1]}", fontsize=8)
        if log:
            ax.set_yscale("log")
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("α", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("loss", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def sharpness_scatter(
    points: Sequence[Mapping[str, Any]],
    *,
    x: str = "lambda_max",
    y: str = "gap",
    path=None,
    title: str | None = None,
    xlog: bool = True,
):
    """One marker per solution: ``x`` (sharpness) against ``y`` (generalization gap); colour by
    ``point["optimizer"]``, marker by ``point["setting"]``."""
    fig, ax = _figure(None, figsize=(7, 4.8))
    opts = list(dict.fromkeys(p["optimizer"] for p in points))
    sets = list(dict.fromkeys(p["setting"] for p in points))
    marks = "os^Dv<>"
    for p in points:
        ax.scatter(
            p[x],
            p[y],
            color=COLORS[opts.index(p["optimizer"]) % len(COLORS)],
            marker=marks[sets.index(p["setting"]) % len(marks)],
            s=22,
            alpha=0.8,
            lw=0,
        )
    for i, o in enumerate(opts):
        ax.scatter([], [], color=COLORS[i % len(COLORS)], marker="o", label=o)
    for j, st in enumerate(sets):
        ax.scatter([], [], color="0.4", marker=marks[j % len(marks)], label=st)
    if xlog:
        ax.set_xscale("log")
    ax.set_xlabel({"lambda_max": "sharpness λ_max(H) (train split)", "trace": "tr H (Hutchinson)"}.get(x, x))
    ax.set_ylabel({"gap": "generalization gap: train acc − test acc (points)"}.get(y, y))
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title or "sharpness vs generalization gap")
    return _save(fig, path)


def _zlog(Z: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum(Z, 1e-12))


def contour2d(
    plane: Plane,
    *,
    split: str = "train",
    path=None,
    ax=None,
    title: str | None = None,
    levels: int = 30,
    log: bool = True,
):
    """Filled contours of the loss on a :class:`Plane` (log₁₀ loss when ``log``); solutions marked."""
    fig, ax = _figure(ax, figsize=(5.6, 4.8))
    Z = plane.loss[split]
    cs = ax.contourf(plane.x, plane.y, _zlog(Z) if log else Z, levels=levels, cmap="viridis")
    ax.contour(plane.x, plane.y, _zlog(Z) if log else Z, levels=levels, colors="k", linewidths=0.3)
    fig.colorbar(cs, ax=ax, label=f"log₁₀ {split} loss" if log else f"{split} loss")
    for name, (px, py) in plane.points.items():
        ax.plot(px, py, "o", color="w", mec="k", ms=6)
        ax.annotate(name, (px, py), textcoords="offset points", xytext=(5, 5), color="w", fontsize=8)
    ax.set_xlabel("δ" if plane.kind == "filter-normalized" else "distance along θ₂ − θ₁")
    ax.set_ylabel("η" if plane.kind == "filter-normalized" else "orthogonal distance")
    ax.set_aspect("equal" if plane.kind != "filter-normalized" else "auto")
    ax.set_title(title or f"{plane.kind} plane, {split} loss")
    return _save(fig, path)


def surface3d(plane: Plane, *, split: str = "train", path=None, ax=None, title: str | None = None, log: bool = True):
    """The loss surface z = L(θ(x, y)) on a :class:`Plane` (log₁₀ when ``log``)."""
    fig, ax = _figure(ax, figsize=(6, 5), projection="3d")
    X, Y = np.meshgrid(plane.x, plane.y)
    Z = plane.loss[split]
    ax.plot_surface(X, Y, _zlog(Z) if log else Z, cmap="viridis", linewidth=0, antialiased=True)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel(f"log₁₀ {split} loss" if log else f"{split} loss")
    ax.set_title(title or f"{plane.kind} plane")
    return _save(fig, path)


def spectral_density(
    densities: Mapping[str, SpectralDensity] | SpectralDensity,
    *,
    path=None,
    ax=None,
    title: str | None = None,
    floor: float = 1e-8,
):
    """SLQ densities φ(t) on a log y axis (values below ``floor`` cut at it, as PyHessian draws them)."""
    fig, ax = _figure(ax, figsize=(6, 4))
    if isinstance(densities, SpectralDensity):
        densities = {"": densities}
    for i, (name, d) in enumerate(densities.items()):
        ax.semilogy(d.grid, np.maximum(d.density, floor), color=COLORS[i % len(COLORS)], lw=1.2, label=name or None)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density (SLQ, Gaussian σ-broadened)")
    if any(densities):
        ax.legend(fontsize=8)
    ax.set_title(title or "Hessian eigenvalue density")
    return _save(fig, path)


def sharpness_over_training(
    runs: Mapping[str, Mapping[str, Any]],
    *,
    path=None,
    title: str | None = None,
    key: str = "lambda_max",
    threshold_key: str = "threshold_plain",
    loss: bool = True,
    log: bool = False,
    min_step: int = 0,
):
    """λ_max (``key``) against step per run, each with its threshold line (dotted); with the
    training loss below when ``loss``. ``runs``: {label: track_sharpness.arrays()}. Records
    before ``min_step`` are left out of the top panel (e.g. Adam's step 1, where v̂₁ = g₁²)."""
    fig, axes = new_figure(2 if loss else 1, 1, figsize=(7, 6 if loss else 4), sharex=True)
    ax = axes[0, 0]
    for i, (name, r) in enumerate(runs.items()):
        c = COLORS[i % len(COLORS)]
        keep = r["step"] >= min_step
        ax.plot(r["step"][keep], r[key][keep], color=c, lw=1.3, label=name)
        thr = np.nanmedian(r[threshold_key])
        ax.axhline(thr, color=c, ls=":", lw=1.2)
        if loss:
            axes[1, 0].semilogy(r["step"], r["loss"], color=c, lw=1.0)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("λ_max(P⁻¹H)" if key.startswith("pre") else "sharpness λ_max(H)")
    ax.legend(fontsize=8, title="dotted: threshold")
    if loss:
        axes[1, 0].set_ylabel("training loss")
    axes[-1, 0].set_xlabel("step")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def gallery_figures(out_dir, quick: bool = False) -> list[Path]:
    """The landscape pictures of the gallery (``ravine demo``), small enough for seconds each,
    on sklearn's digits with logistic regression and SGD vs Adam from one initialization:

    * ``landscape_interpolation.png``: loss and accuracy along the line between the solutions;
    * ``landscape_plane.png``: the filter-normalized plane around Adam's solution, as a
      contour map and a 3-D surface;
    * ``landscape_spectrum.png``: the Hessian's spectral density at both solutions (SLQ);
    * ``landscape_sharpness.png``: λmax during full-batch gradient descent on a small MLP at two
      step sizes with their 2/η lines (Cohen et al. 2021). Digits is fitted within tens of
      steps, so λmax meets 2/η (η = 2) and falls back rather than hovering at the edge;
      docs/landscape.md shows the hovering on MNIST-1D.

    Returns the paths written.
    """
    import torch

    from ..train import TrainConfig, train
    from .eos import track_sharpness
    from .operators import LossHessian
    from .solutions import splits, train_solutions
    from .spectrum import slq_density
    from .surfaces import interpolate, random_plane

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig(
        problem="digits", model="logreg", epochs=8, batch_size=32, seed=0, optimizer_args={"impl": "eager"}
    )
    paths = []
    with torch.random.fork_rng(devices=[]):
        sols = train_solutions(cfg, {"SGD": {"optimizer": "sgd", "lr": 0.1}, "Adam": {"optimizer": "adam", "lr": 1e-2}})
        data = splits(cfg)
        ln = interpolate(
            sols[0].model,
            sols[1].model,
            data,
            alphas=np.linspace(-0.5, 1.5, 21 if quick else 41),
            labels=("SGD", "Adam"),
        )
        p = out / "landscape_interpolation.png"
        interpolation(ln, path=p, title="digits, logistic regression: from SGD's solution (α=0) to Adam's (α=1)")
        paths.append(p)

        plane = random_plane(sols[1].model, data, n=11 if quick else 21, span=1.0)
        fig, axes = new_figure(1, 2, figsize=(11, 4.4))
        axes[0, 1].remove()
        ax3 = fig.add_subplot(1, 2, 2, projection="3d")
        contour2d(plane, ax=axes[0, 0], title="filter-normalized plane around Adam's solution")
        surface3d(plane, ax=ax3, title="the same plane, as a surface")
        p = out / "landscape_plane.png"
        _save(fig, p)
        paths.append(p)

        dens = {}
        for s in sols:
            op = LossHessian(s.model, data["train"])
            dens[s.label] = slq_density(op, n_probes=2 if quick else 4, n_steps=20 if quick else 40, seed=0)
        p = out / "landscape_spectrum.png"
        spectral_density(dens, path=p)
        paths.append(p)

        runs = {}
        steps = 60 if quick else 150
        for lr in (0.5, 2.0):  # 2/η = 4 and 1
            gd = TrainConfig(
                problem="digits",
                model="mlp",
                width=32,
                optimizer="sgd",
                lr=lr,
                epochs=steps,
                batch_size="full",
                seed=0,
                samples=500,
                optimizer_args={"impl": "eager"},
            )
            tr = track_sharpness(gd, every=5)
            train(gd, step_callback=tr)
            runs[f"GD η={lr:g}"] = tr.arrays()
        p = out / "landscape_sharpness.png"
        sharpness_over_training(runs, path=p)
        paths.append(p)
    return paths
