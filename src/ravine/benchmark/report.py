"""The report of a store: ``report.md`` and its PNGs.

Learning curves (mean ± std over the final seeds), lr-sensitivity curves (protocol ``lr``),
expected best validation after k trials (Dodge et al. 2019), performance profiles over
problems with AlgoPerf's integrated score (τ_max = 4), per-step overhead relative to SGD,
a ranking table per protocol with the places where the ranking changes between lr-only and
all-hyperparameter tuning, the search spaces, seeds, software versions and hardware.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics as M
from .store import Store

__all__ = ["write_report", "summarize"]

PROTOCOL_TITLES = {"defaults": "defaults (no tuning)", "lr": "lr-only tuning", "all": "all-hyperparameter tuning"}


def _fmt(v, pct=False):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "∞"
    return f"{100 * v:.2f}%" if pct else f"{v:.4g}"


def summarize(rows: Sequence[Mapping[str, Any]], problem_specs: Mapping[str, Mapping[str, Any]]):
    """Final-phase summary: (protocol, problem, optimizer) → dict of mean/std test value,
    median steps to target, step time, diverged count, seeds."""
    groups: dict[tuple, list] = defaultdict(list)
    for r in rows:
        if r["phase"] == "final" and r["status"] != "planned":
            groups[(r["protocol"], r["problem"], r["optimizer"])].append(r)
    out = {}
    for k, rs in groups.items():
        metric = problem_specs[k[1]]["metric"]
        worst = M.worst_value(metric)
        tests = [r["metrics"].get("final_test") if r["status"] == "ok" else None for r in rs]
        tv = np.array([worst if t is None else t for t in tests], dtype=float)
        stt = np.array([(r["metrics"] or {}).get("steps_to_target", math.inf) for r in rs], dtype=float)
        ttt = np.array([(r["metrics"] or {}).get("time_to_target", math.inf) for r in rs], dtype=float)
        st = [r["metrics"].get("step_time") for r in rs if r["status"] == "ok" and r["metrics"]]
        trn = [r["metrics"].get("final_train_loss") for r in rs if r["status"] == "ok" and r["metrics"]]
        tre = [r["metrics"].get("final_train_err_full") for r in rs if r["status"] == "ok" and r["metrics"]]
        tre = [v for v in tre if v is not None]
        with np.errstate(invalid="ignore"):
            mean, std = float(np.mean(tv)), float(np.std(tv))
        out[k] = {
            "test_mean": mean,
            "test_std": std,
            "n": len(rs),
            "diverged": sum(r["status"] == "diverged" for r in rs),
            "failed": sum(r["status"] == "failed" for r in rs),
            "steps_to_target": float(np.median(stt)),
            "time_to_target": float(np.median(ttt)),
            "step_time": float(np.mean(st)) if st else math.nan,
            "train_loss": float(np.mean([t for t in trn if t is not None]))
            if any(t is not None for t in trn)
            else math.nan,
            "train_err_mean": float(np.mean(tre)) if tre else math.nan,
            "train_err_std": float(np.std(tre)) if tre else math.nan,
            "hyper": rs[0]["hyper"],
            "point": rs[0]["point"],
        }
    return out


def _ranks(values: Mapping[str, float]) -> dict[str, int]:
    order = sorted(values, key=lambda s: (values[s], s))
    return {s: i + 1 for i, s in enumerate(order)}


def write_report(store: Store, out_dir: str | os.PathLike) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plot.palette import color as palette_color

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"-o/--out: cannot create {str(out)!r} ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise ValueError(f"-o/--out: {str(out)!r} is not writable")
    plan = store.plan()
    rows = store.rows()
    specs = plan["problem_specs"]
    problems, optimizers = plan["problems"], plan["optimizers"]
    # one colour per optimizer in every figure: ravine's palette (ravine.plot.palette), by plan order
    col = {o: palette_color(i) for i, o in enumerate(optimizers)}
    protocols = ["defaults", *plan["protocols"]]
    summ = summarize(rows, specs)
    md: list[str] = []
    w = md.append
    meta = store.meta()
    w(f"# ravine bench report: suite `{plan['suite']}`\n")
    w(f"Store `{store.path}`, plan `{meta.get('plan_hash', '')[:16]}`, created {meta.get('created_at')}.\n")
    counts = defaultdict(int)
    for r in rows:
        counts[(r["phase"], r["status"])] += 1
    w("Trials: " + ", ".join(f"{ph} {st} {n}" for (ph, st), n in sorted(counts.items())) + ".\n")
    if any(st == "planned" for (_, st) in counts):
        w("**The sweep is not finished: planned trials remain.**\n")

    # -- setup -------------------------------------------------------------------
    w("## Setup\n")
    w(
        f"Tuning: quasi-random search, scrambled Sobol points (scipy.stats.qmc.Sobol, seed {plan['sobol_seed']}), "
        f"{plan['trials']} trials per optimizer, problem and protocol, the same unit points for every optimizer "
        f"and problem; tuned on the validation split (carved from the training data) with seed 0. "
        f"The chosen setting (best final validation value) is re-run on seeds "
        f"1…{plan['seeds']} and reported on the test split. Arm `defaults`: every optimizer at its framework "
        f"(torch) defaults on the same seeds.\n"
    )
    w("### Search spaces\n")
    w("| optimizer | lr-only | all hyperparameters | defaults |")
    w("|---|---|---|---|")
    dflt = {r["optimizer"]: r["hyper"] for r in rows if r["protocol"] == "defaults"}
    for o in optimizers:
        sp = plan["spaces"][o]
        d = dflt.get(o, {})
        w(f"| {o} | {sp.get('lr', '–')} | {sp.get('all', '–')} | " + ", ".join(f"{k}={v}" for k, v in d.items()) + " |")
    w("")
    w("### Problems\n")
    w("| problem | what | batch | steps | weight decay | tuned on | target (val) |")
    w("|---|---|---|---|---|---|---|")
    for p in problems:
        s = specs[p]
        w(
            f"| {p} | {s['title']} ({s['source']}) | {s['batch_size']} | {s['steps']} | {s['weight_decay']:g} | "
            f"val {s['metric']} | {s['target']:g} |"
        )
    w("")

    # -- ranking -----------------------------------------------------------------
    w("## Results on the test split (final phase, mean ± std over seeds)\n")
    w("Diverged runs count as the worst value (error 100 %, loss ∞) and as missing the target.\n")
    ranks: dict[str, dict[str, dict[str, int]]] = {}
    for pr in protocols:
        w(f"### {PROTOCOL_TITLES.get(pr, pr)}\n")
        w("| problem | " + " | ".join(optimizers) + " |")
        w("|---|" + "---|" * len(optimizers))
        ranks[pr] = {}
        for p in problems:
            pct = specs[p]["metric"] == "err"
            cells, vals = [], {}
            for o in optimizers:
                s = summ.get((pr, p, o))
                if s is None:
                    cells.append("–")
                    continue
                vals[o] = s["test_mean"]
                extra = f" ({s['diverged']} div.)" if s["diverged"] else ""
                cells.append(f"{_fmt(s['test_mean'], pct)} ± {_fmt(s['test_std'], pct)}{extra}")
            rk = _ranks(vals) if vals else {}
            ranks[pr][p] = rk
            cells = [c + (f" **#{rk[o]}**" if o in rk else "") for c, o in zip(cells, optimizers)]
            w(f"| {p} (test {specs[p]['metric']}) | " + " | ".join(cells) + " |")
        w("")
    if "lr" in ranks and "all" in ranks:
        w("### Where the ranking changes between lr-only and all-hyperparameter tuning\n")
        w("| problem | lr-only ranking | all-hp ranking | changed |")
        w("|---|---|---|---|")
        for p in problems:
            a, b = ranks["lr"].get(p, {}), ranks["all"].get(p, {})
            ra = " > ".join(sorted(a, key=a.get))
            rb = " > ".join(sorted(b, key=b.get))
            moved = [o for o in a if b.get(o) != a.get(o)]
            w(f"| {p} | {ra} | {rb} | {'yes: ' + ', '.join(moved) if moved else 'no'} |")
        mean_rank = {
            pr: {o: np.mean([ranks[pr][p].get(o, len(optimizers)) for p in problems]) for o in optimizers}
            for pr in ranks
        }
        w(
            "\nMean rank over problems: "
            + "; ".join(
                f"{PROTOCOL_TITLES[pr]}: "
                + ", ".join(f"{o} {mean_rank[pr][o]:.2f}" for o in sorted(optimizers, key=lambda o: mean_rank[pr][o]))
                for pr in ranks
            )
            + ".\n"
        )

    # -- train vs test error -------------------------------------------------------
    err_problems = [
        p
        for p in problems
        if specs[p]["metric"] == "err"
        and any(not math.isnan(v["train_err_mean"]) for k, v in summ.items() if k[1] == p)
    ]
    if err_problems:
        w("### Training error (whole training split) against test error\n")
        w("Mean ± std over the final seeds of diverged-free runs (a diverged run has no training error).\n")
        w("| protocol | problem | " + " | ".join(optimizers) + " |")
        w("|---|---|" + "---|" * len(optimizers))
        for pr in protocols:
            for p in err_problems:
                cells = []
                for o in optimizers:
                    s = summ.get((pr, p, o))
                    cells.append(
                        "–"
                        if s is None
                        else f"train {_fmt(s['train_err_mean'], True)} ± {_fmt(s['train_err_std'], True)} / "
                        f"test {_fmt(s['test_mean'], True)}"
                    )
                w(f"| {pr} | {p} | " + " | ".join(cells) + " |")
        w("")

    # -- chosen settings ------------------------------------------------------------
    w("### Chosen settings\n")
    w("| protocol | problem | optimizer | point | hyperparameters |")
    w("|---|---|---|---|---|")
    for pr in plan["protocols"]:
        for p in problems:
            for o in optimizers:
                s = summ.get((pr, p, o))
                if s:
                    tuned = {k: v for k, v in s["hyper"].items() if k in plan["spaces"][o].get(pr, "")}
                    w(
                        f"| {pr} | {p} | {o} | {s['point']} | "
                        + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in tuned.items())
                        + " |"
                    )
    w("")

    # -- steps to target and performance profiles ---------------------------------
    w("## Steps to target and performance profiles\n")
    w(
        "Median over seeds of the steps until the validation metric first reaches the problem's target "
        "(∞: missed — kept, never dropped). Performance ratio r = t / best t per problem (Dolan & Moré 2002); "
        "score = AlgoPerf's ∫₁^τmax ρ(τ) dτ / (τmax − 1), τmax = 4.\n"
    )
    fig, axes = plt.subplots(1, len(protocols), figsize=(4.2 * len(protocols), 3.4), squeeze=False)
    taus = np.linspace(1, M.TAU_MAX, 200)
    for ax, pr in zip(axes[0], protocols):
        t = {p: {o: summ[(pr, p, o)]["steps_to_target"] for o in optimizers if (pr, p, o) in summ} for p in problems}
        r = M.performance_ratios(t)
        prof = M.performance_profiles(r, taus)
        score = M.profile_score(r)
        w(f"### {PROTOCOL_TITLES.get(pr, pr)}\n")
        w("| problem | " + " | ".join(optimizers) + " |")
        w("|---|" + "---|" * len(optimizers))
        for p in problems:
            w(f"| {p} | " + " | ".join(_fmt(t[p].get(o)) for o in optimizers) + " |")
        w("| **score** | " + " | ".join(f"**{score.get(o, 0):.3f}**" for o in optimizers) + " |\n")
        for o in optimizers:
            if o in prof:
                ax.step(taus, prof[o], where="post", color=col[o], label=f"{o} ({score.get(o, 0):.2f})")
        ax.set_title(PROTOCOL_TITLES.get(pr, pr), fontsize=9)
        ax.set_xlabel("τ")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("fraction of problems with r ≤ τ")
    fig.tight_layout()
    fig.savefig(out / "profiles.png", dpi=110)
    plt.close(fig)
    w("![performance profiles](profiles.png)\n")

    # -- learning curves -------------------------------------------------------------
    w("## Learning curves (validation metric, mean ± std over the final seeds)\n")
    for p in problems:
        fig, axes = plt.subplots(1, len(protocols), figsize=(4.2 * len(protocols), 3.2), squeeze=False)
        metric = specs[p]["metric"]
        for ax, pr in zip(axes[0], protocols):
            for o in optimizers:
                rs = [
                    r
                    for r in rows
                    if r["phase"] == "final"
                    and r["protocol"] == pr
                    and r["problem"] == p
                    and r["optimizer"] == o
                    and r["status"] != "planned"
                    and r["curves"]
                    and r["curves"].get("step")
                ]
                if not rs:
                    continue
                steps = max((r["curves"]["step"] for r in rs), key=len)
                ys = np.full((len(rs), len(steps)), np.nan)
                for i, r in enumerate(rs):
                    v = [np.nan if x is None else x for x in r["curves"][f"val_{metric}"]]
                    ys[i, : len(v)] = v
                with np.errstate(all="ignore"):
                    import warnings

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        mu, sd = np.nanmean(ys, 0), np.nanstd(ys, 0)
                ax.plot(steps, mu, color=col[o], label=o)
                ax.fill_between(steps, mu - sd, mu + sd, alpha=0.2, color=col[o])
            ax.axhline(specs[p]["target"], color="0.5", lw=0.8, ls=":")  # the target, grey: black is a path colour
            if metric == "loss":
                ax.set_yscale("log")
            ax.set_title(f"{p}: {PROTOCOL_TITLES.get(pr, pr)}", fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel(f"val {metric}")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"curves_{p}.png", dpi=110)
        plt.close(fig)
        w(f"![{p}](curves_{p}.png)\n")

    # -- sensitivity and best-of-k -----------------------------------------------------
    w("## Learning-rate sensitivity (protocol lr: final validation value against lr, seed 0)\n")
    w("Diverged trials are drawn at the top of the axis (the worst value).\n")
    ncol = min(4, len(problems))
    nrow = math.ceil(len(problems) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3 * nrow), squeeze=False)
    for ax, p in zip(axes.flat, problems):
        metric = specs[p]["metric"]
        for o in optimizers:
            rs = sorted(
                [
                    r
                    for r in rows
                    if r["phase"] == "tune"
                    and r["protocol"] == "lr"
                    and r["problem"] == p
                    and r["optimizer"] == o
                    and r["status"] != "planned"
                ],
                key=lambda r: r["hyper"]["lr"],
            )
            if rs:
                ys = [M.score_of(r["metrics"] or {}, r["status"], metric) for r in rs]
                finite = [y for y in ys if math.isfinite(y)]
                top = max(finite) if finite else 1.0
                ax.plot(
                    [r["hyper"]["lr"] for r in rs],
                    [y if math.isfinite(y) else top for y in ys],
                    "o-",
                    ms=3,
                    color=col[o],
                    label=o,
                )
        ax.set_xscale("log")
        if metric == "loss":
            ax.set_yscale("log")
        ax.set_title(p, fontsize=9)
        ax.set_xlabel("lr")
        ax.set_ylabel(f"val {metric}")
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "sensitivity.png", dpi=110)
    plt.close(fig)
    w("![sensitivity](sensitivity.png)\n")

    w("## Expected best validation value after k trials (Dodge et al. 2019)\n")
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3 * nrow), squeeze=False)
    for ax, p in zip(axes.flat, problems):
        metric = specs[p]["metric"]
        for pr, ls in (("lr", "--"), ("all", "-")):
            for o in optimizers:
                rs = [
                    r
                    for r in rows
                    if r["phase"] == "tune"
                    and r["protocol"] == pr
                    and r["problem"] == p
                    and r["optimizer"] == o
                    and r["status"] != "planned"
                ]
                if rs:
                    ks, e = M.expected_best([M.score_of(r["metrics"] or {}, r["status"], metric) for r in rs])
                    ax.plot(ks, e, ls, color=col[o], label=f"{o} ({pr})")
        if metric == "loss":
            ax.set_yscale("log")
        ax.set_title(p, fontsize=9)
        ax.set_xlabel("k trials")
        ax.set_ylabel(f"E[best val {metric}]")
        ax.legend(fontsize=5)
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "best_of_k.png", dpi=110)
    plt.close(fig)
    w("![best of k](best_of_k.png)\n")

    # -- overhead -----------------------------------------------------------------------
    w("## Per-step time relative to SGD (final phase, defaults arm)\n")
    if "sgd" in optimizers:
        w("| problem | " + " | ".join(optimizers) + " |")
        w("|---|" + "---|" * len(optimizers))
        for p in problems:
            base = summ.get(("defaults", p, "sgd"), {}).get("step_time", math.nan)
            w(
                f"| {p} | "
                + " | ".join(
                    _fmt(summ.get(("defaults", p, o), {}).get("step_time", math.nan) / base) for o in optimizers
                )
                + " |"
            )
        w("")
    else:
        w("SGD is not in this plan.\n")

    # -- environment ---------------------------------------------------------------------
    done = [r for r in rows if r["versions"]]
    w("## Software and hardware\n")
    if done:
        w("Versions: " + ", ".join(f"{k} {v}" for k, v in done[0]["versions"].items() if v) + ".\n")
        w("Hardware: " + ", ".join(f"{k} {v}" for k, v in done[0]["hardware"].items()) + ".\n")
        w("Backends: " + ", ".join(sorted({r["backend"] for r in done if r["backend"]})) + ".\n")
        w(f"Total trial wall time {sum(r['wall_time'] or 0 for r in done):.1f} s.\n")
    path = out / "report.md"
    path.write_text("\n".join(md))
    return str(path)
