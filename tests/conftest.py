import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the marks into the node ids
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test`` runs ``-n auto --dist loadgroup``): the tests of a module
    that share a module-scoped fixture (a server, a browser, a Ray run, a trained model) run in
    one worker, so the fixture is built once; every other test goes wherever a worker is free."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if any(d.scope in ("module", "class", "package") for group in defs for d in group):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
