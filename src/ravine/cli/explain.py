"""``ravine explain``: the step-by-step table of a rule, and the lectures' worked examples."""

from __future__ import annotations

import click

from ..tables.table import FORMATS, check_digits
from .parse import (
    check_output_file,
    complete_optimizer,
    complete_problem,
    parse_assignments,
    parse_point,
    parse_problem,
)

#: the longest table ``ravine explain`` prints (one row per step)
MAX_STEPS = 10_000

__all__ = ["command"]


def _renamed_option(ctx, param, value):
    """A renamed option (``--seed-example``): stop with the one-line message naming the new one."""
    if value is not None:
        from .._renamed import renamed_message

        raise click.UsageError(renamed_message("option", param.opts[0]), ctx=ctx)
    return value


@click.command(name="explain", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("optimizer", required=False, shell_complete=complete_optimizer)
@click.option(
    "--problem",
    "problem",
    metavar="NAME",
    shell_complete=complete_problem,
    help="Catalog problem (ravine list problems).",
)
@click.option("--formula", metavar="TEXT", help="A formula instead, e.g. '(1-x)^2 + 100*(y-x^2)^2'.")
@click.option("--variables", metavar="x,y", help="Variable order for --formula.")
@click.option(
    "--param", "params", multiple=True, metavar="KEY=VALUE", help="Problem parameter, e.g. --param x=3.5 (repeatable)."
)
@click.option("--start", metavar="x,y", help="Start point θ_0 (default: the problem's).")
@click.option("--steps", type=click.IntRange(0, MAX_STEPS), default=10, show_default=True, help="Number of steps.")
@click.option("--lr", type=float, default=None, help="Learning rate η (default: the convention's).")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Hyperparameter, e.g. --set betas=0.9,0.99 --set eps=1e-8 (repeatable).",
)
@click.option("--convention", metavar="NAME", help="Convention of the optimizer (torch, keras, lecture002 …).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--digits", type=int, default=6, show_default=True, help="Significant digits (text, markdown).")
@click.option("--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@click.option(
    "--lecture-example",
    "lecture_example",
    metavar="NAME",
    help="Print a worked example of the lectures (lecture 000…004, docs/explain.md), slide beside correct values "
    "('list' lists them, 'all' prints all).",
)
@click.option("--seed-example", "old_seed_example", hidden=True, expose_value=True, callback=_renamed_option)
def command(
    optimizer,
    problem,
    formula,
    variables,
    params,
    start,
    steps,
    lr,
    sets,
    convention,
    fmt,
    digits,
    output,
    lecture_example,
    old_seed_example,
):
    """Step-by-step table of every quantity of OPTIMIZER on a problem.

    \b
    Examples:
      ravine explain adam --problem sigmoid_neuron --steps 1 --lr 0.1 --set betas=0.9,0.99
      ravine explain nag --formula "x^2 + 10*y^2" --start 1,1 --steps 5
      ravine explain adam --lecture-example adam_sigmoid
      ravine explain --lecture-example list
    """
    check_digits(digits)
    if output:
        check_output_file(output, "--output")  # before the work, not after it
    if lecture_example is not None:
        text = _lecture_example_output(optimizer, lecture_example, fmt, digits, problem, formula, sets, lr, start)
    else:
        if not optimizer:
            raise click.UsageError("give an OPTIMIZER (ravine list optimizers) or --lecture-example NAME")
        if not problem and formula is None:
            raise click.UsageError("give --problem NAME or --formula TEXT")
        prob = parse_problem(problem, formula, variables=variables, params=params)
        from ..step_tables import explain
        from .parse import optimizer_class, optimizer_kwargs

        hyper = optimizer_kwargs(
            optimizer_class(optimizer, "optimizer"), parse_assignments(list(sets), "--set"), "--set"
        )
        tab = explain(
            optimizer,
            prob,
            start=parse_point(start, prob.dim) if start else None,
            steps=steps,
            lr=lr,
            hyper=hyper,
            convention=convention,
        )
        text = tab.render(fmt, digits)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
    else:
        click.echo(text)


def _lecture_example_output(optimizer, name, fmt, digits, problem, formula, sets, lr, start) -> str:
    from .. import lectures

    extra = [
        o
        for o, v in (("--problem", problem), ("--formula", formula), ("--set", sets), ("--lr", lr), ("--start", start))
        if v
    ]
    if extra:
        raise click.UsageError(f"--lecture-example fixes its own setup; drop {extra[0]}")
    if name == "list":
        lines = [f"{n:24s} {lectures.EXAMPLES[n][1]}" for n in lectures.EXAMPLES]
        return "\n".join(lines)
    names = list(lectures.EXAMPLES) if name == "all" else [name]
    out = []
    for n in names:
        ex = lectures.get_example(n)
        if optimizer and name != "all":
            from ..rules import RULES, normalize_name

            key = normalize_name(optimizer)
            if key not in RULES:
                raise ValueError(f"optimizer: unknown name {optimizer!r}; choose one of: {', '.join(RULES)}")
            if key not in ex.rules:
                uses = ", ".join(ex.rules) if ex.rules else "no optimizer"
                raise click.UsageError(f"lecture example {n!r} uses {uses}, not {key!r}")
        out.append(ex.render(fmt, digits))
    if fmt == "json" and len(out) > 1:
        return "[\n" + ",\n".join(out) + "\n]"
    return "\n\n".join(out)
