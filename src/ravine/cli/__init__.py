"""The ``ravine`` command line.

Subcommands load their module only when they run (``ravine --help`` imports
click and nothing heavy). Each command lives in one module of this package
(``core``, ``explain``, ``plot``, ``train``, ``serve``, …) and is listed in
``COMMANDS`` below; every argument is read by ``parse.py``, one parser per kind.
This package is the only importer of click.

Bad input exits with status 2 and one line on stderr: ``ravine: error: …``; so do the
machine's limits (out of memory, a file that cannot be written). Ctrl+C (SIGINT) exits with
status 130 and ``ravine: interrupted``; SIGTERM (``kill``, a scheduler's timeout) is raised in
the main thread as :class:`ravine._signals.Terminated`, a ``KeyboardInterrupt``, so that every clean-up Ctrl+C
runs (a partial record, a pool shut down) runs for it too, and exits with status 143 and
``ravine: terminated``. A command that cleaned up after an interrupt raises
:class:`Interrupted` with its one line instead. No traceback is printed for any of these.
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import _signals
from .._signals import Terminated

#: name → (module, attribute, one-line help shown by ``ravine --help``)
COMMANDS = {
    "list": ("ravine.cli.core", "list_cmd", "List optimizers, problems, conventions or schedules."),
    "run": ("ravine.cli.core", "run_cmd", "Run optimizers on a problem and print where they end."),
    "explain": ("ravine.cli.explain", "command", "Step-by-step table of every quantity of a rule."),
    "analyze": ("ravine.cli.core", "analyze_cmd", "Critical points, their kind, step-size bounds and rates."),
    "demo": ("ravine.cli.core", "demo_cmd", "Run the main demo on the embedded defaults; write its pictures."),
    "plot": ("ravine.cli.plot", "plot_cmd", "Contour/3-D trajectory plots and loss curves."),
    "animate": ("ravine.cli.plot", "animate_cmd", "Animate several optimizers moving together (GIF/MP4)."),
    "sweep": ("ravine.cli.plot", "sweep_cmd", "Hyperparameter heatmaps with stability bounds."),
    "train": ("ravine.cli.train", "command", "Train a model on real data with any optimizer."),
    "serve": ("ravine.cli.serve", "command", "Start the interactive explorer in the browser."),
    "bench": ("ravine.cli.benchmark", "command", "Benchmark optimizers: tuning, seeds, report, export."),
    "landscape": ("ravine.cli.landscape", "command", "Loss landscapes, sharpness, Hessian spectra, edge of stability."),
}


class UsageError(click.UsageError):
    pass


class Interrupted(Exception):
    """An interrupt a command has cleaned up after, with the one line that says what was
    interrupted and what is kept: ``main`` prints ``ravine: <line>`` and exits 130 (SIGINT) or
    143 (SIGTERM)."""

    def __init__(self, cause: BaseException, line: str):
        super().__init__(line)
        self.code = exit_code(cause)


def exit_code(exc: BaseException) -> int:
    """130 for Ctrl+C (SIGINT), 143 for SIGTERM (128 + the signal's number, as a shell reports
    a process the signal ended)."""
    while exc is not None and not isinstance(exc, KeyboardInterrupt):
        exc = exc.__cause__ or exc.__context__  # click wraps Ctrl+C in Abort
    return 143 if isinstance(exc, Terminated) else 130


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

            @click.command(
                name=name,
                help=COMMANDS[name][2],
                context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
            )
            def unavailable():
                raise click.ClickException(
                    f"'ravine {name}' needs {missing!s}, which is not installed (pip install 'ravine[all]')"
                )

            return unavailable
        return getattr(mod, attr)

    def resolve_command(self, ctx, args):
        name = click.utils.make_str(args[0]) if args else ""
        if args and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise click.UsageError(f"no such command {name!r}; choose one of: {', '.join(COMMANDS)}{hint}", ctx)
        return super().resolve_command(ctx, args)

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
      ravine analyze lecture_bowl3d

    \b
    Shell completion (commands, options, optimizer and problem names), bash:
      eval "$(_RAVINE_COMPLETE=bash_source ravine)"
    (zsh: zsh_source, fish: fish_source)
    """


def _say(line: str) -> None:
    try:
        click.echo(line, err=True)
    except Exception:  # a closed stderr: the exit status still says it
        pass


def _stop_now(code: int) -> None:
    """Exit at once: worker threads still computing (a compiled kernel, a pool) are not
    waited for - the user asked to stop."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    if _embedded():
        sys.exit(code)
    os._exit(code)


def _embedded() -> bool:
    """Whether ``main`` runs inside another program (tests, an embedding) rather than as the
    process itself: there it must not end the process."""
    import os

    prog = os.path.normpath(sys.argv[0]) if sys.argv else ""
    own = (os.path.basename(prog) == "ravine", prog.endswith(os.path.join("ravine", "cli", "__main__.py")))
    return not any(own)


def main(argv=None):
    """Entry point: bad input → exit 2 with one line on stderr; Ctrl+C → 130; SIGTERM → 143."""
    restore = _signals.install()
    try:
        _main(argv)
    finally:
        restore()


def _main(argv):
    try:
        cli.main(args=argv, prog_name="ravine", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Interrupted as exc:  # cleaned up: a normal exit (multiprocessing's finalizers run)
        _say(f"ravine: {exc}")
        sys.exit(exc.code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:  # click turns Ctrl+C into Abort
        code = exit_code(exc)
        _say("ravine: terminated" if code == 143 else "ravine: interrupted")
        _stop_now(code)
    except MemoryError:
        _say("ravine: error: out of memory (ask for fewer steps, trajectories or a smaller problem)")
        sys.exit(2)
    except RecursionError:
        _say("ravine: error: the input is nested too deeply to handle")
        sys.exit(2)
    except click.UsageError as exc:
        msg = exc.format_message().splitlines()[0] if exc.format_message() else str(exc)
        click.echo(f"ravine: error: {msg}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"ravine: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code if exc.exit_code != 1 else 2)
    except ValueError as exc:  # ravine's validation errors are one-line ValueErrors
        msg = str(exc).splitlines()[0] if str(exc) else repr(exc)
        _say(f"ravine: error: {msg}")
        sys.exit(2)
    except OSError as exc:  # a file that cannot be written or read, a full disk
        what = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        _say(f"ravine: error: {exc.strerror or type(exc).__name__}{what}")
        sys.exit(2)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
