"""The store at its edges, with real SQLite files and real ``ravine`` processes: corrupted,
foreign and newer stores, a read-only directory, a full disk, and several runs on one store.
Each ends in one line naming the store and the cause (exit 2) or in the right numbers."""

import csv
import hashlib
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys

import pytest

from support.bench import bench_env

# a tiny plan, inline (one worker): 4 tuning trials, then 3 final ones
BASE = ["--problems", "nqm", "--optimizers", "sgd", "--trials", "2", "--seeds", "1", "--workers", "1"]
EXPECTED = 7


def _cmd(*args):
    return [sys.executable, "-m", "ravine.cli", *map(str, args)]


def _run(argv, timeout=240, **kw):
    return subprocess.run(
        argv, capture_output=True, text=True, env=bench_env(PYTHONDONTWRITEBYTECODE="1"), timeout=timeout, **kw
    )


def _one_line(r, store):
    """Exit 2, one line on stderr naming the store, nothing on stdout that claims success."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert len(lines) == 1, r.stderr
    assert str(store) in lines[0], lines[0]
    assert "Traceback" not in r.stderr and "recorded" not in r.stdout and "report:" not in r.stdout
    return lines[0]


def _every_command(store, tmp):
    """run (the store's own plan), status, report and export on ``store``."""
    return {
        "run": _cmd("bench", "run", store, *BASE, "-q"),
        "status": _cmd("bench", "status", store),
        "report": _cmd("bench", "report", store, "-o", tmp / "rep"),
        "export": _cmd("bench", "export", store, "-o", tmp / "x.csv"),
    }


@pytest.fixture(scope="module")
def good_store(tmp_path_factory):
    """A complete store of the tiny plan (cleanly closed: no -wal left)."""
    store = tmp_path_factory.mktemp("good") / "s.db"
    r = _run(_cmd("bench", "run", store, *BASE, "-q"))
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(f"{store}-wal")
    return store


def _btree_pages(data, size):
    """Page numbers (1-based) of the b-tree pages after the first (their first byte is a type)."""
    return [i + 1 for i in range(1, len(data) // size) if data[i * size] in (2, 5, 10, 13)]


def _corrupt(kind, data):
    size = int.from_bytes(data[16:18], "big")
    if kind == "header":  # the first 100 bytes: SQLite's header
        return bytes(random.Random(1).randrange(256) for _ in range(100)) + data[100:]
    if kind == "middle-page":  # a b-tree page in the middle of the file, overwritten with noise
        pages = _btree_pages(data, size)
        n = pages[len(pages) // 2]
        noise = bytes(random.Random(2).randrange(256) for _ in range(size))
        return data[: (n - 1) * size] + noise + data[n * size :]
    if kind == "truncated":  # the file cut in half
        return data[: len(data) // 2]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["header", "middle-page", "truncated"])
def test_a_corrupted_store_is_one_line_for_every_command(tmp_path, good_store, kind):
    data = good_store.read_bytes()
    assert len(_btree_pages(data, int.from_bytes(data[16:18], "big"))) >= 3  # a store of several pages
    store = tmp_path / f"{kind}.db"
    store.write_bytes(_corrupt(kind, data))
    damaged = store.read_bytes()
    procs = {
        name: subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=bench_env())
        for name, argv in _every_command(store, tmp_path).items()
    }
    for name, p in procs.items():
        out, err = p.communicate(timeout=240)
        line = _one_line(subprocess.CompletedProcess(p.args, p.returncode, out, err), store)
        assert "corrupted" in line or "not an SQLite database" in line, (name, line)
    assert store.read_bytes() == damaged  # nothing wrote to it
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "rep").exists()


def _edit(store, tmp_path, name, *sql):
    """A copy of ``store`` changed by ``sql`` (journal mode kept)."""
    out = tmp_path / name
    shutil.copy(store, out)
    con = sqlite3.connect(out)
    for s in sql:
        con.execute(s)
    con.commit()
    con.close()
    return out


def test_foreign_newer_and_other_schemas_are_refused_untouched(tmp_path, good_store):
    cases = {
        "foreign": (["DROP TABLE trials", "DROP TABLE meta", "CREATE TABLE notes (x TEXT)"], "no 'meta' table"),
        "newer": (["UPDATE meta SET value = '2' WHERE key = 'schema_version'"], "written by a newer ravine"),
        "unversioned": (["DELETE FROM meta WHERE key = 'schema_version'"], "no schema version"),
        "columns": (["ALTER TABLE trials DROP COLUMN backend"], "missing columns ['backend']"),
    }
    empty = tmp_path / "empty.db"
    empty.touch()
    stores = {name: (_edit(good_store, tmp_path, f"{name}.db", *sql), words) for name, (sql, words) in cases.items()}
    stores["empty"] = (empty, "empty file")
    for name, (store, words) in stores.items():
        before = store.read_bytes()
        for cmd in ("run", "status"):
            line = _one_line(_run(_every_command(store, tmp_path)[cmd]), store)
            assert words in line, (name, cmd, line)
        assert store.read_bytes() == before, name  # a run never writes a schema into a file it did not create


def test_undecodable_content_is_one_line(tmp_path, good_store):
    # content an integrity check cannot see (a damaged overflow page): the cell is not JSON
    store = _edit(good_store, tmp_path, "s.db", "UPDATE trials SET curves = '{not json' WHERE id = 2")
    for cmd in ("report", "export"):
        line = _one_line(_run(_every_command(store, tmp_path)[cmd]), store)
        assert "corrupted" in line and "'curves' is not JSON" in line, line


# -- read-only ------------------------------------------------------------------------------


def _read_only(d):
    """Make directory ``d`` read-only for ravine; returns (how, wrap) where ``wrap(argv)`` is the
    command line that runs ``argv`` there. Root ignores permission bits, so as root ``d`` is a
    read-only bind mount in a private mount namespace (EROFS for everyone, root included); an
    ordinary user gets chmod 0555. Either way a file is first shown to be uncreatable there."""
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("root without unshare(1): cannot make a read-only directory")
        script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
        wrap = lambda argv: ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(d), *map(str, argv)]
        probe = subprocess.run(wrap(["touch", d / "probe"]), capture_output=True, text=True)
        if "Read-only file system" not in probe.stderr:
            pytest.skip(f"root, but no read-only bind mount here: {probe.stderr.strip()[:200]}")
        return "read-only bind mount (root)", wrap
    for f in d.iterdir():
        os.chmod(f, 0o444)
    os.chmod(d, 0o555)
    with pytest.raises(PermissionError):
        (d / "probe").touch()
    return "chmod 0555 (unprivileged user)", lambda argv: list(map(str, argv))


def _digest(d):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(d.iterdir())}


def test_a_store_on_a_read_only_directory_reads_correctly(tmp_path, good_store):
    # the reference: the same commands on a writable copy
    ref, ro, out = tmp_path / "ref", tmp_path / "ro", tmp_path / "out"
    for d in (ref, ro, out):
        d.mkdir()
    shutil.copy(good_store, ref / "s.db")
    shutil.copy(good_store, ro / "s.db")

    def commands(store, tag):
        return [
            _cmd("bench", "status", store),
            _cmd("bench", "export", store, "-o", out / f"{tag}.csv"),
            _cmd("bench", "report", store, "-o", out / f"{tag}-rep"),
        ]

    expected = [_run(c) for c in commands(ref / "s.db", "ref")]
    assert all(r.returncode == 0 for r in expected), [r.stderr for r in expected]
    how, wrap = _read_only(ro)
    before = _digest(ro)
    try:
        got = [_run(wrap(c)) for c in commands(ro / "s.db", "ro")]
        after = _digest(ro)
        # a run there is refused in one line (it must write)
        refused = _run(wrap(_cmd("bench", "run", ro / "s.db", *BASE, "-q")))
    finally:
        os.chmod(ro, 0o755)
    for r in got:
        assert r.returncode == 0, (how, r.stderr)
    assert got[0].stdout.replace(str(ro), str(ref)) == expected[0].stdout, how
    assert (out / "ro.csv").read_text() == (out / "ref.csv").read_text() and len(
        list(csv.reader(open(out / "ro.csv")))
    ) == EXPECTED + 1
    md = lambda tag: (out / f"{tag}-rep" / "report.md").read_text()
    assert md("ro").replace(str(ro), str(ref)) == md("ref"), how
    assert after == before, how  # nothing created or changed (no -wal, no -shm)
    assert _one_line(refused, ro / "s.db") and "not writable" in refused.stderr, (how, refused.stderr)


def test_a_read_only_directory_with_a_write_ahead_log_is_refused(tmp_path, good_store):
    ro = tmp_path / "ro"
    ro.mkdir()
    src = tmp_path / "live.db"
    shutil.copy(good_store, src)
    con = sqlite3.connect(src, isolation_level=None)
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("UPDATE meta SET value = 'changed' WHERE key = 'created_at'")  # committed, in the -wal only
    shutil.copy(src, ro / "s.db")
    shutil.copy(f"{src}-wal", ro / "s.db-wal")
    con.close()
    how, wrap = _read_only(ro)
    try:
        line = _one_line(_run(wrap(_cmd("bench", "status", ro / "s.db"))), ro / "s.db")
    finally:
        os.chmod(ro, 0o755)
    assert "write-ahead log" in line and "-wal" in line, (how, line)


def test_reading_never_changes_the_journal_mode(tmp_path, good_store):
    store = tmp_path / "s.db"
    shutil.copy(good_store, store)
    con = sqlite3.connect(store)
    assert con.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    con.close()
    before = store.read_bytes()
    for cmd in ("status", "report", "export"):
        r = _run(_every_command(store, tmp_path)[cmd])
        assert r.returncode == 0, r.stderr
    assert store.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("s.db")) == ["s.db"]


