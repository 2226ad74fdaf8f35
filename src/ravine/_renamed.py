"""Names a user typed before they were renamed, old → new, and the one message that says so.

"seed" used to mean both a lecture source file (``/work/shared/seeds/00N_*.txt``) and a random
seed; the lecture sense is now "lecture" everywhere (``--seed`` is randomness only). The old
lecture-sense names get a one-line error naming the new one instead of "unknown name"::

    >>> renamed_message("convention", "seed000")
    "convention 'seed000' was renamed 'lecture000'"
    >>> renamed_message("problem", "rosenbrock") is None
    True

``rules/base.py`` (conventions), ``problems/catalog.py`` (problem names) and ``ravine explain
--seed-example`` read this table; nothing else keeps old names.
"""

from __future__ import annotations

__all__ = ["RENAMED", "renamed_message"]

#: old name → new name (conventions, catalog problems, the ``ravine explain`` option)
RENAMED: dict[str, str] = {
    **{f"seed00{i}": f"lecture00{i}" for i in range(5)},
    "seed_error_surface": "lecture_error_surface",
    "seed_bowl3d": "lecture_bowl3d",
    "seed_three_var": "lecture_three_var",
    "--seed-example": "--lecture-example",
}


def renamed_message(kind: str, name: object) -> str | None:
    """``"<kind> 'old' was renamed 'new'"`` when ``name`` is an old name, else ``None``."""
    new = RENAMED.get(name) if isinstance(name, str) else None
    return None if new is None else f"{kind} {name!r} was renamed {new!r}"
