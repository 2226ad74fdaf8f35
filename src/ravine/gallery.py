"""Every picture of the lectures, reproduced: ``build(out_dir)`` writes them and ``gallery.md``.

``make demo`` (``ravine demo``) calls :func:`build`; ``python -m ravine.gallery --docs docs``
also refreshes the small committed selection under ``docs/img/`` and ``docs/gallery.md``.

Pictures (hyperparameters are in every title/legend):

* ``hero.png`` -- lecture 004's ravine story on Rosenbrock: GD bouncing across the ravine, SGD
  with gradient noise, momentum, RMSProp, Adam; contour + loss curves.
* ``ellipse_momentum.png`` -- lecture 002 (after d2l §12.6): f = 0.1x1² + 2x2², η = 0.4 and 0.6
  without momentum, η = 0.6 with β = 0.5 and 0.25 (torch-form momentum v ← βv + g, θ ← θ − ηv).
* ``seven_optimizers.gif`` / ``.png`` -- lecture 000's comparison on Beale: SGD, momentum, NAG,
  Adagrad, AdaDelta (Zeiler, lr 1) and lecture 45's "AdaDelta" (windowed RMSProp), RMSProp, Adam.
* ``adagrad_vs_rmsprop.png`` -- Adagrad's vanishing step beside RMSProp's (‖Δθ_t‖ vs t).
* ``adadelta_eps.png`` -- lecture 001: AdaDelta's ε acting as a learning rate.
* ``sweep_momentum.png`` -- steps to tolerance over (η, β) for heavy-ball SGD on the ellipse,
  with the stability edge of :class:`ravine.analysis.QuadraticRates`.
* ``sweep_adam_betas.png`` -- Adam's final loss over (β1, β2) on Rosenbrock.
* ``surface_ravine.png`` -- the ravine story on the 3-D surface.
* ``seed_bands.png`` -- noisy SGD / momentum / Adam on Rosenbrock, bands over 5 seeds (geometric on the log axis).
* ``ravine_3d.gif`` -- the ravine story moving on the surface.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

__all__ = ["build", "write_docs", "DOCS_SELECTION"]

#: files copied into docs/img by write_docs (kept small: PNG ≤ ~150 KB, GIFs ≤ ~1.5 MB together)
DOCS_SELECTION = (
    "hero.png",
    "ellipse_momentum.png",
    "seven_optimizers.gif",
    "adagrad_vs_rmsprop.png",
    "adadelta_eps.png",
    "sweep_momentum.png",
    "training_bands.png",
)

ROSEN_START = (-1.2, 1.0)
_LAST_META: dict = {}  # name -> (title, caption) of the last build


def _ravine_runs(steps=2000):
    from .rules import SGD, Adam, RMSprop
    from .runner import run

    st = np.array(ROSEN_START)
    gd = run({"GD (η 1.45e-3)": SGD(lr=1.45e-3)}, "rosenbrock", st, steps, backend="numpy")
    others = run(
        {
            "momentum (η 1e-3, β 0.9)": SGD(lr=1e-3, momentum=0.9),
            "RMSProp (η 1e-2, α 0.9)": RMSprop(lr=1e-2, alpha=0.9),
            "Adam (η 2e-2)": Adam(lr=2e-2),
        },
        "rosenbrock",
        st,
        steps,
        tol=1e-8,
        backend="numpy",
    )
    noisy = run(
        {"SGD + gradient noise (η 1e-3, σ 3)": SGD(lr=1e-3)},
        "rosenbrock",
        st,
        steps,
        grad_noise=3.0,
        seed=1,
        backend="numpy",
    )
    return [gd, others, noisy]


def build(out_dir, quick: bool = False) -> list[tuple[Path, str]]:
    """Make every gallery picture into ``out_dir`` and write ``out_dir/gallery.md``.

    Returns ``[(path, command), ...]``: each picture and the ``ravine ...`` command(s) that
    make it (one line per panel where a picture has several). ``quick`` makes fewer frames and
    coarser sweeps. Runs in well under a minute on two cores (NumPy runner; no compilation).
    """
    from . import plot
    from .plot import animate
    from .rules import NAG, SGD, Adadelta, Adagrad, Adam, RMSprop, WindowedRMSprop
    from .runner import run

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    made: list[tuple[Path, str, str, str]] = []  # path, command, title, caption

    def add(name, command, title, caption):
        made.append((out / name, command, title, caption))

    # ---------------------------------------------------------------- 1. the ravine (lecture 004)
    steps = 600 if quick else 2000
    ravine = _ravine_runs(steps)
    fig, axes = plot.new_figure(1, 2, figsize=(11, 4.6), width_ratios=[1.35, 1])
    plot.contour(
        "rosenbrock",
        ravine,
        ax=axes[0, 0],
        bounds=((-1.5, 1.3), (-0.3, 1.6)),
        markers="",
        title=f"Rosenbrock (a 1, b 100) from {ROSEN_START}, {steps} steps",
        legend_loc="upper center",
    )
    # the bounce itself: GD's first steps, zoomed (at the start the curvature across the valley
    # is λmax ≈ 1.37e3, so η = 1.45e-3 sits just under the 2/λmax edge: each step overshoots)
    zoom = axes[0, 0].inset_axes([0.60, 0.04, 0.39, 0.42])
    gd_first = ravine[0].theta[:13, 0]
    plot.contour(
        "rosenbrock",
        {"GD": gd_first},
        ax=zoom,
        bounds=((-1.23, -0.86), (0.985, 1.14)),
        levels=16,
        markers="",
        legend=False,
        title="",
        colors={"GD": plot.COLORS[0]},
    )
    zoom.plot(gd_first[:, 0], gd_first[:, 1], "o", ms=3, color=plot.COLORS[0])
    for t in range(4):
        zoom.annotate(str(t), gd_first[t], textcoords="offset points", xytext=(4, 3), fontsize=7)
    zoom.set_xticks([])
    zoom.set_yticks([])
    zoom.set_xlabel("")
    zoom.set_ylabel("")
    zoom.text(
        0.03,
        0.93,
        "GD's first 12 steps: each overshoots",
        transform=zoom.transAxes,
        fontsize=7.5,
        va="top",
        bbox=dict(fc="white", ec="none", alpha=0.8, pad=1.5),
    )
    axes[0, 0].indicate_inset_zoom(zoom, edgecolor="0.2")
    plot.loss_curves(ravine, ax=axes[0, 1], title="loss (log scale)")
    fig.suptitle(
        "Lecture 004's ravine: gradient descent bounces across it, momentum and adaptive steps get along it",
        fontsize=11,
    )
    plot._save(fig, out / "hero.png")
    start = "--start=-1.2,1"
    add(
        "hero.png",
        f"ravine plot sgd:lr=1.45e-3 sgd:lr=1e-3,momentum=0.9 rmsprop:lr=1e-2,alpha=0.9 adam:lr=2e-2 "
        f"--problem rosenbrock {start} --steps {steps} --window=-1.5,1.3,-0.3,1.6 -o ravine.png\n"
        f"ravine plot sgd:lr=1e-3 --noise 3 --seed 1 --problem rosenbrock {start} --steps {steps} -o sgd_noise.png\n"
        f"ravine plot sgd:lr=1.45e-3 sgd:lr=1e-3,momentum=0.9 rmsprop:lr=1e-2,alpha=0.9 adam:lr=2e-2 "
        f"--problem rosenbrock {start} --steps {steps} --kind loss -o ravine_loss.png",
        "The ravine (lecture 004)",
        "Rosenbrock's valley is steep across and flat along. Gradient descent at the largest stable "
        "rate zig-zags across it at the start and then crawls; gradient noise (SGD emulated as in lecture "
        "002) jitters; momentum (heavy ball) swings across the valley but accumulates speed along it; "
        "RMSProp and Adam rescale each coordinate.",
    )

    # ---------------------------------------------------------------- 2. the ellipse (lecture 002)
    cases = [
        ("η 0.4, no momentum", SGD(lr=0.4)),
        ("η 0.6, no momentum", SGD(lr=0.6)),
        ("η 0.6, β 0.5", SGD(lr=0.6, momentum=0.5)),
        ("η 0.6, β 0.25", SGD(lr=0.6, momentum=0.25)),
    ]
    fig, axes = plot.new_figure(2, 2, figsize=(10, 6.4))
    for ax, (lab, rule) in zip(axes.ravel(), cases):
        r = run({lab: rule}, "ellipse", np.array([-5.0, -2.0]), 20, backend="numpy")
        plot.contour(
            "ellipse", r, ax=ax, title=f"{lab}: f after 20 steps = {r.final_loss[0]:.3g}", legend_loc="lower right"
        )
    fig.suptitle(
        "Lecture 002: f = 0.1·x1² + 2·x2² from (−5, −2), 20 steps; GD is stable iff η < 2/λmax = 0.5; "
        "momentum v ← βv + g, θ ← θ − ηv",
        fontsize=10,
    )
    plot._save(fig, out / "ellipse_momentum.png")
    add(
        "ellipse_momentum.png",
        "\n".join(
            f"ravine plot {spec} --problem ellipse --start=-5,-2 --steps 20 -o {fn}"
            for spec, fn in (
                ("sgd:lr=0.4", "eta04.png"),
                ("sgd:lr=0.6", "eta06.png"),
                ("sgd:lr=0.6,momentum=0.5", "eta06_b05.png"),
                ("sgd:lr=0.6,momentum=0.25", "eta06_b025.png"),
            )
        ),
        "Momentum on the distorted ellipsoid (lecture 002)",
        "η = 0.4 converges slowly along x1; η = 0.6 > 2/λmax = 0.5 oscillates out of the window in "
        "x2 (marked ✕ where it leaves); momentum with the same η = 0.6 converges (β = 0.5 and 0.25).",
    )

    # ---------------------------------------------------------------- 3. seven optimizers (lecture 000)
    seven = {
        "SGD (η 1e-3)": SGD(lr=1e-3),
        "momentum (η 1e-3, β 0.9)": SGD(lr=1e-3, momentum=0.9),
        "NAG (η 1e-3, β 0.9)": NAG(lr=1e-3, momentum=0.9),
        "Adagrad (η 0.5)": Adagrad(lr=0.5),
        "AdaDelta, Zeiler (lr 1, ρ 0.9, ε 1e-6)": Adadelta(lr=1.0, rho=0.9, eps=1e-6),
        "lecture 45 'AdaDelta' = windowed RMSProp (η 0.01, W 10)": WindowedRMSprop(lr=0.01, window=10),
        "RMSProp (η 0.01, α 0.9)": RMSprop(lr=0.01, alpha=0.9),
        "Adam (η 0.05)": Adam(lr=0.05),
    }
    bstart = np.array([-1.0, -1.5])
    r7 = run(seven, "beale", bstart, 500, backend="numpy")
    bwin = ((-1.5, 4.0), (-2.0, 1.5))
    ttl = "Beale from (−1, −1.5), 500 steps"
    plot.contour(
        "beale",
        r7,
        bounds=bwin,
        title=ttl,
        path=out / "seven_optimizers.png",
        figsize=(7.5, 5.0),
        legend_loc="lower right",
    )
    animate(
        "beale",
        r7,
        out / "seven_optimizers.gif",
        frames=15 if quick else 60,
        fps=12,
        bounds=bwin,
        title=ttl,
        figsize=(6.4, 4.6),
        dpi=72,
        legend_loc="lower right",
    )
    seven_cmd = (
        "sgd:lr=1e-3 sgd:lr=1e-3,momentum=0.9 nag:lr=1e-3,momentum=0.9 adagrad:lr=0.5 "
        "adadelta:lr=1,rho=0.9,eps=1e-6 windowed_rmsprop:lr=0.01,window=10 rmsprop:lr=0.01,alpha=0.9 "
        "adam:lr=0.05 --problem beale --start=-1,-1.5 --steps 500 --window=-1.5,4,-2,1.5"
    )
    add(
        "seven_optimizers.gif",
        f"ravine animate {seven_cmd} --frames 60 --fps 12 -o seven_optimizers.gif",
        "Seven optimizers of lecture 45 (lecture 000), animated",
        "Both methods called AdaDelta are shown: Zeiler's (unit-corrected, lr 1) and the lecture's "
        "moving-window RMSProp.",
    )
    add(
        "seven_optimizers.png",
        f"ravine plot {seven_cmd} -o seven_optimizers.png",
        "Seven optimizers of lecture 45 (lecture 000), final paths",
        "",
    )

    # ---------------------------------------------------------------- 4. Adagrad vs RMSProp
    n4 = 500
    r4 = run(
        {"Adagrad (η 0.1)": Adagrad(lr=0.1), "RMSProp (η 0.1, α 0.9)": RMSprop(lr=0.1, alpha=0.9)},
        "ellipse",
        np.array([-5.0, -2.0]),
        n4,
        backend="numpy",
    )
    fig, axes = plot.new_figure(1, 2, figsize=(11, 4.2), width_ratios=[1.2, 1])
    plot.contour(
        "ellipse",
        r4,
        ax=axes[0, 0],
        markers="",
        legend_loc="lower right",
        title=f"ellipse 0.1·x1² + 2·x2² from (−5, −2), {n4} steps",
    )
    plot.step_sizes(
        r4,
        ax=axes[0, 1],
        reference={"η/√t": lambda t: 0.1 / np.sqrt(t)},
        title="step size: Adagrad's shrinks like η/√t, RMSProp's stays ≈ η",
    )
    fig.suptitle(
        "Adagrad sums every squared gradient, so its step vanishes; RMSProp's leaky average "
        "keeps it (lectures 000, 001, 003)",
        fontsize=10.5,
    )
    plot._save(fig, out / "adagrad_vs_rmsprop.png")
    add(
        "adagrad_vs_rmsprop.png",
        f"ravine plot adagrad:lr=0.1 rmsprop:lr=0.1,alpha=0.9 --problem ellipse --start=-5,-2 --steps {n4} "
        "-o adagrad_rmsprop.png",
        "Adagrad's vanishing step beside RMSProp's",
        "Adagrad is still crawling along x1 after 500 steps; RMSProp arrives in about 60 and then keeps "
        "stepping ≈ η around the minimum (it never anneals).",
    )

    # ---------------------------------------------------------------- 5. AdaDelta's ε (lecture 001)
    eps_list = (1e-8, 1e-6, 1e-4, 1e-2)
    r5 = run(
        {f"ε = {e:g}": Adadelta(lr=1.0, rho=0.9, eps=e) for e in eps_list},
        "ellipse",
        np.array([-5.0, -2.0]),
        300,
        backend="numpy",
    )
    fig, axes = plot.new_figure(1, 2, figsize=(11, 4.2), width_ratios=[1.3, 1])
    plot.contour(
        "ellipse", r5, ax=axes[0, 0], title="ellipse 0.1·x1² + 2·x2² from (−5, −2), 300 steps", legend_loc="lower right"
    )
    plot.loss_curves(r5, ax=axes[0, 1], title="first step ≈ √(ε/(1−ρ)): 3e-4, 3e-3, 0.03, 0.3")
    fig.suptitle(
        "Lecture 001: AdaDelta (Zeiler, lr 1, ρ 0.9) is not learning-rate free: ε acts as the learning rate",
        fontsize=10.5,
    )
    plot._save(fig, out / "adadelta_eps.png")
    add(
        "adadelta_eps.png",
        "ravine plot "
        + " ".join(f"adadelta:lr=1,rho=0.9,eps={e:g}" for e in eps_list)
        + " --problem ellipse --start=-5,-2 --steps 300 -o adadelta_eps.png",
        "AdaDelta's ε acts as a learning rate (lecture 001)",
        "At t = 1, Δ = √ε/√((1−ρ)g² + ε)·g ≈ √(ε/(1−ρ))·sign g: with lr = 1 the size of the first steps is "
        "set by ε. (ε = 1e-2 reaches the minimum by step ~100 and is then thrown out again: once the "
        "gradients are tiny, √(u + ε)/√(s + ε) grows; that is AdaDelta, not a plotting artefact.)",
    )

    # ---------------------------------------------------------------- 6. sweeps
    nl, nb = (10, 8) if quick else (28, 24)
    plot.heatmap(
        "sgd",
        "ellipse",
        ("lr", np.geomspace(0.01, 2.0, nl)),
        ("momentum", np.linspace(0, 0.95, nb)),
        metric="steps",
        steps=150 if quick else 300,
        tol=1e-4,
        path=out / "sweep_momentum.png",
        title="SGD + heavy-ball momentum on the ellipse from (−5, −2): steps until ‖∇f‖ ≤ 1e-4",
    )
    add(
        "sweep_momentum.png",
        f"ravine sweep sgd --problem ellipse --x lr=0.01:2:{nl}:log --y momentum=0:0.95:{nb} --metric steps "
        f"--steps {150 if quick else 300} --tol 1e-4 -o sweep_momentum.png",
        "Where momentum is stable: (η, β) sweep with the heavy-ball bound",
        "Every cell is one trajectory of one vectorized run. The dashed curve is where the heavy-ball "
        "spectral radius (ravine.analysis.QuadraticRates) reaches 1; the dotted line is GD's 2/λmax.",
    )
    n1, n2 = (5, 5) if quick else (16, 14)
    n_adam = 200 if quick else 500
    plot.heatmap(
        Adam(lr=0.02),
        "rosenbrock",
        ("beta1", np.linspace(0.0, 0.99, n1)),
        ("beta2", np.linspace(0.9, 0.9999, n2)),
        metric="loss",
        steps=n_adam,
        starts=np.array([ROSEN_START]),
        path=out / "sweep_adam_betas.png",
        title=f"Adam (η 0.02) on Rosenbrock from (−1.2, 1): final f − f* after {n_adam} steps",
    )
    add(
        "sweep_adam_betas.png",
        f"ravine sweep adam:lr=0.02 --problem rosenbrock {start} --x beta1=0:0.99:{n1} "
        f"--y beta2=0.9:0.9999:{n2} --steps {n_adam} -o sweep_adam_betas.png",
        "Adam over (β1, β2)",
        "",
    )

    # ---------------------------------------------------------------- 7. surface + 3-D animation
    surf_runs = ravine[:2]
    plot.surface3d(
        "rosenbrock",
        surf_runs,
        path=out / "surface_ravine.png",
        bounds=((-1.5, 1.5), (-0.5, 2.0)),
        title="The ravine on the surface (log scale)",
        elev=50,
        azim=-110,
    )
    add(
        "surface_ravine.png",
        f"ravine plot sgd:lr=1.45e-3 sgd:lr=1e-3,momentum=0.9 rmsprop:lr=1e-2,alpha=0.9 adam:lr=2e-2 "
        f"--problem rosenbrock {start} --steps {steps} --window=-1.5,1.5,-0.5,2 --kind surface -o surface.png",
        "The ravine in 3-D",
        "",
    )
    animate(
        "rosenbrock",
        surf_runs,
        out / "ravine_3d.gif",
        frames=8 if quick else 40,
        fps=10,
        three_d=True,
        bounds=((-1.5, 1.5), (-0.5, 2.0)),
        title="The ravine in 3-D",
        dpi=64,
        elev=50,
        azim=-110,
    )
    add(
        "ravine_3d.gif",
        f"ravine animate sgd:lr=1.45e-3 sgd:lr=1e-3,momentum=0.9 rmsprop:lr=1e-2,alpha=0.9 adam:lr=2e-2 "
        f"--problem rosenbrock {start} --steps {steps} --window=-1.5,1.5,-0.5,2 --3d --frames 40 --fps 10 "
        "-o ravine_3d.gif",
        "The ravine in 3-D, animated",
        "",
    )

    # ---------------------------------------------------------------- 8. seed bands
    seeds = 2 if quick else 5
    n_b = 300 if quick else 1000
    hist: dict = {}
    for s in range(seeds):
        r = run(
            {
                "SGD (η 1e-3)": SGD(lr=1e-3),
                "momentum (η 1e-3, β 0.9)": SGD(lr=1e-3, momentum=0.9),
                "Adam (η 2e-2)": Adam(lr=2e-2),
            },
            "rosenbrock",
            np.array(ROSEN_START),
            n_b,
            grad_noise=2.0,
            seed=s,
            record=5,
            backend="numpy",
        )
        for i, lab in enumerate(r.labels):
            hist.setdefault(lab, []).append(r.loss[:, i])
    plot.seed_bands(
        hist,
        x=r.steps,
        path=out / "seed_bands.png",
        xlabel="step",
        ylabel="f(θ)",
        title=f"Rosenbrock with gradient noise σ 2: {seeds} seeds (the legend says which statistics)",
    )
    add(
        "seed_bands.png",
        "\n".join(
            f"ravine plot sgd:lr=1e-3 sgd:lr=1e-3,momentum=0.9 adam:lr=2e-2 --problem rosenbrock "
            f"{start} --steps {n_b} --noise 2 --seed {s} --kind loss -o seed{s}.png"
            for s in range(seeds)
        ),
        "Training curves over seeds (plot.seed_bands)",
        "plot.seed_bands takes label → list of per-seed arrays, as a training harness records them.",
    )

    # ---------------------------------------------------------------- 9. seed bands from real training
    try:
        from .train import TrainConfig, train
    except ImportError:  # torch / scikit-learn not installed: the analytic bands above suffice
        train = None
    if train is not None:
        t_seeds = 2 if quick else 3
        epochs = 4 if quick else 12
        specs = {
            "SGD (η 0.05)": ("sgd", 0.05, {}),
            "momentum (η 0.05, β 0.9)": ("sgd", 0.05, {"momentum": 0.9}),
            "Adam (η 3e-3)": ("adam", 3e-3, {}),
        }
        curves: dict = {}
        for lab, (opt, lr, extra) in specs.items():
            for s in range(t_seeds):
                res = train(
                    TrainConfig(
                        problem="digits",
                        model="logreg",
                        optimizer=opt,
                        lr=lr,
                        optimizer_args={**extra, "impl": "eager"},
                        epochs=epochs,
                        seed=s,
                        batch_size=32,
                    )
                )
                curves.setdefault(lab, []).append(np.asarray(res.metric("val_loss"), dtype=float))
        plot.seed_bands(
            curves,
            x=np.arange(1, epochs + 1),
            path=out / "training_bands.png",
            xlabel="epoch",
            ylabel="validation loss",
            log=True,
            title=f"Logistic regression on sklearn's digits: geometric mean ×/÷ std over {t_seeds} seeds",
        )
        add(
            "training_bands.png",
            "\n".join(
                f"ravine train --problem digits --model logreg --optimizer {o} --lr {lr:g} "
                + "".join(f"--opt {k}={v} " for k, v in e.items())
                + f"--batch-size 32 --epochs {epochs} --seed {s}"
                for _, (o, lr, e) in specs.items()
                for s in range(t_seeds)
            ),
            "Training curves over seeds (ravine.train + plot.seed_bands)",
            "Each curve is a real training run of the harness (ravine.optim optimizers); on the log axis "
            "the band is the geometric mean ×/÷ the geometric standard deviation over seeds "
            "(initialisation and shuffling).",
        )

        # ------------------------------------------------------------ 10. what the optimizers found
        from .landscape import gallery_figures

        common = "--problem digits --model logreg --epochs 8"
        meta = {
            "landscape_interpolation.png": (
                f"ravine landscape interpolate {common} --optimizers sgd:0.1,adam:0.01",
                "The loss along the line between two solutions (ravine.landscape, lecture 004 Fig. 1)",
                "SGD and Adam trained from one initialization on sklearn's digits; the training and test loss "
                "and accuracy at θ(α) = (1 − α)·θ_SGD + α·θ_Adam, α ∈ [−0.5, 1.5] (Goodfellow et al. 2015).",
            ),
            "landscape_plane.png": (
                f"ravine landscape plane {common} --optimizer adam --lr 0.01 --grid 21",
                "A filter-normalized plane around a solution, as contours and as a surface",
                "θ* + xδ + yη with random directions δ, η normalized filter by filter (Li et al. 2018).",
            ),
            "landscape_spectrum.png": (
                f"ravine landscape spectrum {common} --optimizer sgd --lr 0.1",
                "The Hessian's eigenvalue density at SGD's and Adam's solutions",
                "Stochastic Lanczos quadrature (Ghorbani et al. 2019): Hessian-vector products on the whole "
                "training split, never the Hessian itself.",
            ),
            "landscape_sharpness.png": (
                "ravine landscape track --problem digits --model mlp --width 32 --samples 500 --lr 0.5 --lr 2 "
                "--steps 150 --every 5",
                "Sharpness during full-batch gradient descent, with the 2/η lines",
                "Lecture 002's largest stable step 2/λmax meets real training: λmax of the training loss's Hessian "
                "every 5 steps of gradient descent. At η = 2 it overshoots 2/η = 1, is pushed back to it, then falls; "
                "digits is fitted too fast for it to hover there (the edge of stability, Cohen et al. 2021, is "
                "shown on MNIST-1D in docs/landscape.md).",
            ),
        }
        for p in gallery_figures(out, quick=quick):
            add(p.name, *meta[p.name])

    _LAST_META.clear()
    _LAST_META.update({p.name: (t, cap) for p, _, t, cap in made})
    _write_md(
        out / "gallery.md",
        [(p.name, c, t, cap) for p, c, t, cap in made],
        intro=f"Made by `ravine.gallery.build({str(out)!r})` (`make demo`).",
    )
    return [(p, c) for p, c, _, _ in made]


def _write_md(path: Path, items, intro="", img_prefix=""):
    lines = [
        "# Gallery",
        "",
        intro,
        "",
        "Each picture comes with the `ravine` command(s) that draw it (one per panel where a picture "
        "has several; the gallery composes the panels with `ravine.plot`'s `ax=` argument).",
        "",
    ]
    for name, cmd, title, caption in items:
        lines += [f"## {title}", "", f"![{title}]({img_prefix}{name})", ""]
        if caption:
            lines += [caption, ""]
        lines += ["```sh", cmd, "```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_docs(docs_dir="docs", out_dir="out/gallery", quick=False):
    """Build the gallery into ``out_dir`` and copy :data:`DOCS_SELECTION` into
    ``docs_dir/img`` (``hero.png`` is the README picture), then write ``docs_dir/gallery.md``."""
    made = build(out_dir, quick=quick)
    docs = Path(docs_dir)
    img = docs / "img"
    img.mkdir(parents=True, exist_ok=True)
    by_name = {p.name: c for p, c in made}
    items = []
    for name in DOCS_SELECTION:
        shutil.copyfile(Path(out_dir) / name, img / name)
        title, caption = _LAST_META.get(name, (name, ""))
        items.append((name, by_name[name], title, caption))
    _write_md(
        docs / "gallery.md",
        items,
        img_prefix="img/",
        intro="A few of the pictures `make demo` draws (all of them: `out/demo/gallery.md`). "
        "`docs/img/hero.png` is the README picture. Regenerate with "
        "`python -m ravine.gallery --docs docs`.",
    )
    return [(img / n, by_name[n]) for n in DOCS_SELECTION]


def main(argv=None):  # pragma: no cover  (python -m ravine.gallery)
    import argparse
    import time

    ap = argparse.ArgumentParser(description="Build the ravine picture gallery.")
    ap.add_argument("--out", default="out/gallery")
    ap.add_argument("--docs", default=None, help="also copy the selection into DOCS/img and write DOCS/gallery.md")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    t = time.time()
    made = write_docs(a.docs, a.out, a.quick) if a.docs else build(a.out, a.quick)
    for p, _ in made:
        print(p, f"{Path(p).stat().st_size / 1024:.0f} KB")
    print(f"{time.time() - t:.1f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
