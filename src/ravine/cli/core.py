"""The core subcommands: ``list``, ``run``, ``analyze``, ``demo``."""

from __future__ import annotations

import json

import click

from .parse import (
    Choice,
    bounded_float,
    check_output_dir,
    check_output_file,
    check_work,
    complete_optimizer,
    complete_problem,
    parse_assignments,
    parse_optimizer,
    parse_point,
    parse_problem,
    shorten_labels,
    state_numbers,
    unknown_keys,
)

__all__ = ["list_cmd", "run_cmd", "analyze_cmd", "demo_cmd"]


@click.command("list")
@click.argument(
    "what",
    required=False,
    default="all",
    type=Choice(["all", "optimizers", "problems", "conventions", "schedules"]),
)
def list_cmd(what):
    """List optimizers, problems, conventions or schedules."""
    from ..rules import RULES

    if what in ("all", "optimizers"):
        click.echo("Optimizers (ravine.rules):")
        for name, cls in RULES.items():
            click.echo(f"  {name:18s} {cls.title}")
    if what in ("all", "conventions"):
        click.echo("Conventions (convention=...):")
        for name, cls in RULES.items():
            click.echo(f"  {name:18s} {', '.join(cls.conventions)}")
    if what in ("all", "problems"):
        from ..problems import get_problem, list_problems

        click.echo("Problems (ravine.problems):")
        names = list_problems()
        width = max(18, *map(len, names))
        for name in names:
            p = get_problem(name)
            click.echo(f"  {name:{width}s} {p.dim}-D  {p.title}")
    if what in ("all", "schedules"):
        click.echo(
            "Schedules (ravine.schedules): constant, piecewise_constant, exponential, polynomial, "
            "step, cosine, linear, momentum_anneal, warmup, join"
        )


@click.command("run")
@click.argument("optimizers", nargs=-1, required=True, shell_complete=complete_optimizer)
@click.option(
    "--problem",
    "-p",
    default=None,
    shell_complete=complete_problem,
    help="Problem name (ravine list problems). Default rosenbrock.",
)
@click.option("--formula", "-f", default=None, help="A formula instead, e.g. 'x**2 + 10*y**2'.")
@click.option("--start", "-s", "starts", multiple=True, help="Start point 'x,y' (repeatable). Default: the problem's.")
@click.option("--steps", "-n", default=1000, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option("--set", "sets", multiple=True, help="key=value for every optimizer that has it, e.g. --set lr=0.01")
@click.option("--convention", default=None, help="torch (default), keras, optax, paper, lecture000 …")
@click.option("--tol", default=None, type=float, help="Stop a trajectory when ‖g‖ ≤ tol.")
@click.option("--noise", default=0.0, show_default=True, type=float, help="σ of gradient noise (SGD emulation).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))
@click.option("--format", "fmt", default="text", type=Choice(["text", "json", "csv"]), show_default=True)
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False), help="Write the trajectories here.")
@click.option(
    "--digits", default=6, show_default=True, type=click.IntRange(1, 17), help="Significant digits in the table."
)
def run_cmd(optimizers, problem, formula, starts, steps, sets, convention, tol, noise, seed, fmt, output, digits):
    """Run OPTIMIZERS (names, or NAME(key=value,...)) on a problem.

    \b
    Examples:
      ravine run adam momentum --problem rosenbrock --steps 500 --set lr=0.002
      ravine run "sgd(lr=0.1)" "sgd(lr=0.1,momentum=0.5)" --formula "0.1*x**2 + 2*y**2" -s -5,-2
    """
    import numpy as np

    from ..runner import run
    from .parse import optimizer_class, spec_name

    if output:
        check_output_file(output, "--output")  # before the run, not after it
    tol = bounded_float(tol, "--tol")
    noise = bounded_float(noise, "--noise", hi=1e6)
    prob = parse_problem(problem, formula, default="rosenbrock")
    common = parse_assignments(list(sets), "--set")
    unknown_keys(common, [optimizer_class(spec_name(s), "optimizer") for s in optimizers], "--set")
    opts = {}
    for spec in optimizers:
        _, rule = parse_optimizer(spec, "optimizer", common, convention)
        label, n = spec.strip(), 2
        while label in opts:
            label = f"{spec.strip()} #{n}"
            n += 1
        opts[label] = rule
    pts = np.array([parse_point(s, prob.dim) for s in starts]) if starts else None
    if output or fmt != "text":  # every step is recorded
        per_step = 4 * prob.dim + 2 + state_numbers(opts.values(), prob.dim)
        check_work(steps, len(opts) * (len(pts) if pts is not None else 1), per_step)
    res = run(
        opts,
        prob,
        pts,
        steps,
        tol=tol,
        grad_noise=noise,
        seed=seed,
        record="all" if output or fmt != "text" else "final",
    )
    if output:
        (res.to_csv if output.endswith(".csv") else res.to_json)(output)
    if fmt == "json":
        click.echo(res.to_json())
        return
    if fmt == "csv":
        click.echo(res.to_csv(), nl=False)
        return
    from ..tables import Table

    table = Table(res.SUMMARY, res.summary(shorten_labels(res.labels), digits))
    click.echo(f"{prob.name}: {prob.title}   ({steps} steps, backend {res.backend})")
    click.echo(table.to_text(digits))
    if prob.minima:
        click.echo("published minima: " + "; ".join(f"{tuple(m.point)} → {m.value:g}" for m in prob.minima))


