"""The explorer's compiled kernels: which (optimizer, problem, flags) combinations may use one,
the queue that compiles them, and the lifetime budget of kernels.

A compiled (Numba) kernel is used for a combination once it has been compiled; until then the
NumPy path answers and the kernel is compiled in one background thread, so no request waits
for a compiler. A combination that fails to compile stays on NumPy. The compile queue is
deduplicated and bounded (``LIMITS["compile_queue"]``: a full queue means NumPy this time).
Memory: a kernel's machine code is never given back (2-22 MiB each), so a process compiles at
most ``LIMITS["compiled_kernels"]`` distinct (problem, kernel) combinations in its life, and
kernels for the first ``LIMITS["compiled_formulas"]`` user formulas only; later new
combinations run on NumPy, with the same numbers (:meth:`Kernels.may_compile`; the bound is in
``docs/explorer.md``).

A problem's :class:`~ravine.explorer.problems.Entry` holds what is known of its kernels:
``warm`` (compiled), ``pending`` (asked for) and ``broken`` (failed to compile or to run).
"""

from __future__ import annotations

import queue
import threading

from ravine.rules.specialize import literals
from ravine.runner import run

from .schemas import LIMITS

__all__ = ["Kernels", "numba_available"]


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


class Kernels:
    """The compile queue (one daemon thread, so a stopping server never waits for a compiler)
    and the kernel budget of one explorer. ``numba``: kernels are used at all; ``background``:
    compiled in the thread, else in the request that asks (perf, tests)."""

    def __init__(self, *, numba: bool, background: bool, closing: threading.Event):
        self.numba = numba
        self.background = background
        self._closing = closing
        self._lock = threading.Lock()
        self.queue: queue.Queue | None = None
        if numba and background:
            self.queue = queue.Queue(maxsize=LIMITS["compile_queue"])
            threading.Thread(target=self._worker, name="ravine-compile", daemon=True).start()
        self.formulas: set = set()  # the user formulas that have kernels
        self.compiled: set = set()  # (problem key, kernel key) ever compiled here: the budget

    def close(self) -> None:
        """Wake the compiler thread so that it ends (the explorer's ``closing`` is set)."""
        if self.queue is not None:
            try:
                self.queue.put_nowait(None)
            except queue.Full:
                pass

    def _worker(self):
        while not self._closing.is_set():
            job = self.queue.get()
            if job is None or self._closing.is_set():
                return
            self.compile(*job)

    def key(self, rule, problem, setup, *, map: bool = False) -> tuple | None:
        """The kernel ``rule`` runs ``setup`` on ``problem`` with (the map's, which records
        nothing, when ``map``), or None when no kernel can: numba off, a rule that is not
        elementwise, or a problem without scalar functions."""
        key = (type(rule), literals(rule.h), setup.grad_noise > 0)
        if not (self.numba and rule.elementwise and problem.scalar_functions() is not None):
            return None
        return ("map", *key) if map else key

    def ask(self, rule, e, key, setup) -> bool:
        """Compile ``key``'s kernel (in the background, or now without it) unless it is warm,
        broken, pending, or over the budget (:meth:`may_compile`); True when it is compiling now."""
        if key in e.warm or key in e.broken:
            return False
        with e.lock:
            todo = key not in e.pending and key not in e.warm
            if todo:
                todo = self.may_compile(e, key)
            if todo:
                e.pending.add(key)
        if not todo:
            return key in e.pending
        job = (rule, e, key, setup.start, setup.grad_noise)
        if self.queue is not None:
            try:
                self.queue.put_nowait(job)
            except queue.Full:  # NumPy this time; asked again by a later request (still reserved)
                e.pending.discard(key)
                return False
            return True
        if not self.background:
            self.compile(*job)
        return False

    def may_compile(self, e, key) -> bool:
        """Whether ``key``'s kernel on problem ``e`` may be compiled; reserves it if so.

        A compiled kernel's machine code is never given back to the system (evicting it from a
        cache frees nothing), so the process has a lifetime budget: ``LIMITS["compiled_kernels"]``
        distinct (problem, kernel) combinations, and user formulas only while fewer than
        ``compiled_formulas`` have kernels. A combination already compiled is always allowed
        (a problem evicted from the cache and rebuilt finds its kernel compiled); beyond the
        budget new combinations run on NumPy, with the same numbers."""
        with self._lock:
            if (e.key, key) in self.compiled:
                return True
            if len(self.compiled) >= LIMITS["compiled_kernels"]:
                return False
            if e.key[0] == "formula" and e.key not in self.formulas:
                if len(self.formulas) >= LIMITS["compiled_formulas"]:
                    return False
                self.formulas.add(e.key)
            self.compiled.add((e.key, key))
            return True

    def compile(self, rule, e, key, start, grad_noise) -> None:
        """Compile ``key``'s kernel by running two steps: ``warm`` on success, else ``broken``."""
        try:
            record = "final" if key[0] == "map" else "all"  # the map's kernel keeps no state
            run([rule], e.problem, starts=[start], steps=2, record=record, backend="numba", grad_noise=grad_noise)
            e.warm.add(key)
        except Exception:
            e.broken.add(key)
        finally:
            e.pending.discard(key)

    @staticmethod
    def failed(e, key) -> None:
        """``key``'s compiled kernel failed to run: NumPy from now on."""
        e.warm.discard(key)
        e.broken.add(key)
