"""The version of ravine, written once (pyproject reads it; ``ravine.__version__`` re-exports it),
and :func:`versions`: the software a record was made with."""

from __future__ import annotations

import functools
import platform

__version__ = "0.2.0"


def versions(*packages: str) -> dict[str, str | None]:
    """ravine's and Python's versions, then each of ``packages`` as installed (its distribution's
    metadata; None where it is not installed). Written into every training record and benchmark
    trial; each package is looked up once per process (a lookup takes milliseconds)."""
    return {"ravine": __version__, "python": platform.python_version(), **{p: _installed(p) for p in packages}}


@functools.cache
def _installed(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
