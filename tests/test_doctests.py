"""The examples in the docstrings of every ravine module run, and print what they say.

Collected here rather than by ``--doctest-modules`` (which would also import every test file
by its bare name, and the test folders reuse names such as ``conftest.py``).
"""

import doctest
import importlib
import pkgutil

import pytest

import ravine

MODULES = sorted(m.name for m in pkgutil.walk_packages(ravine.__path__, "ravine.") if not m.name.endswith("__main__"))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _tests(name):
    mod = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(mod, name) if t.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for t in _tests(name):
        runner.run(t)
    assert runner.failures == 0, f"{name}: {runner.failures} docstring example(s) failed (run with -s to see them)"


def test_there_are_examples_to_run():
    """The collection above is not vacuous: the public modules carry examples."""
    with_examples = [n for n in ("ravine.problems", "ravine.step_tables", "ravine.lectures") if _tests(n)]
    assert len(with_examples) == 3
    assert sum(len(t.examples) for n in MODULES for t in _tests(n)) >= 10
