"""Run one bounded piece of work in a child process: a hard wall-clock and memory limit.

:func:`bounded` is the last line of the formula cost model (:mod:`ravine.problems.symbolic`):
the symbolic work on a user formula (parse, gradient, Hessian, a trial evaluation) runs in a
child process that is killed when it passes its time limit, and whose address space is capped
(``RLIMIT_AS``), so a formula that slipped through the static limits can neither hang nor
exhaust the memory of the process that asked. A signal in a thread could not do this: sympy's
exact arithmetic runs in C for minutes without returning to the interpreter.

The child is forked when the caller has one thread (the command line: cheap and safe), else
started by a fork server that has imported sympy once (a process with threads must not fork
itself). At most :data:`MAX_CHILDREN` children run at once.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkContext, ForkServerContext

__all__ = ["bounded", "start_server", "WorkTimeout", "WorkFailed", "MAX_CHILDREN", "CHILD_MEMORY"]

#: children running at the same time (further callers wait, within their own time limit)
MAX_CHILDREN = 4
#: address space a child may add to what it inherits, in bytes
CHILD_MEMORY = 1536 * 2**20

_slots = threading.BoundedSemaphore(MAX_CHILDREN)
_server_lock = threading.Lock()
_server: ForkServerContext | None = None
_warmed: set[str] = set()


class WorkTimeout(Exception):
    """The work passed its wall-clock limit (the child was killed)."""


class WorkFailed(Exception):
    """The child ran out of memory or died; the message says which."""


def _limit_memory(extra: int) -> None:
    try:
        import resource

        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[0])
        now = pages * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (now + extra, now + extra))
    except (OSError, ValueError, ImportError):  # pragma: no cover - not Linux: time limit only
        pass


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], extra: int) -> None:
    _limit_memory(extra)
    try:
        out = ("ok", fn(*args))
    except MemoryError:
        out = ("memory", None)
    except BaseException as exc:
        out = ("error", exc)
    try:
        conn.send(out)
    except (BrokenPipeError, ConnectionResetError):  # the caller gave up (a timeout, a stop): no one to tell
        os._exit(0)
    except Exception as exc:  # an answer that does not pickle
        conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    conn.close()


def _context(preload: str | None) -> ForkContext | ForkServerContext:
    global _server
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        if preload and preload not in _warmed:  # the child inherits what the parent imported
            importlib.import_module(preload)
            _warmed.add(preload)
        return multiprocessing.get_context("fork")
    with _server_lock:
        if _server is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload([preload] if preload else [])
            _server = ctx
    return _server


def start_server(preload: str | None = None) -> None:
    """Start the fork server now (a server calls this at start-up: the first start takes
    seconds), in a background thread."""

    def go() -> None:
        ctx = _context(preload)
        if ctx.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()

    threading.Thread(target=go, name="ravine-forkserver", daemon=True).start()


def bounded(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    seconds: float,
    memory: int = CHILD_MEMORY,
    preload: str | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Any:
    """``fn(*args)`` in a child process, killed after ``seconds``; its exceptions re-raised here.

    ``preload`` names a module the children should find imported (the fork server imports it
    once; a forking caller imports it before the first fork). ``cancelled``, when given, is
    asked every 50 ms; when it says yes the child is killed and :class:`WorkTimeout` raised.

    Raises :class:`WorkTimeout` past the limit (waiting for a free child slot counts) and
    :class:`WorkFailed` when the child runs out of memory or dies.
    """
    t0 = time.monotonic()
    while not _slots.acquire(timeout=min(0.05, max(seconds - (time.monotonic() - t0), 0.0))):
        if cancelled is not None and cancelled():  # cancelled while it waited: start nothing
            raise WorkTimeout("cancelled")
        if time.monotonic() - t0 >= seconds:
            raise WorkTimeout(f"no free worker within {seconds:g} s")
    try:
        if cancelled is not None and cancelled():
            raise WorkTimeout("cancelled")
        ctx = _context(preload)
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(child, fn, args, memory), daemon=True)
        try:
            proc.start()
        except OSError as exc:  # the fork server is gone (the process is shutting down)
            child.close()
            parent.close()
            raise WorkFailed(f"could not start a worker process ({type(exc).__name__}: {exc})") from None
        child.close()
        try:
            while True:
                left = seconds - (time.monotonic() - t0)
                if parent.poll(max(min(left, 0.05), 0.0)):
                    break
                if cancelled is not None and cancelled():
                    raise WorkTimeout("cancelled")
                if left <= 0.05:
                    raise WorkTimeout(f"took longer than {seconds:g} s")
            try:
                kind, value = parent.recv()
            except (EOFError, OSError):
                raise WorkFailed(f"the worker process died (exit code {proc.exitcode})") from None
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join(1.0)
            parent.close()
    finally:
        _slots.release()
    if kind == "memory":
        raise WorkFailed(f"needed more than {memory // 2**20} MiB of memory")
    if kind == "error":
        raise value
    return value
