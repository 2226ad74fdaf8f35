"""Helpers shared by the test folders (tests/ is on sys.path through its conftest.py).

Nothing here computes an expected value: each test writes its reference out itself.
"""
