"""Export a store to CSV or Parquet (pyarrow): one row per trial, the hyperparameters,
metrics and curves as JSON text columns beside flat metric columns."""

from __future__ import annotations

import csv
import json
import os
from typing import Any

from .store import COLUMNS, JSON_COLUMNS, Store

__all__ = ["export", "flat_rows"]

_FLAT = (
    "final_val",
    "final_test",
    "final_val_loss",
    "final_test_loss",
    "final_val_err",
    "final_test_err",
    "best_val",
    "steps_to_target",
    "time_to_target",
    "step_time",
    "steps_done",
)


#: the store's columns that are written as they are (the JSON ones follow, as JSON text)
_PLAIN = tuple(c for c in COLUMNS if c not in JSON_COLUMNS)


def flat_rows(store: Store) -> list[dict[str, Any]]:
    out = []
    for r in store.rows():
        m = r["metrics"] or {}
        row = {k: r[k] for k in _PLAIN}
        for k in _FLAT:
            v = m.get(k)
            row[k] = float(v) if isinstance(v, (int, float)) else None
        for k in JSON_COLUMNS:
            row[k] = json.dumps(r[k]) if r[k] is not None else None
        out.append(row)
    return out


def export(store: Store, path: str) -> int:
    """Write ``path`` (.csv or .parquet); returns the number of rows."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".csv", ".parquet"):
        raise ValueError(f"--out: {path!r} must end in .csv or .parquet")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise ValueError(f"--out: cannot write {path!r} (directory {parent!r} missing or not writable)")
    rows = flat_rows(store)
    if ext == ".csv":
        cols = list(rows[0]) if rows else ["key"]
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = list(rows[0]) if rows else ["key"]
        table = pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in cols})
        pq.write_table(table, path)
    return len(rows)