# -- full disk ------------------------------------------------------------------------------


def _limit(nbytes):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return pre


def _consistent(store):
    """The store after a failed run: intact, every row planned or complete; a run finishes it."""
    if store.exists():
        con = sqlite3.connect(store)
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for status, metrics in con.execute("SELECT status, metrics FROM trials"):
            assert (status == "planned") == (metrics is None)
        con.close()
    r = _run(_cmd("bench", "run", store, *BASE, "-q"))
    assert r.returncode == 0 and f"{EXPECTED} trials recorded" in r.stdout, r.stderr


@pytest.mark.parametrize("nbytes", [8 * 1024, 40 * 1024])  # creation fails / a run fails part-way
def test_a_file_size_limit_is_one_line(tmp_path, nbytes):
    # RLIMIT_FSIZE: every write past it fails with EFBIG, which SQLite reports as an I/O error
    store = tmp_path / "s.db"
    r = _run(_cmd("bench", "run", store, *BASE, "-q"), preexec_fn=_limit(nbytes))
    line = _one_line(r, store)
    assert "I/O error" in line and "the disk may be full" in line, line
    assert sorted(p.name for p in tmp_path.iterdir() if "creating" in p.name) == []  # no temporary store left
    _consistent(store)


@pytest.mark.parametrize("size", ["16k", "60k"])  # creation fails / a run fails part-way
def test_a_full_file_system_is_one_line(tmp_path, size):
    # a real full disk (ENOSPC): a small tmpfs, mounted in a private mount namespace (root only)
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("a tmpfs of a given size needs root (the file size limit test covers other users)")
    d = tmp_path / "small"
    d.mkdir()
    store = d / "s.db"
    script = 'mount -t tmpfs -o size="$1" tmpfs "$0" && shift && "$@"; rc=$?; cp -a "$0"/. "$0.after"/; exit $rc'
    (tmp_path / "small.after").mkdir()
    argv = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        str(d),
        size,
        *_cmd("bench", "run", store, *BASE, "-q"),
    ]
    r = _run(argv)
    if "mount:" in r.stderr:
        pytest.skip(f"no tmpfs mount here: {r.stderr.strip()[:200]}")
    line = _one_line(r, store)
    assert "the disk is full" in line or "the disk may be full" in line, line
    after = tmp_path / "small.after"
    assert not [p.name for p in after.iterdir() if "creating" in p.name]
    _consistent(after / "s.db")


