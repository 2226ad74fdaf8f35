"""A watcher that ends the local Ray a driver started once the driver has gone, SIGKILL included.

Ray ties most of its processes to the driver (the GCS server and the raylet die with it), but
not the raylet's agents: ``ray::DashboardAgent`` and ``ray::RuntimeEnvAgent`` notice the
raylet's death within a second, then try to report it to the GCS, which died too, and wait for
that call's fixed 60 s timeout before they exit (Ray 2.60; no setting shortens it). So
``--backend ray`` starts this watcher, in a process of its own, before ``ray.init``:

* while the driver lives it records, every :data:`INTERVAL` seconds, the driver's children that
  run from Ray's installation (the GCS server, the raylet, the dashboard, the monitors) and all
  their descendants (the agents, the workers), each as (pid, start time), so a pid reused by
  another process is never touched;
* when the driver has gone (a pidfd on Linux, a poll of its parent pid elsewhere) it SIGKILLs
  every recorded process still alive, with whatever they started since, and exits;
* when the driver ends its Ray cleanly (:meth:`Reaper.finish`, after ``ray.shutdown``) it waits
  up to ``grace`` seconds for the recorded processes to exit by themselves, then does the same.

The watcher ignores SIGINT and SIGTERM (a terminal's Ctrl+C reaches the whole group; the
driver decides) and ends by itself in every case. A process Ray spawns less than
:data:`INTERVAL` before the driver is killed may be missed; Ray's workers end by themselves
within two seconds of the raylet's death, and the agents start with the raylet.

The file runs as a script with ``python -I`` (nothing from the working directory, the
environment or the user's site) and imports only the standard library.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

__all__ = ["Reaper", "INTERVAL"]

#: seconds between two records of the driver's Ray processes
INTERVAL = 0.25


class Reaper:
    """The watcher process of one driver's local Ray (see the module docstring)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    @classmethod
    def start(cls, under: str) -> Reaper:
        """Watch this process; the Ray processes are its children whose command line runs a
        file under ``under`` (Ray's installation folder) and their descendants."""
        proc = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), str(os.getpid()), os.path.abspath(under)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            close_fds=True,
        )
        return cls(proc)

    def finish(self, grace: float = 2.0) -> None:
        """The driver's Ray has been shut down: let the watcher end what is left of it (after
        ``grace`` seconds) and wait for it."""
        try:
            self.proc.stdin.write(f"finish {grace}\n".encode())
            self.proc.stdin.close()
        except OSError:  # the watcher has gone already
            pass
        try:
            self.proc.wait(grace + 5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the watcher (runs in its own process) ---------------------------------------------------


def _start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), None if it has ended (a zombie too)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in (b"Z", b"X") else int(fields[19])


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as fh:
                out += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return out


def _runs_from(pid: int, under: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return False
    prefix = os.fsencode(under.rstrip(os.sep) + os.sep)
    return any(a.startswith(prefix) for a in argv)


def _tree(roots: list[int]) -> dict[int, int]:
    """``roots`` and their descendants, pid → start time (those still alive)."""
    out: dict[int, int] = {}
    todo = list(roots)
    while todo:
        pid = todo.pop()
        start = _start_time(pid)
        if start is None or pid in out:
            continue
        out[pid] = start
        todo += _children(pid)
    return out


def _record(driver: int, under: str, seen: dict[int, int]) -> None:
    me = os.getpid()
    roots = [c for c in _children(driver) if c != me and _runs_from(c, under)]
    seen.update(_tree(roots))


def _alive(seen: dict[int, int]) -> list[int]:
    return [pid for pid, start in seen.items() if _start_time(pid) == start]


def _kill(seen: dict[int, int]) -> None:
    """SIGKILL every recorded process still alive (the same pid and start time) and whatever
    they started meanwhile; a few rounds, in case one of them forked as it was killed."""
    for _ in range(5):
        alive = _alive(seen)
        if not alive:
            return
        seen.update(_tree(alive))
        for pid in _alive(seen):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)


def _driver_ended(driver: int):
    """A file descriptor readable once ``driver`` (this process's parent) has exited, or None
    (no pidfd: the caller polls the parent pid). None too if it has gone already."""
    try:
        fd = os.pidfd_open(driver)
    except (AttributeError, OSError):
        return None
    return fd


def main(argv: list[str]) -> int:
    driver, under = int(argv[0]), argv[1]
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    pidfd = _driver_ended(driver)
    seen: dict[int, int] = {}
    stdin = sys.stdin.buffer.raw
    grace = None  # seconds to wait before killing; None: the driver has died, kill at once
    while os.getppid() == driver:  # else the driver is gone (reparented), pidfd or not
        _record(driver, under, seen)
        ready, _, _ = select.select([stdin] + ([pidfd] if pidfd is not None else []), [], [], INTERVAL)
        if pidfd is not None and pidfd in ready:
            break
        if stdin in ready:
            line = stdin.read(64).decode(errors="replace").split()
            if len(line) == 2 and line[0] == "finish":  # a clean end: Ray shut down
                grace = float(line[1])
            break  # else EOF: the driver's pipe closed without a word, so it died
    if grace is not None:
        deadline = time.monotonic() + grace
        while _alive(seen) and time.monotonic() < deadline:
            time.sleep(0.05)
    _kill(seen)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
