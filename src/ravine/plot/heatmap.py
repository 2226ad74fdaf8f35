"""Hyperparameter heatmaps: a :func:`ravine.runner.sweep` drawn, with the stability bounds of
:mod:`ravine.analysis` over it on quadratics."""

from __future__ import annotations

import numpy as np

from .. import _checks
from ._figure import _figure, _fontsize, _problem, _save


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


def _edges_log1m(v):
    """Cell edges for values v < 1 spaced evenly in log(1 − v)."""
    v = np.asarray(v, float)
    return 1.0 - _edges(1.0 - v, True)


def _is_log1m(v) -> bool:
    """Values of a decay factor that approach 1 (β2 = 0.9 … 0.9999): spaced evenly in log(1 − v)."""
    v = np.asarray(v, float)
    return bool(v.size >= 3 and (v < 1).all() and (v >= 0).all() and v.max() >= 0.99 and _is_log(1.0 - v))


def _set_scale(ax, which: str, scale: str | None):
    setter = ax.set_xscale if which == "x" else ax.set_yscale
    if scale == "log":
        setter("log")
    elif scale == "log1m":  # v ↦ −log₁₀(1 − v): 0.9, 0.99, 0.999 equally spaced

        def fwd(v):
            return -np.log10(np.clip(1.0 - np.asarray(v, float), 1e-300, None))

        def inv(u):
            return 1.0 - 10.0 ** (-np.asarray(u, float))

        setter("function", functions=(fwd, inv))


def _is_log(v):
    v = np.asarray(v, float)
    if v.size < 3 or (v <= 0).any():
        return False
    dl = np.diff(np.log(v))
    dd = np.diff(v)
    return bool(np.allclose(dl, dl[0], rtol=1e-3)) and not bool(np.allclose(dd, dd[0], rtol=1e-3))


