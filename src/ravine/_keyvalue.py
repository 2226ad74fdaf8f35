"""The one reader of ``key=value`` text: ``lr=0.1,betas=0.9/0.999,nesterov=true``.

Read by every command-line option that takes assignments (``--set``, ``--opt``, ``--param``,
an optimizer's ``adam(lr=0.01)``, a problem's ``rosenbrock:b=10``: ``ravine.cli.parse`` turns
the error into a usage error) and by the schedule specs of ``ravine.train``
(``"step:step_size=10,gamma=0.5"``, on the command line and in the Python API alike).

A value is a bool (``true``/``false``, ``yes``/``no``, ``on``/``off``, any case), ``None``
(``none``/``null``), an integer,
a float, a pair or list (``0.9/0.999``, ``0.9,0.999``, ``(0.9, 0.999)`` or ``[10, 20]``: a
tuple), a quoted string (``'cos'``) or a bare name (``heavy_ball``, ``min``). A comma starts a
new assignment only where a ``name=`` follows, so ``betas=0.9,0.999`` is one assignment. Every
error is one ``ValueError`` line that names where the text came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["parse_value", "parse_assignments"]

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def parse_value(text: str, where: str = "value") -> Any:
    """One value (the syntax above); ``where`` names the option in the error."""
    t = str(text).strip()
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):  # a keyword's "not set" (torch's schedulers take None)
        return None
    if len(t) > 1 and t[0] in "'\"" and t[-1] == t[0]:
        return t[1:-1]
    t2 = t[1:-1] if len(t) > 1 and t[0] in "([" and t[-1] in ")]" else t
    if "/" in t2 or "," in t2:
        return tuple(parse_value(p, where) for p in re.split(r"[/,]", t2))
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        pass
    if re.fullmatch(_IDENT, t):
        return t
    raise ValueError(f"{where}: cannot read value {text!r} (numbers, true/false, a/b pairs or names)")


def parse_assignments(text: str | Iterable[str], where: str) -> dict[str, Any]:
    """``"lr=0.1, betas=0.9,0.99"`` → ``{"lr": 0.1, "betas": (0.9, 0.99)}``; a list of such
    strings (a repeated option) is read in order. ``-`` in a name reads as ``_``."""
    if not isinstance(text, str):
        out: dict[str, Any] = {}
        for item in text:
            out.update(parse_assignments(item, where))
        return out
    out = {}
    for part in filter(None, (p.strip() for p in re.split(r",(?=\s*" + _IDENT + r"\s*=)", text))):
        if "=" not in part or not part.split("=", 1)[1].strip():
            raise ValueError(f"{where}: expected key=value, got {part!r}")
        k, v = part.split("=", 1)
        k = k.strip().replace("-", "_")
        if not re.fullmatch(_IDENT, k):
            raise ValueError(f"{where}: bad name {k!r} in {text!r}")
        out[k] = parse_value(v, f"{where} {k}")
    return out
