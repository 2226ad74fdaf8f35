"""Every picture of the lectures, reproduced: ``build(out_dir)`` writes them and ``gallery.md``.

``make demo`` (``ravine demo``) calls :func:`build`; ``python -m ravine.gallery --docs docs``
also refreshes the small committed selection under ``docs/img/`` and ``docs/gallery.md``.

One function per picture, registered in :data:`PICTURES` in the order of ``gallery.md``; each
one's docstring says what it shows, and it returns the files it wrote (:class:`Made`: the
``ravine`` command(s) that draw each, a title and a caption). Hyperparameters are in every
title and legend. Adding a picture is one function with the :func:`picture` decorator.
Pictures that train a model (``needs_torch``) are left out where torch or scikit-learn is not
installed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["build", "write_docs", "DOCS_SELECTION", "PICTURES", "Picture", "Made", "Canvas", "picture"]

#: files copied into docs/img by write_docs (slide size, kept small: PNG ≤ ~260 KB, GIFs ≤ ~1.5 MB together)
DOCS_SELECTION = (
    "hero.png",
    "ellipse_momentum.png",
    "seven_optimizers.gif",
    "adagrad_vs_rmsprop.png",
    "adadelta_eps.png",
    "sweep_momentum.png",
    "training_bands.png",
)

#: the size of the pictures with several panels (16:9; 1920 × 1080 at the slides style's 160 dpi)
WIDE = (12.0, 6.75)

ROSEN_START = (-1.2, 1.0)
#: ROSEN_START as the command line writes it
ROSEN_START_FLAG = "--start=-1.2,1"
#: the four optimizers of the ravine story as the command line writes them (the labels of
#: :func:`_ravine_runs`' first two groups)
RAVINE_SPECS = "sgd:lr=1.45e-3 sgd:lr=1e-3,momentum=0.9 rmsprop:lr=1e-2,alpha=0.9 adam:lr=2e-2"


class Made(NamedTuple):
    """One file a picture function wrote, the command(s) that draw it (one line per panel where
    it has several), and its title and caption in ``gallery.md``."""

    path: Path
    command: str
    title: str
    caption: str = ""


class Canvas:
    """What every picture function is given: the output folder, ``quick`` (fewer frames,
    coarser sweeps), and the ravine story's runs, computed once for the pictures that share them."""

    def __init__(self, out: Path, quick: bool):
        self.out = out
        self.quick = quick
        self._ravine: list | None = None

    @property
    def ravine_steps(self) -> int:
        return 600 if self.quick else 2000

    def ravine_runs(self) -> list:
        """GD; momentum, RMSProp, Adam; SGD with gradient noise — on Rosenbrock (lecture 004)."""
        if self._ravine is None:
            self._ravine = _ravine_runs(self.ravine_steps)
        return self._ravine


class Picture(NamedTuple):
    """A registered picture: its name, the function that draws it, whether it trains a model."""

    name: str
    draw: Callable[[Canvas], list[Made]]
    needs_torch: bool = False


#: name → picture, in the order of ``gallery.md`` (filled by :func:`picture`)
PICTURES: dict[str, Picture] = {}


def picture(
    name: str, needs_torch: bool = False
) -> Callable[[Callable[[Canvas], list[Made]]], Callable[[Canvas], list[Made]]]:
    """Register a picture function under ``name`` (see :data:`PICTURES`)."""

    def register(fn: Callable[[Canvas], list[Made]]) -> Callable[[Canvas], list[Made]]:
        if name in PICTURES:
            raise ValueError(f"gallery: picture {name!r} is registered twice")
        PICTURES[name] = Picture(name, fn, needs_torch)
        return fn

    return register


def _pt(size: float) -> float:
    """A font size in points for matplotlib's default 10-point text, scaled to the active style."""
    from .plot._figure import _fontsize

    return _fontsize(size)


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


