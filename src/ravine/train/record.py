"""The record of one training run: :class:`Result` (alias :class:`History`), plain data that
round-trips through JSON (``to_dict`` / ``from_dict`` / ``load``), writes one CSV row per
epoch (``csv_rows`` / ``to_csv``) and saves both as ``<run_id>.json`` and ``<run_id>.csv``
(``save``). :func:`versions` lists the software versions recorded with every run, and
``_jsonable`` turns hyperparameter values (torch tensors and dtypes included) into JSON
(:func:`ravine._json.jsonable` for everything that is not torch's).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._json import jsonable
from .._version import versions as _versions

__all__ = ["SCHEMA", "Result", "History", "versions"]

SCHEMA = "ravine.train/1"


def _jsonable(v: Any) -> Any:
    """A JSON-friendly copy of a hyperparameter value (tuples → lists, one-element tensors →
    numbers, dtypes → their name, NaN/inf → None, anything else JSON cannot hold → its repr)."""
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return _jsonable(v.item())
    if isinstance(v, torch.dtype):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return jsonable(v)


def versions() -> dict[str, str | None]:
    """Software versions recorded with every run (``ravine._version.versions``), with the
    platform and torch's thread count."""
    return {
        **_versions("torch", "numpy", "scikit-learn", "mnist1d"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "torch_threads": str(torch.get_num_threads()),
    }


_EPOCH_FIELDS = ("epoch", "steps", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "time", "elapsed")


@dataclass
class Result:
    """The record of one run (plain data; ``to_dict``/``from_dict`` round-trip through JSON)."""

    config: dict[str, Any]
    config_hash: str
    optimizer: dict[str, Any]
    schedule: dict[str, Any] | None
    data: dict[str, Any]
    model: dict[str, Any]
    epochs: list[dict[str, Any]]
    test_loss: float | None
    test_acc: float | None
    diverged: bool
    wall_time: float
    versions: dict[str, Any]
    started: str = ""
    schema: str = SCHEMA
    module: Any = field(default=None, repr=False, compare=False)  # the trained nn.Module, if kept

    @property
    def run_id(self) -> str:
        """The first 16 hex digits of the config hash (the record's file name)."""
        return self.config_hash[:16]

    def metric(self, name: str) -> list[Any]:
        """One per-epoch metric as a list, e.g. ``res.metric("val_acc")``."""
        if name not in _EPOCH_FIELDS:
            raise ValueError(f"metric must be one of {', '.join(_EPOCH_FIELDS)}; got {name!r}")
        return [e.get(name) for e in self.epochs]

    @property
    def final(self) -> dict[str, Any]:
        last = self.epochs[-1] if self.epochs else {}
        vals = [e["val_acc"] for e in self.epochs if e.get("val_acc") is not None]
        return {
            "epochs_run": len(self.epochs),
            "steps": last.get("steps", 0),
            "train_loss": last.get("train_loss"),
            "val_loss": last.get("val_loss"),
            "val_acc": last.get("val_acc"),
            "best_val_acc": max(vals) if vals else None,
            "best_epoch": (1 + vals.index(max(vals))) if vals else None,
            "test_loss": self.test_loss,
            "test_acc": self.test_acc,
            "diverged": self.diverged,
            "wall_time": self.wall_time,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "config_hash": self.config_hash,
            "run_id": self.run_id,
            "started": self.started,
            "config": self.config,
            "optimizer": self.optimizer,
            "schedule": self.schedule,
            "data": self.data,
            "model": self.model,
            "epochs": self.epochs,
            "final": self.final,
            "test_loss": self.test_loss,
            "test_acc": self.test_acc,
            "diverged": self.diverged,
            "wall_time": self.wall_time,
            "versions": self.versions,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        names = {f.name for f in dataclasses.fields(cls)} - {"module"}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Result:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=_jsonable)

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row per epoch: run keys, every config field (``cfg.*``), every resolved
        optimizer hyperparameter (``opt.*``), the epoch's metrics, the test metrics (on the
        last row) and the software versions (``ver.*``)."""
        head: dict[str, Any] = {
            "config_hash": self.config_hash,
            "run_id": self.run_id,
            "optimizer_class": self.optimizer.get("class"),
        }
        for k, v in self.config.items():
            head[f"cfg.{k}"] = json.dumps(v) if isinstance(v, (dict, list)) else v
        for k, v in self.optimizer.get("hyperparameters", {}).items():
            head[f"opt.{k}"] = json.dumps(v) if isinstance(v, (dict, list)) else v
        head["schedule"] = None if self.schedule is None else self.schedule.get("repr")
        tail = {f"ver.{k}": v for k, v in self.versions.items()}
        rows = []
        for i, e in enumerate(self.epochs):
            last = i == len(self.epochs) - 1
            row = dict(head)
            row.update({k: e.get(k) for k in _EPOCH_FIELDS})
            row["test_loss"] = self.test_loss if last else None
            row["test_acc"] = self.test_acc if last else None
            row["diverged"] = self.diverged
            row.update(tail)
            rows.append(row)
        return rows

    def to_csv(self) -> str:
        rows = self.csv_rows()
        buf = io.StringIO()
        if rows:
            w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        return buf.getvalue()

    def save(self, out_dir: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``<run_id>.json`` and ``<run_id>.csv`` into ``out_dir``; return both paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        pj, pc = out / f"{self.run_id}.json", out / f"{self.run_id}.csv"
        pj.write_text(self.to_json() + "\n")
        pc.write_text(self.to_csv())
        return pj, pc


History = Result
