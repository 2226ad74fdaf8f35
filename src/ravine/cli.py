"""The ``ravine`` command line.

Subcommands load their module only when they run (``ravine --help`` imports
click and nothing heavy). A tool module provides a click command named
``command``; it is listed in ``COMMANDS`` below.

Bad input exits with status 2 and one line on stderr: ``ravine: error: …``.
"""
from __future__ import annotations

import importlib
import sys

import click

#: name → (module, attribute, one-line help shown by ``ravine --help``)
COMMANDS = {
    "list": ("ravine.cli_core", "list_cmd", "List optimizers, problems, conventions or schedules."),
    "run": ("ravine.cli_core", "run_cmd", "Run optimizers on a problem and print where they end."),
    "explain": ("ravine.explain", "command", "Step-by-step table of every quantity of a rule."),
    "analyze": ("ravine.cli_core", "analyze_cmd", "Critical points, their kind, step-size bounds and rates."),
    "demo": ("ravine.cli_core", "demo_cmd", "Run the main demo on the embedded defaults; write its pictures."),
    "plot": ("ravine.plot_cli", "plot_cmd", "Contour/3-D trajectory plots and loss curves."),
    "animate": ("ravine.plot_cli", "animate_cmd", "Animate several optimizers moving together (GIF/MP4)."),
    "sweep": ("ravine.plot_cli", "sweep_cmd", "Hyperparameter heatmaps with stability bounds."),
    "train": ("ravine.train", "command", "Train a model on real data with any optimizer."),
    "serve": ("ravine.explorer.app", "command", "Start the interactive explorer in the browser."),
    "bench": ("ravine.benchmark.cli", "command", "Benchmark optimizers: tuning, seeds, report, export."),
}


class UsageError(click.UsageError):
    pass


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:  # an optional dependency is missing
            missing = getattr(exc, "name", None) or str(exc)

            @click.command(name=name, help=COMMANDS[name][2],
                           context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
            def unavailable():
                raise click.ClickException(
                    f"'ravine {name}' needs {missing!s}, which is not installed "
                    f"(pip install 'ravine[all]')")
            return unavailable
        return getattr(mod, attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ravine", prog_name="ravine")
def cli():
    """ravine: an optimizer lab for deep learning.

    Every optimizer of the lectures, written once; run on analytic problems,
    explained step by step, drawn, and trained on real data.

    \b
    Examples:
      ravine list optimizers
      ravine run adam momentum --problem rosenbrock --steps 500
      ravine explain adam --problem sigmoid_neuron --steps 1
      ravine analyze seed_bowl3d
    """


def main(argv=None):
    """Entry point: bad input → exit 2 with one line on stderr."""
    try:
        cli.main(args=argv, prog_name="ravine", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("ravine: aborted", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        msg = exc.format_message().splitlines()[0] if exc.format_message() else str(exc)
        click.echo(f"ravine: error: {msg}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"ravine: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code if exc.exit_code != 1 else 2)
    except ValueError as exc:  # ravine's validation errors are one-line ValueErrors
        msg = str(exc).splitlines()[0] if str(exc) else repr(exc)
        click.echo(f"ravine: error: {msg}", err=True)
        sys.exit(2)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