@picture("hero")
def hero(c: Canvas) -> list[Made]:
    """``hero.png``: lecture 004's ravine story on Rosenbrock — GD bouncing across the ravine (its
    first steps zoomed), SGD with gradient noise, momentum, RMSProp, Adam; contour + loss curves."""
    from . import plot

    steps = c.ravine_steps
    ravine = c.ravine_runs()
    fig, axes = plot.new_figure(1, 2, figsize=WIDE, width_ratios=[1.35, 1])
    plot.contour(
        "rosenbrock",
        ravine,
        ax=axes[0, 0],
        bounds=((-1.5, 1.3), (-0.3, 1.6)),
        markers="",
        title=f"Rosenbrock (a 1, b 100) from {ROSEN_START},\n{steps} steps",
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
        zoom.annotate(str(t), gd_first[t], textcoords="offset points", xytext=(4, 3), fontsize=_pt(7))
    zoom.set_xticks([])
    zoom.set_yticks([])
    zoom.set_xlabel("")
    zoom.set_ylabel("")
    zoom.text(
        0.03,
        0.93,
        "GD's first steps overshoot",
        transform=zoom.transAxes,
        fontsize=_pt(6.5),
        va="top",
        bbox=dict(fc="white", ec="none", alpha=0.8, pad=1.5),
    )
    axes[0, 0].indicate_inset_zoom(zoom, edgecolor="0.2")
    plot.loss_curves(ravine, ax=axes[0, 1], title="loss (log scale)")
    fig.suptitle(
        "Lecture 004's ravine: gradient descent bounces across it,\nmomentum and adaptive steps get along it",
        fontsize=_pt(11),
    )
    plot._save(fig, c.out / "hero.png")
    start = ROSEN_START_FLAG
    return [
        Made(
            c.out / "hero.png",
            f"ravine plot {RAVINE_SPECS} --problem rosenbrock {start} --steps {steps} "
            "--window=-1.5,1.3,-0.3,1.6 -o ravine.png\n"
            f"ravine plot sgd:lr=1e-3 --noise 3 --seed 1 --problem rosenbrock {start} --steps {steps} "
            "-o sgd_noise.png\n"
            f"ravine plot {RAVINE_SPECS} --problem rosenbrock {start} --steps {steps} --kind loss -o ravine_loss.png",
            "The ravine (lecture 004)",
            "Rosenbrock's valley is steep across and flat along. Gradient descent at the largest stable "
            "rate zig-zags across it at the start and then crawls; gradient noise (SGD emulated as in lecture "
            "002) jitters; momentum (heavy ball) swings across the valley but accumulates speed along it; "
            "RMSProp and Adam rescale each coordinate.",
        )
    ]


@picture("ellipse_momentum")
def ellipse_momentum(c: Canvas) -> list[Made]:
    """``ellipse_momentum.png``: lecture 002 (after d2l §12.6): f = 0.1x1² + 2x2², η = 0.4 and 0.6
    without momentum, η = 0.6 with β = 0.5 and 0.25 (torch-form momentum v ← βv + g, θ ← θ − ηv)."""
    from . import plot
    from .rules import SGD
    from .runner import run

    cases = [
        ("η 0.4, no momentum", SGD(lr=0.4)),
        ("η 0.6, no momentum", SGD(lr=0.6)),
        ("η 0.6, β 0.5", SGD(lr=0.6, momentum=0.5)),
        ("η 0.6, β 0.25", SGD(lr=0.6, momentum=0.25)),
    ]
    fig, axes = plot.new_figure(2, 2, figsize=WIDE)
    for ax, (lab, rule) in zip(axes.ravel(), cases):
        r = run({lab: rule}, "ellipse", np.array([-5.0, -2.0]), 20, backend="numpy")
        plot.contour("ellipse", r, ax=ax, title=f"{lab}: f = {r.final_loss[0]:.3g}", legend_loc="lower right")
    fig.suptitle(
        "Lecture 002: f = 0.1·x1² + 2·x2² from (−5, −2), 20 steps;\nGD is stable iff η < 2/λmax = 0.5; "
        "momentum v ← βv + g, θ ← θ − ηv",
        fontsize=_pt(10),
    )
    plot._save(fig, c.out / "ellipse_momentum.png")
    return [
        Made(
            c.out / "ellipse_momentum.png",
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
    ]


@picture("seven_optimizers")
def seven_optimizers(c: Canvas) -> list[Made]:
    """``seven_optimizers.gif`` and ``.png``: lecture 000's comparison on Beale — SGD, momentum,
    NAG, Adagrad, AdaDelta (Zeiler, lr 1) and lecture 45's "AdaDelta" (windowed RMSProp),
    RMSProp, Adam."""
    from . import plot
    from .plot import animate
    from .rules import NAG, SGD, Adadelta, Adagrad, Adam, RMSprop, WindowedRMSprop
    from .runner import run

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
    r7 = run(seven, "beale", np.array([-1.0, -1.5]), 500, backend="numpy")
    bwin = ((-1.5, 4.0), (-2.0, 1.5))
    ttl = "Beale from (−1, −1.5), 500 steps"
    plot.contour(
        "beale",
        r7,
        bounds=bwin,
        title=ttl,
        path=c.out / "seven_optimizers.png",
        legend_loc="lower right",
    )
    animate(
        "beale",
        r7,
        c.out / "seven_optimizers.gif",
        frames=15 if c.quick else 30,  # 30 frames of 1600 x 900: about 1.3 MB in docs/img
        fps=6,
        bounds=bwin,
        title=ttl,
        legend_loc="lower right",
    )
    seven_cmd = (
        "sgd:lr=1e-3 sgd:lr=1e-3,momentum=0.9 nag:lr=1e-3,momentum=0.9 adagrad:lr=0.5 "
        "adadelta:lr=1,rho=0.9,eps=1e-6 windowed_rmsprop:lr=0.01,window=10 rmsprop:lr=0.01,alpha=0.9 "
        "adam:lr=0.05 --problem beale --start=-1,-1.5 --steps 500 --window=-1.5,4,-2,1.5"
    )
    return [
        Made(
            c.out / "seven_optimizers.gif",
            f"ravine animate {seven_cmd} --frames 30 --fps 6 -o seven_optimizers.gif",
            "Seven optimizers of lecture 45 (lecture 000), animated",
            "Both methods called AdaDelta are shown: Zeiler's (unit-corrected, lr 1) and the lecture's "
            "moving-window RMSProp.",
        ),
        Made(
            c.out / "seven_optimizers.png",
            f"ravine plot {seven_cmd} -o seven_optimizers.png",
            "Seven optimizers of lecture 45 (lecture 000), final paths",
        ),
    ]


@picture("adagrad_vs_rmsprop")
def adagrad_vs_rmsprop(c: Canvas) -> list[Made]:
    """``adagrad_vs_rmsprop.png``: Adagrad's vanishing step beside RMSProp's (‖Δθ_t‖ vs t)."""
    from . import plot
    from .rules import Adagrad, RMSprop
    from .runner import run

    n4 = 500
    r4 = run(
        {"Adagrad (η 0.1)": Adagrad(lr=0.1), "RMSProp (η 0.1, α 0.9)": RMSprop(lr=0.1, alpha=0.9)},
        "ellipse",
        np.array([-5.0, -2.0]),
        n4,
        backend="numpy",
    )
    fig, axes = plot.new_figure(1, 2, figsize=WIDE, width_ratios=[1.2, 1])
    plot.contour(
        "ellipse",
        r4,
        ax=axes[0, 0],
        markers="",
        legend_loc="lower right",
        title=f"ellipse 0.1·x1² + 2·x2² from (−5, −2),\n{n4} steps",
    )
    plot.step_sizes(
        r4,
        ax=axes[0, 1],
        reference={"η/√t": lambda t: 0.1 / np.sqrt(t)},
        title="step size: Adagrad's shrinks like η/√t,\nRMSProp's stays ≈ η",
    )
    fig.suptitle(
        "Adagrad sums every squared gradient, so its step vanishes;\nRMSProp's leaky average "
        "keeps it (lectures 000, 001, 003)",
        fontsize=_pt(10.5),
    )
    plot._save(fig, c.out / "adagrad_vs_rmsprop.png")
    return [
        Made(
            c.out / "adagrad_vs_rmsprop.png",
            f"ravine plot adagrad:lr=0.1 rmsprop:lr=0.1,alpha=0.9 --problem ellipse --start=-5,-2 --steps {n4} "
            "-o adagrad_rmsprop.png",
            "Adagrad's vanishing step beside RMSProp's",
            "Adagrad is still crawling along x1 after 500 steps; RMSProp arrives in about 60 and then keeps "
            "stepping ≈ η around the minimum (it never anneals).",
        )
    ]


@picture("adadelta_eps")
def adadelta_eps(c: Canvas) -> list[Made]:
    """``adadelta_eps.png``: lecture 001 — AdaDelta's ε acting as a learning rate."""
    from . import plot
    from .rules import Adadelta
    from .runner import run

    eps_list = (1e-8, 1e-6, 1e-4, 1e-2)
    r5 = run(
        {f"ε = {e:g}": Adadelta(lr=1.0, rho=0.9, eps=e) for e in eps_list},
        "ellipse",
        np.array([-5.0, -2.0]),
        300,
        backend="numpy",
    )
    fig, axes = plot.new_figure(1, 2, figsize=WIDE, width_ratios=[1.3, 1])
    plot.contour(
        "ellipse",
        r5,
        ax=axes[0, 0],
        title="ellipse 0.1·x1² + 2·x2² from (−5, −2),\n300 steps",
        legend_loc="lower right",
    )
    plot.loss_curves(r5, ax=axes[0, 1], title="first step ≈ √(ε/(1−ρ)):\n3e-4, 3e-3, 0.03, 0.3")
    fig.suptitle(
        "Lecture 001: AdaDelta (Zeiler, lr 1, ρ 0.9) is not learning-rate free:\nε acts as the learning rate",
        fontsize=_pt(10.5),
    )
    plot._save(fig, c.out / "adadelta_eps.png")
    return [
        Made(
            c.out / "adadelta_eps.png",
            "ravine plot "
            + " ".join(f"adadelta:lr=1,rho=0.9,eps={e:g}" for e in eps_list)
            + " --problem ellipse --start=-5,-2 --steps 300 -o adadelta_eps.png",
            "AdaDelta's ε acts as a learning rate (lecture 001)",
            "At t = 1, Δ = √ε/√((1−ρ)g² + ε)·g ≈ √(ε/(1−ρ))·sign g: with lr = 1 the size of the first steps is "
            "set by ε. (ε = 1e-2 reaches the minimum by step ~100 and is then thrown out again: once the "
            "gradients are tiny, √(u + ε)/√(s + ε) grows; that is AdaDelta, not a plotting artefact.)",
        )
    ]


@picture("sweep_momentum")
def sweep_momentum(c: Canvas) -> list[Made]:
    """``sweep_momentum.png``: steps to tolerance over (η, β) for heavy-ball SGD on the ellipse,
    with the stability edge of :class:`ravine.analysis.QuadraticRates`."""
    from . import plot

    nl, nb = (10, 8) if c.quick else (28, 24)
    steps = 150 if c.quick else 300
    plot.heatmap(
        "sgd",
        "ellipse",
        ("lr", np.geomspace(0.01, 2.0, nl)),
        ("momentum", np.linspace(0, 0.95, nb)),
        metric="steps",
        steps=steps,
        tol=1e-4,
        path=c.out / "sweep_momentum.png",
        title="SGD + heavy-ball momentum on the ellipse from (−5, −2):\nsteps until ‖∇f‖ ≤ 1e-4",
    )
    return [
        Made(
            c.out / "sweep_momentum.png",
            f"ravine sweep sgd --problem ellipse --x lr=0.01:2:{nl}:log --y momentum=0:0.95:{nb} --metric steps "
            f"--steps {steps} --tol 1e-4 -o sweep_momentum.png",
            "Where momentum is stable: (η, β) sweep with the heavy-ball bound",
            "Every cell is one trajectory of one vectorized run. The dashed curve is where the heavy-ball "
            "spectral radius (ravine.analysis.QuadraticRates) reaches 1; the dotted line is GD's 2/λmax.",
        )
    ]


@picture("sweep_adam_betas")
def sweep_adam_betas(c: Canvas) -> list[Made]:
    """``sweep_adam_betas.png``: Adam's final loss over (β1, β2) on Rosenbrock."""
    from . import plot
    from .rules import Adam

    n1, n2 = (5, 5) if c.quick else (16, 14)
    n_adam = 200 if c.quick else 500
    plot.heatmap(
        Adam(lr=0.02),
        "rosenbrock",
        ("beta1", np.linspace(0.0, 0.99, n1)),
        ("beta2", np.linspace(0.9, 0.9999, n2)),
        metric="loss",
        steps=n_adam,
        starts=np.array([ROSEN_START]),
        path=c.out / "sweep_adam_betas.png",
        title=f"Adam (η 0.02) on Rosenbrock from (−1.2, 1):\nfinal f − f* after {n_adam} steps",
    )
    return [
        Made(
            c.out / "sweep_adam_betas.png",
            f"ravine sweep adam:lr=0.02 --problem rosenbrock {ROSEN_START_FLAG} --x beta1=0:0.99:{n1} "
            f"--y beta2=0.9:0.9999:{n2} --steps {n_adam} -o sweep_adam_betas.png",
            "Adam over (β1, β2)",
        )
    ]


@picture("surface_ravine")
def surface_ravine(c: Canvas) -> list[Made]:
    """``surface_ravine.png``: the ravine story (GD and the three others) on the 3-D surface."""
    from . import plot

    plot.surface3d(
        "rosenbrock",
        c.ravine_runs()[:2],
        path=c.out / "surface_ravine.png",
        bounds=((-1.5, 1.5), (-0.5, 2.0)),
        title="The ravine on the surface (log scale)",
        elev=50,
        azim=-110,
    )
    return [
        Made(
            c.out / "surface_ravine.png",
            f"ravine plot {RAVINE_SPECS} --problem rosenbrock {ROSEN_START_FLAG} --steps {c.ravine_steps} "
            "--window=-1.5,1.5,-0.5,2 --kind surface -o surface.png",
            "The ravine in 3-D",
        )
    ]


@picture("ravine_3d")
def ravine_3d(c: Canvas) -> list[Made]:
    """``ravine_3d.gif``: the ravine story moving on the surface."""
    from .plot import animate

    animate(
        "rosenbrock",
        c.ravine_runs()[:2],
        c.out / "ravine_3d.gif",
        frames=8 if c.quick else 40,
        fps=10,
        three_d=True,
        bounds=((-1.5, 1.5), (-0.5, 2.0)),
        title="The ravine in 3-D",
        elev=50,
        azim=-110,
    )
    return [
        Made(
            c.out / "ravine_3d.gif",
            f"ravine animate {RAVINE_SPECS} --problem rosenbrock {ROSEN_START_FLAG} --steps {c.ravine_steps} "
            "--window=-1.5,1.5,-0.5,2 --3d --frames 40 --fps 10 -o ravine_3d.gif",
            "The ravine in 3-D, animated",
        )
    ]


@picture("seed_bands")
def seed_bands(c: Canvas) -> list[Made]:
    """``seed_bands.png``: noisy SGD / momentum / Adam on Rosenbrock, bands over 5 seeds
    (geometric on the log axis)."""
    from . import plot
    from .rules import SGD, Adam
    from .runner import run

    seeds = 2 if c.quick else 5
    n_b = 300 if c.quick else 1000
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
        path=c.out / "seed_bands.png",
        xlabel="step",
        ylabel="f(θ)",
        title=f"Rosenbrock with gradient noise σ 2: {seeds} seeds\n(the legend says which statistics)",
    )
    return [
        Made(
            c.out / "seed_bands.png",
            "\n".join(
                f"ravine plot sgd:lr=1e-3 sgd:lr=1e-3,momentum=0.9 adam:lr=2e-2 --problem rosenbrock "
                f"{ROSEN_START_FLAG} --steps {n_b} --noise 2 --seed {s} --kind loss -o seed{s}.png"
                for s in range(seeds)
            ),
            "Training curves over seeds (plot.seed_bands)",
            "plot.seed_bands takes label → list of per-seed arrays, as a training harness records them.",
        )
    ]


@picture("training_bands", needs_torch=True)
def training_bands(c: Canvas) -> list[Made]:
    """``training_bands.png``: SGD, momentum and Adam training logistic regression on sklearn's
    digits (``ravine.train``), validation loss over 3 seeds as geometric bands."""
    from . import plot
    from .train import TrainConfig, train

    t_seeds = 2 if c.quick else 3
    epochs = 4 if c.quick else 12
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
        path=c.out / "training_bands.png",
        xlabel="epoch",
        ylabel="validation loss",
        log=True,
        title=f"Logistic regression on sklearn's digits:\ngeometric mean ×/÷ std over {t_seeds} seeds",
    )
    return [
        Made(
            c.out / "training_bands.png",
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
    ]


#: the landscape pictures (drawn by ``ravine.landscape.gallery_figures``): file → (command, title, caption)
_LANDSCAPE_COMMON = "--problem digits --model logreg --epochs 8"
_LANDSCAPE: dict[str, tuple[str, str, str]] = {
    "landscape_interpolation.png": (
        f"ravine landscape interpolate {_LANDSCAPE_COMMON} --optimizers sgd:0.1,adam:0.01",
        "The loss along the line between two solutions (ravine.landscape, lecture 004 Fig. 1)",
        "SGD and Adam trained from one initialization on sklearn's digits; the training and test loss "
        "and accuracy at θ(α) = (1 − α)·θ_SGD + α·θ_Adam, α ∈ [−0.5, 1.5] (Goodfellow et al. 2015).",
    ),
    "landscape_plane.png": (
        f"ravine landscape plane {_LANDSCAPE_COMMON} --optimizer adam --lr 0.01 --grid 21",
        "A filter-normalized plane around a solution, as contours and as a surface",
        "θ* + xδ + yη with random directions δ, η normalized filter by filter (Li et al. 2018).",
    ),
    "landscape_spectrum.png": (
        f"ravine landscape spectrum {_LANDSCAPE_COMMON} --optimizer sgd --lr 0.1",
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


@picture("landscape", needs_torch=True)
def landscape(c: Canvas) -> list[Made]:
    """``landscape_interpolation.png``, ``landscape_plane.png``, ``landscape_spectrum.png``,
    ``landscape_sharpness.png``: what the optimizers found (``ravine.landscape.gallery_figures``,
    which trains the solutions once for the first three)."""
    from .landscape import gallery_figures

    return [Made(p, *_LANDSCAPE[p.name]) for p in gallery_figures(c.out, quick=c.quick)]


def _torch_available() -> bool:
    try:
        from .train import TrainConfig, train  # noqa: F401
    except ImportError:  # torch / scikit-learn not installed: the analytic pictures suffice
        return False
    return True


def _draw(out_dir, quick: bool) -> list[Made]:
    """Draw every picture of :data:`PICTURES` into ``out_dir`` (those that train a model only
    where ``ravine.train`` imports) and write ``out_dir/gallery.md``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    canvas = Canvas(out, quick)
    trains = any(p.needs_torch for p in PICTURES.values()) and _torch_available()
    made: list[Made] = []
    from . import plot

    with plot.style():  # slide-ready: 1600 × 900 and more, text readable on a projector
        for pic in PICTURES.values():
            if trains or not pic.needs_torch:
                made += pic.draw(canvas)
    _write_md(
        out / "gallery.md",
        [(m.path.name, m.command, m.title, m.caption) for m in made],
        intro=f"Made by `ravine.gallery.build({str(out)!r})` (`make demo`).",
    )
    return made


def build(out_dir, quick: bool = False) -> list[tuple[Path, str]]:
    """Make every gallery picture (:data:`PICTURES`, in order) into ``out_dir`` and write
    ``out_dir/gallery.md``.

    Returns ``[(path, command), ...]``: each picture and the ``ravine ...`` command(s) that
    make it (one line per panel where a picture has several). ``quick`` makes fewer frames and
    coarser sweeps. NumPy runner only, no compilation (``make demo``'s time: docs/plots.md).
    """
    return [(m.path, m.command) for m in _draw(out_dir, quick)]


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
    made = {m.path.name: m for m in _draw(out_dir, quick)}
    docs = Path(docs_dir)
    img = docs / "img"
    img.mkdir(parents=True, exist_ok=True)
    items = []
    for name in DOCS_SELECTION:
        shutil.copyfile(Path(out_dir) / name, img / name)
        m = made[name]
        items.append((name, m.command, m.title, m.caption))
    _write_md(
        docs / "gallery.md",
        items,
        img_prefix="img/",
        intro="A few of the pictures `make demo` draws (all of them: `out/demo/gallery.md`). "
        "`docs/img/hero.png` is the README picture. Regenerate with "
        "`python -m ravine.gallery --docs docs`.",
    )
    return [(img / n, made[n].command) for n in DOCS_SELECTION]


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
