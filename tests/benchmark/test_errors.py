"""Bad input → one line naming it, exit code 2, nothing in the store lost."""

import os
import sqlite3

import pytest

BASE = ["--problems", "nqm", "--optimizers", "sgd", "--trials", "2", "--seeds", "1", "--workers", "1", "-q"]


def _err(r):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--suite", "huge"], ["--suite", "'huge'", "smoke"]),
        (["--problems", "nope"], ["--problems", "'nope'", "digits_mlp"]),
        (["--optimizers", "sgd,lion"], ["--optimizers", "'lion'", "adam"]),
        (["--range", "lr=1,1"], ["lr", "empty"]),
        (["--range", "lr=1,1e-3"], ["lr", "inverted"]),
        (["--range", "unit=0.1,2"], ["1−unit", "< 1"]),
        (["--range", "lr=-1,1"], ["lr", "positive"]),
        (["--range", "lrr=1e-4,1"], ["--range", "'lrr'"]),
        (["--backend", "spark"], ["--backend", "'spark'", "ray"]),
        (["--backend", "batched", "--compile", "sometimes"], ["--compile", "'sometimes'", "always"]),
        (["--compile", "always"], ["--compile", "--backend batched", "local"]),
        (["--trials", "0"], ["--trials", "0"]),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, run_ravine, args, words):
    store = tmp_path / "s.db"
    r = run_ravine("bench", "run", store, *args)
    line = _err(r)
    for w in words:
        assert w in line, line
    assert not store.exists()


def test_bad_compile_mode_from_the_environment(tmp_path, run_ravine, monkeypatch):
    monkeypatch.setenv("RAVINE_BATCHED_COMPILE", "yes")
    store = tmp_path / "s.db"
    line = _err(run_ravine("bench", "run", store, *BASE, "--backend", "batched"))
    assert "RAVINE_BATCHED_COMPILE" in line and "'yes'" in line and "always" in line
    assert not store.exists()


def test_unwritable_path(tmp_path, run_ravine):
    d = tmp_path / "ro"
    d.mkdir()
    os.chmod(d, 0o500)
    try:
        if not os.access(d, os.W_OK):  # an ordinary user: permissions are enforced
            line = _err(run_ravine("bench", "run", d / "s.db", *BASE))
            assert str(d) in line and "not writable" in line
    finally:
        os.chmod(d, 0o700)
    # a file system nobody can create files on (root included)
    line = _err(run_ravine("bench", "run", "/proc/ravine-bench.db", *BASE))
    assert "/proc/ravine-bench.db" in line and "writable" in line
    line = _err(run_ravine("bench", "run", tmp_path / "missing" / "s.db", *BASE))
    assert "does not exist" in line


def test_store_of_another_plan_is_refused_and_kept(tmp_path, run_ravine):
    store = tmp_path / "s.db"
    assert run_ravine("bench", "run", store, *BASE).returncode == 0
    con = sqlite3.connect(store)
    before = con.execute("SELECT * FROM trials ORDER BY id").fetchall()
    meta = con.execute("SELECT * FROM meta ORDER BY key").fetchall()
    con.close()
    line = _err(run_ravine("bench", "run", store, *BASE[:-3], "--seeds", "2", "-q"))
    assert "different plan" in line and str(store) in line
    con = sqlite3.connect(store)
    assert con.execute("SELECT * FROM trials ORDER BY id").fetchall() == before
    assert con.execute("SELECT * FROM meta ORDER BY key").fetchall() == meta
    con.close()
    # the same plan again is accepted
    assert run_ravine("bench", "run", store, *BASE).returncode == 0


def test_report_and_export_errors(tmp_path, run_ravine):
    line = _err(run_ravine("bench", "status", tmp_path / "none.db"))
    assert "no store" in line
    bogus = tmp_path / "bogus.db"
    bogus.write_text("not sqlite at all " * 100)
    line = _err(run_ravine("bench", "report", bogus, "-o", tmp_path / "rep"))
    assert "not a ravine bench store" in line
    store = tmp_path / "s.db"
    assert run_ravine("bench", "run", store, *BASE).returncode == 0
    line = _err(run_ravine("bench", "export", store, "-o", tmp_path / "x.xlsx"))
    assert ".csv or .parquet" in line


def test_bench_is_a_ravine_command(run_ravine):
    r = run_ravine("--help")
    assert r.returncode == 0 and "bench" in r.stdout
    r = run_ravine("bench", "--help")
    assert r.returncode == 0
    for sub in ("run", "status", "report", "export"):
        assert sub in r.stdout