# -- several runs on one store --------------------------------------------------------------

PROGRESS = re.compile(r"^\[(tune|final) \d+/\d+\] ", re.M)


def test_concurrent_runs_on_a_new_store(tmp_path):
    """3 rounds of 3 ``bench run`` started at once on the same new store: one runs, each other
    is refused in one line naming a runner's pid, or (started after it finished) finds nothing
    left to run. Every trial is run and recorded exactly once."""
    refusals = 0
    for round_ in range(3):
        store = tmp_path / f"race{round_}.db"
        procs = [
            subprocess.Popen(
                _cmd("bench", "run", store, *BASE),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=bench_env(),
            )
            for _ in range(3)
        ]
        results = [(p.pid, *p.communicate(timeout=240), p.returncode) for p in procs]
        pids = {pid for pid, *_ in results}
        ran = 0
        for pid, out, err, rc in results:
            assert "Traceback" not in err and "IntegrityError" not in err, err
            if rc == 2:
                line = _one_line(subprocess.CompletedProcess([], rc, out, err), store)
                m = re.search(r"in use by another 'ravine bench run' \(pid (\d+)", line)
                assert m and int(m.group(1)) in pids - {pid}, line
                refusals += 1
            else:
                assert rc == 0 and f"{EXPECTED} trials recorded" in out, (rc, out, err)
                ran += len(PROGRESS.findall(err))
        assert ran == EXPECTED, f"round {round_}: {ran} trials run for {EXPECTED} planned"
        con = sqlite3.connect(store)
        keys = [k for (k,) in con.execute("SELECT key FROM trials WHERE status != 'planned'")]
        assert len(keys) == len(set(keys)) == EXPECTED == con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        con.close()
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((store.name, f".{store.name}")))
        assert left == [store.name, f"{store.name}.lock"], left  # no temporary store, no -wal
    assert refusals >= 1, "no run was ever refused: the three did not overlap"


def test_a_killed_runner_releases_the_store(tmp_path):
    """A process that holds the store (opened to write, then SIGKILLed) blocks a run only while
    it lives: the refusal names its pid; once it is dead the run goes on."""
    store = tmp_path / "s.db"
    holder = (
        "import sys, time\n"
        "from ravine.benchmark.store import Store\n"
        "from ravine.benchmark.plan import make_plan\n"
        "plan = make_plan('smoke', problems=['nqm'], optimizers=['sgd'], trials=2, seeds=1)\n"
        "st = Store.open(sys.argv[1], plan.to_dict(), plan.hash())\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", holder, str(store)], stdout=subprocess.PIPE, text=True, env=bench_env())
    try:
        assert p.stdout.readline().strip() == "ready"
        line = _one_line(_run(_cmd("bench", "run", store, *BASE, "-q")), store)
        assert f"pid {p.pid}" in line and "in use" in line, line
        assert _run(_cmd("bench", "status", store)).returncode == 0  # reading is never refused
    finally:
        p.kill()
        p.wait()
    r = _run(_cmd("bench", "run", store, *BASE, "-q"))
    assert r.returncode == 0 and f"{EXPECTED} trials recorded" in r.stdout, r.stderr
