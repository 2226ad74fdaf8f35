"""SIGINT and SIGTERM as exceptions that cannot be lost.

Python raises Ctrl+C's ``KeyboardInterrupt`` wherever the main thread happens to be; raised
inside a finalizer (``__del__``, a weakref callback: torch's compiler runs many) it is printed
as "Exception ignored … KeyboardInterrupt" and lost, and a library's ``except Exception`` may
turn what it caused into a fallback. :func:`install` (the command line's ``main``) puts a
handler on both signals that remembers the signal before it raises (``KeyboardInterrupt``, or
:class:`Terminated` for SIGTERM); :func:`check` raises it again where a long run can stop
cleanly (after each update of ``ravine train``, before ``ravine.optim`` falls back to eager
after a failed compilation), so a swallowed interrupt still ends the run.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["Terminated", "install", "check", "received"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread where Ctrl+C raises ``KeyboardInterrupt``, so that
    every clean-up Ctrl+C runs (a partial record, a pool shut down) runs for it too."""


_received: int | None = None


def received() -> int | None:
    """The signal received since :func:`install` (SIGINT or SIGTERM), or None."""
    return _received


def _exception(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _handler(signum, frame):
    global _received
    _received = signum
    raise _exception(signum)


def check() -> None:
    """Raise the interrupt received since :func:`install`, if any (once more: the first may
    have been swallowed)."""
    if _received is not None:
        raise _exception(_received)


def install():
    """Handle SIGINT and SIGTERM (main thread only; a signal at another disposition than
    Python's default, e.g. SIGINT ignored by a background job, is left alone). Returns a
    function that puts the previous handlers back."""
    global _received
    _received = None
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    previous = {}
    for sig, default in defaults.items():
        if signal.getsignal(sig) is default:
            previous[sig] = signal.signal(sig, _handler)

    def restore():
        global _received
        for sig, old in previous.items():
            signal.signal(sig, old)
        _received = None

    return restore
