"""The version of ravine, written once (pyproject reads it; ``ravine.__version__`` re-exports it)."""

__version__ = "0.2.0"
