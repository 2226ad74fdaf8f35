"""The interactive explorer: ``ravine serve`` (a local FastAPI app and a hand-written page).

See ``docs/explorer.md``. :func:`create_app` builds the app (``app.py``: routes and the body
limit); ``engine.py`` computes (:class:`~ravine.explorer.engine.Explorer`, with the problem
cache in ``problems.py``, the compile queue and kernel budget in ``compiling.py``, the request
bounds and deadline in ``limits.py``, the views in ``eigen.py``, ``hypermap.py``, ``meta.py``), ``schemas.py``
validates requests, ``encode.py`` writes JSON. The CLI entry is ``ravine.cli.serve:command``.
Importing this package imports nothing heavy; ``ravine.explorer.app`` needs the ``serve``
extra (fastapi, uvicorn, plotly, pydantic).
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(**kw):
    """Build the explorer's FastAPI app (see :func:`ravine.explorer.app.create_app`)."""
    from .app import create_app as _create

    return _create(**kw)
