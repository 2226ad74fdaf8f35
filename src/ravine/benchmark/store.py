"""The sweep store: one SQLite file (stdlib ``sqlite3``, WAL journal), schema versioned.

Every trial is a row written *before* it runs (status ``planned``: problem, optimizer, every
hyperparameter with the defaults written out, seed, protocol, phase) and completed by one
``UPDATE … WHERE status = 'planned'`` — a single statement, so a row is either planned or
complete, never half-written, and a trial is recorded at most once. A process killed at any
moment loses at most the trials that were running; a restart runs exactly the rows still
``planned``. The plan's hash is kept in ``meta``: a store refuses a different plan.

Opening checks the file: ``PRAGMA quick_check``, the tables and the columns of this schema
version, and the schema version itself. Anything wrong — not an SQLite file, not a ravine
store, a newer schema, a corrupted file — and every SQLite error later on (a full disk, an I/O
error, corruption found while reading) is a :class:`StoreError`: one line naming the store and
the cause.

*Writing* (``Store.open`` with a plan, what ``bench run`` does) takes an exclusive ``flock`` on
``STORE.lock`` beside the store, held until the store is closed or the process ends (the kernel
drops it when its holder dies, even by SIGKILL): a second writer is refused with one line
naming the other's pid. A new store is built complete (schema and meta, one transaction, WAL
mode) in a temporary file in the same folder and hard-linked into place only if no file has
that name (``os.link`` fails on an existing target): no half-created store is ever visible and
two creators cannot both win.

*Reading* (``Store.open`` without a plan: ``status``, ``report``, ``export``) opens the file
read-only (URI ``mode=ro``) and never changes its journal mode. A WAL database needs its
``-shm`` (and ``-wal``) file to be read; on a directory nobody may write (read-only media, a
read-only mount) they cannot be created, so the store is then opened ``immutable=1`` — safe
because nothing can write a WAL store there (a writer would have to create the ``-wal`` file
too). A non-empty ``-wal`` file that cannot be read that way holds committed data an immutable
open would skip: that is refused with one line instead.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .trial import Outcome, TrialSpec

try:
    import fcntl
except ImportError:  # no flock (Windows): writers are not serialized there
    fcntl = None

__all__ = ["Store", "StoreError", "SCHEMA_VERSION", "STATUSES", "COLUMNS", "JSON_COLUMNS"]

SCHEMA_VERSION = 1
STATUSES = ("planned", "ok", "diverged", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    phase       TEXT NOT NULL CHECK (phase IN ('tune', 'final')),
    protocol    TEXT NOT NULL,              -- lr | all | defaults
    problem     TEXT NOT NULL,
    optimizer   TEXT NOT NULL,
    point       INTEGER,                    -- Sobol point index (tune), chosen point (final)
    seed        INTEGER NOT NULL,
    steps       INTEGER NOT NULL,
    hyper       TEXT NOT NULL,              -- JSON: every hyperparameter, defaults written out
    status      TEXT NOT NULL DEFAULT 'planned'
                CHECK (status IN ('planned', 'ok', 'diverged', 'failed')),
    error       TEXT,
    curves      TEXT,                       -- JSON: step, time, train/val/test loss and error
    metrics     TEXT,                       -- JSON
    wall_time   REAL,
    versions    TEXT,
    hardware    TEXT,
    backend     TEXT,
    planned_at  TEXT NOT NULL,
    finished_at TEXT,
    CHECK ((status = 'planned') = (metrics IS NULL))
);
CREATE INDEX IF NOT EXISTS trials_status ON trials (phase, status);
"""

COLUMNS = (
    "id",
    "key",
    "phase",
    "protocol",
    "problem",
    "optimizer",
    "point",
    "seed",
    "steps",
    "hyper",
    "status",
    "error",
    "curves",
    "metrics",
    "wall_time",
    "versions",
    "hardware",
    "backend",
    "planned_at",
    "finished_at",
)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class StoreError(ValueError):
    """A store that cannot be used, in one line naming the store and the cause (a ValueError:
    the command line prints it and exits 2)."""


