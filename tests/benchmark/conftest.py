import pytest

from support.bench import SMOKE_ARGS, TIMING, ravine


@pytest.fixture
def run_ravine():
    return ravine


@pytest.fixture(scope="session")
def smoke_reference(tmp_path_factory):
    """The smoke suite run inline with --backend local (one worker): the reference store."""
    import time

    store = tmp_path_factory.mktemp("ref") / "ref.db"
    t = time.perf_counter()
    r = ravine("bench", "run", store, *SMOKE_ARGS, "--workers", "1", "--backend", "local")
    assert r.returncode == 0, r.stderr[-2000:]
    TIMING["smoke"] = time.perf_counter() - t  # how long the whole sweep takes here
    return store
