"""``ravine serve``: start the interactive explorer (``ravine.explorer``) with uvicorn.

The app itself is :func:`ravine.explorer.app.create_app`; this module only reads the options,
warns when binding beyond loopback, passes ``--host`` to the app's Host allow-list, and opens
the browser once the server listens. How uvicorn bounds connections (a read deadline per
request, the keep-alive time, the connections at once) is :func:`ravine.explorer.server.uvicorn_options`.

Stopping: Ctrl+C or SIGTERM stops the server within a few seconds whatever it is doing:
uvicorn stops accepting, cancels what is still running after :data:`GRACE` seconds, the
explorer's computations end at their next deadline check, and a watchdog ends the process
:data:`HARD_STOP` seconds after the signal if anything (a compiler, a thread) still holds it.
"""

from __future__ import annotations

import os
import threading
import time

import click

from ravine.explorer.app import allowed_name, create_app

__all__ = ["command"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: seconds uvicorn waits for requests in flight after a signal
GRACE = 2.0
#: seconds after a signal when the process ends, whatever still runs
HARD_STOP = 4.0


def _watchdog(server, app) -> None:
    """On the signal, tell the explorer to stop (computations in flight answer 503 at their
    next check); end the process HARD_STOP seconds later whatever still runs."""
    while not server.should_exit:
        time.sleep(0.05)
    app.state.engine.close()
    time.sleep(HARD_STOP)
    os._exit(130)


@click.command(name="serve", help="Start the interactive explorer in the browser (a local web app).")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind; the default serves this machine only."
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option(
    "--open/--no-open",
    "open_browser",
    default=True,
    show_default=True,
    help="Open the page in the default web browser.",
)
@click.option("--no-numba", is_flag=True, default=False, help="Run everything on the NumPy path.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (one per core serves many users; each keeps its own kernels).",
)
def command(host: str, port: int, open_browser: bool, no_numba: bool, workers: int):
    import uvicorn

    if not no_numba:  # the compiled kernels' cache folder: one another user could write is refused now
        from .._cache import folder

        try:
            folder("kernels")
        except OSError:  # none can be made: kernels are compiled in memory
            pass

    from ravine.explorer.server import uvicorn_options

    # the Host allow-list: loopback names, plus the name bound; a wildcard bind answers any name
    hosts = ["*"] if host in ("0.0.0.0", "::", "") else [] if host in _LOOPBACK else [host]
    try:
        [allowed_name(h) for h in hosts]
    except ValueError:
        raise click.BadParameter(f"not a host name or IP address: {host!r}", param_hint="--host") from None
    if host not in _LOOPBACK:
        click.echo(f"ravine serve: warning: binding {host}; anyone who can reach it can use the explorer", err=True)
    if workers > 1:  # uvicorn starts the processes; each builds its app with ravine.explorer.app._factory
        os.environ["RAVINE_EXPLORER_NUMBA"] = "0" if no_numba else "1"
        os.environ["RAVINE_EXPLORER_HOSTS"] = ",".join(hosts)
        click.echo(f"ravine explorer: http://{host}:{port}/  ({workers} workers; Ctrl+C to stop)")
        uvicorn.run(
            "ravine.explorer.app:_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=GRACE,
            **uvicorn_options(),
        )
        return
    app = create_app(numba=not no_numba, allowed_hosts=hosts)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACE,
        **uvicorn_options(),
    )
    server = uvicorn.Server(config)
    threading.Thread(target=_watchdog, args=(server, app), name="ravine-watchdog", daemon=True).start()
    shown = f"[{host}]" if ":" in host else host

    def announce():
        while not server.started:
            time.sleep(0.05)
            if server.should_exit:
                return
        real = port
        try:
            real = server.servers[0].sockets[0].getsockname()[1]
        except Exception:
            pass
        url = f"http://{shown}:{real}/"
        click.echo(f"ravine explorer: {url}  (Ctrl+C to stop)")
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    server.run()
