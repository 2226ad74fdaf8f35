"""Benchmark problems, one small class per file (see ``base.py``)."""

from .base import Data, Problem, get_problem, list_problems

__all__ = ["Problem", "Data", "get_problem", "list_problems"]