def heatmap(
    rule,
    problem,
    x,
    y,
    *,
    metric="loss",
    steps=200,
    starts=None,
    tol=None,
    divergence=None,
    ax=None,
    path=None,
    title=None,
    theory=True,
    cmap="viridis_r",
    figsize=None,
    dpi=None,
    backend="numpy",
    xscale=None,
    yscale=None,
    annotate=True,
    progress=None,
):
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
    xscale, yscale : "linear", "log" or "log1m" (−log₁₀(1 − v): decay factors near 1, where
        β2 = 0.9, 0.99, 0.999 are the values that matter); default: from the spacing of the
        values (log1m for values up to ≥ 0.99 spaced evenly in log(1 − v)).
    progress : called as ``progress(done, total)`` after each cell (:func:`ravine.runner.sweep`)

    Every cell is one trajectory of one vectorized :func:`ravine.run` over
    :func:`ravine.runner.grid`. Diverged cells are grey with a ✕. The numbers are in
    ``fig.ravine_data`` (x, y, values, status, lr_max …).
    """
    from ..runner import sweep

    problem = _problem(problem)
    sw = sweep(
        rule,
        problem,
        x,
        y,
        metric=metric,
        steps=steps,
        starts=starts,
        tol=tol,
        divergence=divergence,
        backend=backend,
        progress=progress,
    )
    base, (xn, xv), (yn, yv) = sw.rule, (sw.x_name, sw.x), (sw.y_name, sw.y)
    vals, diverged, not_conv, tol = sw.values, sw.diverged, sw.not_converged, sw.tol
    f_star = sw.f_star
    shown = np.where(diverged, np.nan, vals)

    fig, ax = _figure(ax, figsize)
    scales = []
    for axis_values, given in ((xv, xscale), (yv, yscale)):
        if given is None:
            given = "log1m" if _is_log1m(axis_values) else "log" if _is_log(axis_values) else "linear"
        _checks.choice("heatmap", "scale", given, ("log", "log1m", "linear"))
        scales.append(given)
    xsc, ysc = scales
    xlog, ylog = xsc == "log", ysc == "log"
    xe = _edges_log1m(xv) if xsc == "log1m" else _edges(xv, xlog)
    ye = _edges_log1m(yv) if ysc == "log1m" else _edges(yv, ylog)
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
    cb.set_label(
        ("final f − f*" if f_star is not None else "final f") if metric == "loss" else f"steps until ‖∇f‖ ≤ {tol:g}"
    )
    XC, YC = np.meshgrid(xv, yv, indexing="ij")
    ms = max(3.0, min(9.0, 120.0 / max(xv.size, yv.size)))
    if diverged.any():
        ax.scatter(
            XC[diverged],
            YC[diverged],
            marker="x",
            s=ms**2,
            c="#8b0000",
            lw=1.0,
            label="diverged",
            gid="diverged",
            zorder=5,
        )
    if not_conv.any():
        ax.scatter(
            XC[not_conv],
            YC[not_conv],
            marker="o",
            s=(ms * 0.6) ** 2,
            facecolors="none",
            edgecolors="#444444",
            lw=0.7,
            label=f"not converged in {steps} steps",
            gid="not_converged",
            zorder=5,
        )
    _set_scale(ax, "x", xsc)
    _set_scale(ax, "y", ysc)
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(xn)
    ax.set_ylabel(yn)
    data = dict(
        x=xv,
        y=yv,
        x_name=xn,
        y_name=yn,
        values=vals,
        status=sw.status,
        diverged=diverged,
        not_converged=not_conv,
        metric=metric,
        lr_max=None,
        result=sw.result,
    )

    if theory:
        _theory(ax, base, problem, xn, xv, xe, yn, yv, ye, xlog, ylog, data)
    if title is None:  # the rates, decay factors and ε held fixed (kinds from the rule's spec)
        fixed = ", ".join(
            f"{f.name}={getattr(base.h, f.name):g}"
            for f in base.fields
            if f.name not in (xn, yn) and f.kind.name in ("lr", "unit", "positive")
        )
        title = (
            f"{base.name} on {problem.name}: {'final loss' if metric == 'loss' else 'steps to tol'}"
            f" after {steps} steps" + (f" ({fixed})" if fixed else "")
        )
    ax.set_title(title, fontsize=_fontsize(10))
    if annotate and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=_fontsize(7), loc="upper left", framealpha=0.85)
    fig.ravine_data = data
    return _save(fig, path, dpi)


def _theory(ax, rule, problem, xn, xv, xe, yn, yv, ye, xlog, ylog, data):
    from ..analysis import QuadraticRates, constant_hessian, heavy_ball_bound, heavy_ball_form

    A = constant_hessian(problem)
    hb = heavy_ball_form(rule)
    if A is None or hb is None:
        return
    try:
        q = QuadraticRates(A + hb.weight_decay * np.eye(A.shape[0]))
    except ValueError:  # not positive definite: no bound to draw
        return
    eff = hb.effective_lr
    names = {xn, yn}
    h = rule.h

    if names == {"lr", "momentum"}:
        # heavy ball: stable where the spectral radius < 1
        lr_edges = xe if xn == "lr" else ye
        mom_edges = ye if xn == "lr" else xe
        lr_log = xlog if xn == "lr" else ylog
        L = np.geomspace(lr_edges[0], lr_edges[-1], 160) if lr_log else np.linspace(lr_edges[0], lr_edges[-1], 160)
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
        lr_max = hb.lr_of(heavy_ball_bound(q.lambda_max), 0.0)
        data["lr_max"] = lr_max
        line = ax.axvline if xn == "lr" else ax.axhline
        line(lr_max, color="#b00000", ls=":", lw=1.4, gid="lr_max", label=f"GD edge η = 2/λmax = {lr_max:.3g} (β = 0)")
        opt = q.heavy_ball_optimal()
        o_lr = hb.lr_of(opt.lr, opt.momentum)
        px, py = (o_lr, opt.momentum) if xn == "lr" else (opt.momentum, o_lr)
        if xe[0] <= px <= xe[-1] and ye[0] <= py <= ye[-1]:
            ax.plot(
                px,
                py,
                marker="*",
                ms=13,
                color="gold",
                mec="k",
                ls="none",
                label=f"Polyak optimum (η {o_lr:.3g}, β {opt.momentum:.3g})",
                zorder=6,
            )
        data["polyak"] = (o_lr, opt.momentum)
    elif "lr" in names:
        mom = getattr(h, "momentum", 0.0)
        lr_max = hb.lr_of(heavy_ball_bound(q.lambda_max, mom), mom)
        data["lr_max"] = lr_max
        line = ax.axvline if xn == "lr" else ax.axhline
        lab = f"η = 2/λmax = {lr_max:.3g}" if mom == 0 else f"η = 2(1+β)/λmax = {lr_max:.3g}"
        line(lr_max, color="#b00000", ls="--", lw=1.6, gid="lr_max", label=lab)