#: the search's own tolerance for "the same point": dedup_tol·max(1, ‖x‖)
_DEDUP_TOL = 1e-6


def _same_point(a, b, tol: float = _DEDUP_TOL) -> bool:
    """A searched point that a --point report already lists (the search's own dedup rule)."""
    import numpy as np

    a, b = np.asarray(a, float), np.asarray(b, float)
    return bool(np.linalg.norm(a - b) <= tol * max(1.0, float(np.linalg.norm(b))))


@click.command("analyze")
@click.argument("problem", required=False, default=None, shell_complete=complete_problem)
@click.option("--formula", "-f", default=None, help="A formula instead of a problem name.")
@click.option("--point", "points", multiple=True, help="Classify the point 'x,y' (repeatable).")
@click.option(
    "--search/--no-search",
    default=True,
    show_default=True,
    help="Look for critical points by Newton's method from a grid of starts.",
)
@click.option("--format", "fmt", default="text", type=Choice(["text", "json"]), show_default=True)
def analyze_cmd(problem, formula, points, search, fmt):
    """Critical points and their kind; on quadratics, step-size bounds and rates.

    \b
    Examples:
      ravine analyze lecture_bowl3d          # the lecture's 3x²+2y²+4z²+6 slide, checked
      ravine analyze saddle --point 0,0
      ravine analyze --formula "x**4 + y**2" --point 0,0
    """
    import numpy as np

    from .. import analysis

    prob = parse_problem(problem, formula, default="rosenbrock")
    out: dict = {"problem": prob.name, "title": prob.title, "critical_points": []}
    reports = [analysis.critical_point_at(prob, np.array(parse_point(p, prob.dim, "--point"))) for p in points]
    if search:
        lo = np.array([b[0] for b in prob.bounds])
        hi = np.array([b[1] for b in prob.bounds])
        n = max(2, int(round(64 ** (1 / prob.dim))))
        axes = [np.linspace(lo[j], hi[j], n) for j in range(prob.dim)]
        starts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, prob.dim)
        found = analysis.find_critical_points(prob, starts, dedup_tol=_DEDUP_TOL)
        reports += [r for r in found if not any(_same_point(r.point, q.point) for q in reports)]
    for r in reports:
        c = r.classification
        out["critical_points"].append(
            {
                "point": [float(v) for v in r.point],
                "f": float(r.value) if r.value is not None else None,
                "grad_norm": float(r.grad_norm),
                "critical": bool(r.critical),
                "kind": c.kind if c is not None else None,
                "eigenvalues": [float(v) for v in c.eigenvalues] if c is not None else None,
            }
        )
    # a quadratic: constant Hessian → step sizes and rates
    H = analysis.constant_hessian(prob)
    quad = None
    if H is not None and np.all(np.linalg.eigvalsh(H) > 0):
        q = analysis.QuadraticRates(H)
        hb = q.heavy_ball_optimal()
        quad = {
            "eigenvalues": [float(v) for v in np.linalg.eigvalsh(H)],
            "lr_max (2/λmax)": q.lr_max,
            "lr_per_direction (1/λi)": [float(v) for v in q.lr_per_direction],
            "lr_best (2/(λmin+λmax))": q.lr_best,
            "rate_best": q.rate_best,
            "heavy_ball_lr": hb.lr,
            "heavy_ball_momentum": hb.momentum,
            "heavy_ball_rate": hb.rate,
        }
        out["quadratic"] = quad
    if fmt == "json":
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{prob.name}: {prob.title}")
    if not out["critical_points"]:
        click.echo("no critical points found")
    for cp in out["critical_points"]:
        pt = ", ".join(f"{v:.6g}" for v in cp["point"])
        eig = ", ".join(f"{v:.4g}" for v in cp["eigenvalues"] or [])
        kind = cp["kind"] if cp["critical"] else "not critical"
        click.echo(f"  ({pt})  f = {cp['f']:.6g}  ‖g‖ = {cp['grad_norm']:.2e}  {kind:12s} eigenvalues [{eig}]")
    if quad:
        click.echo("quadratic: gradient descent with a fixed step η")
        for k, v in quad.items():
            if k == "eigenvalues":
                continue
            val = ", ".join(f"{x:.6g}" for x in v) if isinstance(v, list) else f"{v:.6g}"
            click.echo(f"  {k:28s} {val}")
    if prob.name == "lecture_bowl3d":
        click.echo("the lecture's slide, checked (lecture 002):")
        from ..lectures import lecture_step_size_slide

        click.echo(lecture_step_size_slide().table())