#: the columns that hold JSON text (the others hold one number or string each), in the order
#: ``ravine bench export`` writes them after the others
JSON_COLUMNS = ("hyper", "metrics", "curves", "versions", "hardware")


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _cause(exc: sqlite3.Error) -> str:
    """What an SQLite error means for the store, in words."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    msg = _one_line(str(exc))
    if name.startswith("SQLITE_FULL"):
        return f"the disk is full ({msg})"
    if name.startswith("SQLITE_IOERR"):  # writing past a size limit (EFBIG) reads as SQLITE_IOERR_WRITE
        hint = ": the disk may be full, over a size limit or failing" if "WRITE" in name or "SHM" in name else ""
        return f"I/O error ({msg}, {name}{hint})"
    if name.startswith("SQLITE_CORRUPT"):
        return f"the store is corrupted ({msg})"
    if name.startswith("SQLITE_NOTADB"):
        return "not a ravine bench store: not an SQLite database (another kind of file, or a corrupted header)"
    if name.startswith("SQLITE_READONLY"):
        return f"cannot be written ({msg})"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return f"busy: another process holds a lock on it ({msg})"
    if name.startswith("SQLITE_CANTOPEN"):
        return f"cannot be opened ({msg})"
    if "decode" in msg and "UTF-8" in msg:  # a text cell that is not UTF-8: a damaged page
        return "the store is corrupted (a text column is not valid UTF-8)"
    return msg


def _guarded(method):
    """Turn every SQLite error of ``method`` into a StoreError naming the store."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise StoreError(f"STORE: {self.path!r}: {_cause(exc)}") from None

    return wrapper


def _uri(p: Path, **params: Any) -> str:
    """``file:`` URI of ``p`` (every odd character percent-encoded) with query ``params``."""
    return p.resolve().as_uri() + "?" + "&".join(f"{k}={v}" for k, v in params.items())


def _connect(p: Path, **params: Any) -> sqlite3.Connection:
    return sqlite3.connect(_uri(p, **params), uri=True, timeout=30, isolation_level=None)


def _check(conn: sqlite3.Connection, p: Path) -> None:
    """The file's integrity, then its tables, schema version and columns; StoreError if wrong."""
    name = repr(str(p))
    first = conn.execute("PRAGMA quick_check(1)").fetchone()
    if first is None or first[0] != "ok":
        raise StoreError(
            f"STORE: {name}: the store is corrupted (quick_check: {_one_line(first[0] if first else 'no result')})"
        )
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables and p.stat().st_size == 0:
        raise StoreError(f"STORE: {name} is an empty file, not a ravine bench store")
    for t in ("meta", "trials"):
        if t not in tables:
            raise StoreError(f"STORE: {name} is not a ravine bench store (no {t!r} table)")
    if [r[1] for r in conn.execute("PRAGMA table_info(meta)")] != ["key", "value"]:
        raise StoreError(f"STORE: {name} is not a ravine bench store (table 'meta' is not (key, value))")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise StoreError(f"STORE: {name} is not a ravine bench store (no schema version in 'meta')")
    if row[0] != str(SCHEMA_VERSION):
        newer = str(row[0]).isdigit() and int(row[0]) > SCHEMA_VERSION
        raise StoreError(
            f"STORE: {name} has schema version {_one_line(row[0], 40)!r}"
            + (" (written by a newer ravine)" if newer else "")
            + f"; this ravine reads version {SCHEMA_VERSION}"
        )
    cols = tuple(r[1] for r in conn.execute("PRAGMA table_info(trials)"))
    if cols != COLUMNS:
        missing = [c for c in COLUMNS if c not in cols]
        extra = [c for c in cols if c not in COLUMNS]
        raise StoreError(
            f"STORE: {name} is not a ravine bench store of schema version {SCHEMA_VERSION} "
            f"(table 'trials': missing columns {missing}, unknown columns {extra})"
        )


