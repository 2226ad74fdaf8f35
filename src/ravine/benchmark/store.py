"""The sweep store: one SQLite file (stdlib ``sqlite3``, WAL journal), schema versioned.

Every trial is a row written *before* it runs (status ``planned``: problem, optimizer, every
hyperparameter with the defaults written out, seed, protocol, phase) and completed by one
``UPDATE … WHERE status = 'planned'`` — a single statement, so a row is either planned or
complete, never half-written, and a trial is recorded at most once. A process killed at any
moment loses at most the trials that were running; a restart runs exactly the rows still
``planned``. The plan's hash is kept in ``meta``: a store refuses a different plan.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .trial import Outcome, TrialSpec

__all__ = ["Store", "SCHEMA_VERSION", "STATUSES"]

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


class Store:
    """A sweep store at ``path`` (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, conn: sqlite3.Connection):
        self.path = str(path)
        self.conn = conn

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
        """Open (or, with a plan, create) the store. One-line ValueError when it cannot be
        written, is not a ravine store, has another schema version or holds another plan."""
        p = Path(path)
        if not p.exists():
            if not create or plan is None:
                raise ValueError(f"STORE: no store at {str(p)!r}")
            if not p.parent.is_dir():
                raise ValueError(f"STORE: cannot create {str(p)!r}: directory {str(p.parent)!r} does not exist")
            if not os.access(p.parent, os.W_OK):
                raise ValueError(f"STORE: cannot create {str(p)!r}: directory {str(p.parent)!r} is not writable")
        elif p.is_dir():
            raise ValueError(f"STORE: {str(p)!r} is a directory, not a store file")
        elif plan is not None and not os.access(p, os.W_OK):
            raise ValueError(f"STORE: {str(p)!r} is not writable")
        try:
            conn = sqlite3.connect(str(p), timeout=30, isolation_level=None)
        except sqlite3.OperationalError as exc:
            raise ValueError(f"STORE: cannot open {str(p)!r} ({exc}); is the path writable?") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            existing = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.OperationalError as exc:
            conn.close()
            if p.exists() and p.stat().st_size > 0:
                raise ValueError(f"STORE: {str(p)!r} is not a ravine bench store ({exc})") from None
            raise ValueError(f"STORE: cannot write {str(p)!r} ({exc}); the path is not writable") from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ValueError(f"STORE: {str(p)!r} is not a ravine bench store ({exc})") from None
        self = cls(p, conn)
        if "meta" not in existing:
            if plan is None:
                conn.close()
                raise ValueError(f"STORE: {str(p)!r} is not a ravine bench store (no meta table)")
            with self.tx():
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
            return self
        meta = self.meta()
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            conn.close()
            raise ValueError(
                f"STORE: {str(p)!r} has schema version {meta.get('schema_version')!r}; "
                f"this ravine reads version {SCHEMA_VERSION}"
            )
        if plan_hash is not None and meta.get("plan_hash") != plan_hash:
            conn.close()
            old = json.loads(meta.get("plan", "{}")).get("suite", "?")
            raise ValueError(
                f"STORE: {str(p)!r} holds a different plan (hash {meta.get('plan_hash', '')[:12]}, "
                f"suite {old!r}) than this one (hash {plan_hash[:12]}); use another store"
            )
        return self

    def close(self) -> None:
        self.conn.close()

    class _Tx:
        def __init__(self, conn):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, et, ev, tb):
            self.conn.execute("COMMIT" if et is None else "ROLLBACK")

    def tx(self):
        """A write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""
        return Store._Tx(self.conn)

    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta"))

    def plan(self) -> dict[str, Any]:
        return json.loads(self.meta().get("plan", "{}"))

    # -- planning and recording ---------------------------------------------
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

    def pending(self, phase: str | None = None) -> list[TrialSpec]:
        q = "SELECT key, problem, optimizer, hyper, seed, steps FROM trials WHERE status = 'planned'"
        args: tuple = ()
        if phase is not None:
            q += " AND phase = ?"
            args = (phase,)
        return [
            TrialSpec(k, p, o, json.loads(h), s, n) for k, p, o, h, s, n in self.conn.execute(q + " ORDER BY id", args)
        ]

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
    def rows(self, where: str = "", args: tuple = ()) -> list[dict[str, Any]]:
        q = f"SELECT {', '.join(COLUMNS)} FROM trials" + (f" WHERE {where}" if where else "") + " ORDER BY id"
        out = []
        for r in self.conn.execute(q, args):
            d = dict(zip(COLUMNS, r))
            for f in ("hyper", "curves", "metrics", "versions", "hardware"):
                if d[f] is not None:
                    d[f] = json.loads(d[f])
            out.append(d)
        return out

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