@click.command("demo")
@click.option(
    "--out", default="out/demo", show_default=True, type=click.Path(file_okay=False), help="Where the pictures go."
)
@click.option("--quick", is_flag=True, help="Fewer, smaller pictures.")
def demo_cmd(out, quick):
    """The main demo: the lecture's ravine story on Rosenbrock, then the gallery of pictures."""
    from pathlib import Path

    import numpy as np

    from ..rules import SGD, Adam, Momentum, RMSprop
    from ..runner import STATUS, run

    check_output_dir(out, "--out")
    Path(out).mkdir(parents=True, exist_ok=True)
    opts = {
        "SGD (lr 1e-3)": SGD(lr=1e-3),
        "momentum (lr 1e-3, α 0.9)": Momentum(lr=1e-3, momentum=0.9),
        "RMSProp (lr 1e-2, α 0.9)": RMSprop(lr=1e-2, alpha=0.9),
        "Adam (lr 2e-2)": Adam(lr=2e-2),
    }
    res = run(opts, "rosenbrock", np.array([[-1.5, 2.0]]), 2000, tol=1e-6, backend="numpy")
    click.echo("The ravine of Rosenbrock's function, from (-1.5, 2), 2000 steps (lecture 004's story):")
    for i, lab in enumerate(res.labels):
        th = ", ".join(f"{v:.4f}" for v in res.final_theta[i])
        click.echo(
            f"  {lab:28s} {STATUS[res.status[i]]:10s} step {res.stop_step[i]:5d}  θ = ({th})  "
            f"f = {res.final_loss[i]:.3g}"
        )
    try:
        from .. import gallery
    except ImportError as exc:
        click.echo(f"(no pictures: {exc}; pip install 'ravine[plot]')", err=True)
        return
    made = gallery.build(out, quick=quick)
    click.echo(f"wrote {len(made)} pictures and {Path(out) / 'gallery.md'}")
