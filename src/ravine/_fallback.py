"""A compiled step that failed to compile: said once, eager from then on.

Two places compile a rule's step with torch, and both keep the same books when compiling a
variant fails: the variant's key goes into the caller's set of failed keys (checked before
compiling again: from then on that variant runs eagerly, silently), the caller's
``stats["fallbacks"]`` counts it, and one ``RuntimeWarning`` says what failed and why (the
exception's type and the first line of its message, at most 200 characters). A Ctrl+C or
SIGTERM that broke the compilation ends the run instead (:func:`ravine._signals.check`).

Their options answer different questions, which is why their words differ:

* ``ravine.optim``'s ``impl`` says **what runs**: ``"compiled"`` (a failure raises),
  ``"eager"``, or ``"auto"`` (compiled, falling back to eager where compiling fails).
* ``ravine bench run --compile`` says **when a batch is compiled**: ``always``, ``never``, or
  ``auto`` (once this process has run that variant eagerly for about as long as compiling it
  costs). A failure always falls back: a benchmark trial never fails for want of a compiler.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, MutableMapping

from . import _signals

__all__ = ["IMPLS", "COMPILE_MODES", "reason", "fall_back"]

#: ``ravine.optim``'s ``impl``: what runs
IMPLS = ("auto", "compiled", "eager")
#: ``ravine bench run --compile`` (batched): when a batch is compiled
COMPILE_MODES = ("auto", "always", "never")


def reason(exc: BaseException) -> str:
    """``"TypeName: first line of the message"`` (at most 200 characters of it)."""
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"


def fall_back(
    failed: set[Hashable],
    stats: MutableMapping[str, float],
    key: Hashable,
    what: str,
    exc: BaseException,
    then: str,
    *,
    stacklevel: int = 1,
) -> None:
    """Record that compiling ``key`` failed with ``exc`` and say it once: ``"{what} (reason);
    {then}"``, a ``RuntimeWarning`` attributed ``stacklevel`` frames above the caller."""
    _signals.check()  # an interrupt that broke the compilation stops the run, not the compiler
    failed.add(key)
    stats["fallbacks"] += 1
    warnings.warn(f"{what} ({reason(exc)}); {then}", RuntimeWarning, stacklevel=stacklevel + 1)