class _RunLock:
    """An exclusive ``flock`` on ``STORE.lock`` holding the owner's pid (see the module docstring)."""

    def __init__(self, p: Path):
        self.fd = None
        if fcntl is None:
            return
        path = str(p) + ".lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"STORE: {str(p)!r}: cannot create the lock file {path!r} ({exc.strerror}); "
                "a run needs a writable directory"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = self._holder(fd)
            os.close(fd)
            raise StoreError(
                f"STORE: {str(p)!r} is in use by another 'ravine bench run' (pid {pid}, lock {path!r}); "
                "wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        self._file = os.fdopen(fd, "rb+", buffering=0)  # a store dropped unclosed drops its lock too

    @staticmethod
    def _holder(fd: int) -> str:
        """The pid the holder wrote (it writes it just after locking: wait for it a moment)."""
        for _ in range(50):
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            if text.isdigit():
                return text
            time.sleep(0.02)
        return "unknown"

    def release(self) -> None:
        if self.fd is not None:
            self._file.close()  # closing the only descriptor drops the flock
            self.fd = None


def _create(p: Path, plan: Mapping[str, Any], plan_hash: str | None) -> None:
    """Build a complete store in a temporary file beside ``p`` and link it to ``p`` unless a
    file of that name exists by then (see the module docstring)."""
    tmp = p.with_name(f".{p.name}.{os.getpid()}.creating")
    parts = [tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")]
    for f in parts:  # a leftover of a killed process that had this pid
        f.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for stmt in _SCHEMA.strip().split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("plan_hash", plan_hash or ""),
                    ("plan", json.dumps(plan, sort_keys=True)),
                    ("created_at", _now()),
                ],
            )
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode=WAL")  # the last change: nothing is left in a -wal
        finally:
            conn.close()
        try:
            os.link(tmp, p)
        except FileExistsError:
            pass  # another process created it first: its store is complete, ours is dropped
        except OSError:  # a file system without hard links: rename, unless it exists by now
            if not p.exists():
                os.replace(tmp, p)
    except sqlite3.Error as exc:
        raise StoreError(f"STORE: cannot create {str(p)!r}: {_cause(exc)}") from None
    except OSError as exc:
        raise StoreError(f"STORE: cannot create {str(p)!r} ({exc.strerror or exc})") from None
    finally:
        for f in parts:
            f.unlink(missing_ok=True)


class Store:
    """A sweep store at ``path`` (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, conn: sqlite3.Connection, *, lock: _RunLock | None = None):
        self.path = str(path)
        self.conn = conn
        self._lock = lock

    # -- opening ----------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        plan: Mapping[str, Any] | None = None,
        plan_hash: str | None = None,
        *,
        create: bool = True,
    ) -> Store:
        """Open a store: with a plan to write it (creating it when absent and ``create``),
        without one to read it, read-only. StoreError (one line) when it is missing, cannot be
        written (with a plan), is in use by another writer, is not a ravine store, has another
        schema version, fails its integrity check or holds another plan."""
        p = Path(path)
        if p.is_dir():
            raise StoreError(f"STORE: {str(p)!r} is a directory, not a store file")
        if plan is None:
            return cls._open_read(p)
        if not p.exists():
            if not create:
                raise StoreError(f"STORE: no store at {str(p)!r}")
            if not p.parent.is_dir():
                raise StoreError(f"STORE: cannot create {str(p)!r}: directory {str(p.parent)!r} does not exist")
            if not os.access(p.parent, os.W_OK):
                raise StoreError(f"STORE: cannot create {str(p)!r}: directory {str(p.parent)!r} is not writable")
        elif not os.access(p, os.W_OK) or not os.access(p.parent, os.W_OK):
            raise StoreError(f"STORE: {str(p)!r} is not writable (a run writes the store and its -wal beside it)")
        lock = _RunLock(p)
        conn = None
        try:
            if not p.exists():
                _create(p, plan, plan_hash)
            conn = _connect(p, mode="rw")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            _check(conn, p)
            self = cls(p, conn, lock=lock)
            meta = self.meta()
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            lock.release()
            raise StoreError(f"STORE: {str(p)!r}: {_cause(exc)}") from None
        except BaseException:
            if conn is not None:
                conn.close()
            lock.release()
            raise
        if plan_hash is not None and meta.get("plan_hash") != plan_hash:
            self.close()
            old = self._plan_of(meta).get("suite", "?")
            raise StoreError(
                f"STORE: {str(p)!r} holds a different plan (hash {meta.get('plan_hash', '')[:12]}, "
                f"suite {old!r}) than this one (hash {plan_hash[:12]}); use another store"
            )
        return self

    @classmethod
    def _open_read(cls, p: Path) -> Store:
        if not p.exists():
            raise StoreError(f"STORE: no store at {str(p)!r}")
        if not os.access(p, os.R_OK):
            raise StoreError(f"STORE: {str(p)!r} is not readable")
        conn = _connect(p, mode="ro")
        try:
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError as exc:
                # a WAL store on a directory nobody may write: no -shm can be made there
                if not str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_CANTOPEN") or os.access(
                    p.parent, os.W_OK
                ):
                    raise
                conn.close()
                wal = Path(f"{p}-wal")
                if wal.exists() and wal.stat().st_size > 0:
                    raise StoreError(
                        f"STORE: {str(p)!r} cannot be read here: its write-ahead log {str(wal)!r} holds data "
                        "that needs a writable directory; copy the store with its -wal file to one"
                    ) from None
                conn = _connect(p, mode="ro", immutable=1)
            _check(conn, p)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"STORE: {str(p)!r}: {_cause(exc)}") from None
        except BaseException:
            conn.close()
            raise
        return cls(p, conn)

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    class _Tx:
        def __init__(self, conn):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, et, ev, tb):
            if et is None:
                try:
                    self.conn.execute("COMMIT")
                    return
                except sqlite3.Error:
                    self._rollback()
                    raise
            self._rollback()

        def _rollback(self):
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:  # no transaction left (SQLite rolled back itself): the first error stands
                pass

    def tx(self):
        """A write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""
        return Store._Tx(self.conn)

    @_guarded
    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta"))

    def plan(self) -> dict[str, Any]:
        return self._plan_of(self.meta())

    def _plan_of(self, meta: Mapping[str, str]) -> dict[str, Any]:
        try:
            plan = json.loads(meta.get("plan", "{}"))
        except (TypeError, ValueError):
            plan = None
        if not isinstance(plan, dict):
            raise StoreError(f"STORE: {self.path!r}: the store is corrupted (its plan is not a JSON object)")
        return plan

    # -- planning and recording ---------------------------------------------
    @_guarded
    def add_planned(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert planned trials in one transaction; rows whose key exists are left as they
        are (idempotent). Returns how many were new."""
        rows = list(rows)
        now = _now()
        with self.tx() as c:
            before = c.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
            c.executemany(
                "INSERT OR IGNORE INTO trials (key, phase, protocol, problem, optimizer, point, seed, steps, "
                "hyper, planned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r["key"],
                        r["phase"],
                        r["protocol"],
                        r["problem"],
                        r["optimizer"],
                        r.get("point"),
                        int(r["seed"]),
                        int(r["steps"]),
                        json.dumps(r["hyper"], sort_keys=True),
                        now,
                    )
                    for r in rows
                ],
            )
            after = c.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        return after - before

    @_guarded
    def pending(self, phase: str | None = None) -> list[TrialSpec]:
        q = "SELECT key, problem, optimizer, hyper, seed, steps FROM trials WHERE status = 'planned'"
        args: tuple = ()
        if phase is not None:
            q += " AND phase = ?"
            args = (phase,)
        return [
            TrialSpec(k, p, o, self._json(h, k, "hyper"), s, n)
            for k, p, o, h, s, n in self.conn.execute(q + " ORDER BY id", args)
        ]

    @_guarded
    def record(self, out: Outcome, *, versions: Mapping[str, Any], hardware: Mapping[str, Any], backend: str) -> bool:
        """Complete a planned trial (one statement). False when it was not planned (already
        recorded, or not in this plan): nothing is changed then."""
        cur = self.conn.execute(
            "UPDATE trials SET status = ?, error = ?, curves = ?, metrics = ?, wall_time = ?, versions = ?, "
            "hardware = ?, backend = ?, finished_at = ? WHERE key = ? AND status = 'planned'",
            (
                out.status,
                out.error,
                json.dumps(out.curves),
                json.dumps(_jsonable(out.metrics)),
                float(out.wall_time),
                json.dumps(versions),
                json.dumps(hardware),
                backend,
                _now(),
                out.key,
            ),
        )
        return cur.rowcount == 1

    # -- reading ------------------------------------------------------------
    @_guarded
    def rows(self, where: str = "", args: tuple = ()) -> list[dict[str, Any]]:
        q = f"SELECT {', '.join(COLUMNS)} FROM trials" + (f" WHERE {where}" if where else "") + " ORDER BY id"
        out = []
        for r in self.conn.execute(q, args):
            d = dict(zip(COLUMNS, r))
            for f in JSON_COLUMNS:
                if d[f] is not None:
                    d[f] = self._json(d[f], d["key"], f)
            out.append(d)
        return out

    def _json(self, text: Any, key: Any, column: str) -> Any:
        """A JSON cell, decoded; StoreError when it is not JSON (a damaged page that the
        integrity check cannot see: the content of an overflow page)."""
        try:
            return json.loads(text)
        except (TypeError, ValueError):
            raise StoreError(
                f"STORE: {self.path!r}: the store is corrupted (trial {_one_line(repr(key), 80)}: "
                f"column {column!r} is not JSON)"
            ) from None

    @_guarded
    def counts(self) -> dict[tuple[str, str, str], int]:
        return {
            (ph, pr, st): n
            for ph, pr, st, n in self.conn.execute(
                "SELECT phase, protocol, status, COUNT(*) FROM trials GROUP BY phase, protocol, status"
            )
        }


def _jsonable(m: Mapping[str, Any]) -> dict[str, Any]:
    """inf stays inf in JSON (Python's json writes Infinity and reads it back)."""
    return dict(m)
