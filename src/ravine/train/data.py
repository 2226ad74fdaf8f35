"""Small real data sets for ``ravine train``, made offline, split reproducibly.

======== ================================================= ========== =========
name     source                                            samples    features
======== ================================================= ========== =========
digits   ``sklearn.datasets.load_digits`` (ships with       1797       64 (8×8)
         scikit-learn, nothing is downloaded)
mnist1d  ``mnist1d.data.make_dataset`` (generated locally;  5000       40
         the package's ``get_dataset`` downloads and is     (4000 +
         never called), cached as ``.npz``                  1000 test)
======== ================================================= ========== =========

:func:`load` returns a :class:`Dataset`: stratified train / validation / test splits fixed by
``data_seed``, features standardized with the training split's mean and standard deviation,
as float64 NumPy arrays (the trainer casts them). The split:

* ``test_fraction=None`` takes the problem's default test set: for ``digits`` a stratified
  20 %; for ``mnist1d`` the package's own test split (the last 20 % of ``make_dataset``'s
  samples, 1000 of 5000: results are comparable with the MNIST-1D paper's).
* a number takes a stratified ``round(test_fraction · N)`` samples of the pooled data set
  as the test set (for ``mnist1d`` the package's train and test parts are pooled first).
* the validation set is a stratified ``round(val_fraction · N)`` samples of what is left;
  ``val_fraction=0`` gives no validation set.

Nothing here touches global random state: ``mnist1d`` reseeds NumPy's and Python's global
generators inside ``make_dataset``, so both are saved and restored around the call.

The cache lives in ``data_dir``, else ``$RAVINE_DATA_DIR`` (folders the user chose, used as they
are), else the private ``data`` folder of the user's cache (``ravine._cache``:
``$RAVINE_CACHE_DIR/data``, else ``~/.cache/ravine/data`` or the platform's equivalent; created
0700, refused when another user could write it). Files are written atomically, so parallel runs
can share it, and read with NumPy's ``np.load`` (no pickles).
"""

from __future__ import annotations

import os
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _checks

__all__ = ["PROBLEMS", "Dataset", "load", "cache_dir", "mnist1d_arrays", "digits_arrays"]

#: problem name → one-line description
PROBLEMS = {
    "digits": "sklearn's 8×8 handwritten digits (1797 samples, 64 features, 10 classes)",
    "mnist1d": "MNIST-1D, generated offline by the mnist1d package (5000 samples, 40 features, 10 classes)",
}

#: problem → (features, classes), known before anything is loaded (the memory estimate)
SHAPES = {"digits": (64, 10), "mnist1d": (40, 10)}

#: default parameters of ``mnist1d.data.make_dataset`` (the package's ``get_dataset_args``)
MNIST1D_SAMPLES = 5000
MNIST1D_SEED = 42

#: samples: digits has 1797 (a larger ``samples`` is capped to them, with a note from
#: ``ravine.train.train``); MNIST-1D is generated sample by sample (its cost: docs/train.md),
#: so at most 100 000 (minutes of generation, 32 MB)
DIGITS_SAMPLES = 1797
MNIST1D_MAX_SAMPLES = 100_000


def check_samples(problem: str, samples: Any) -> int | None:
    """``samples`` for ``problem``: None (the whole data set) or an integer in [50, 100000]
    for mnist1d (it is generated), >= 50 for digits; a one-line ValueError otherwise."""
    if samples is None:
        return None
    hi = MNIST1D_MAX_SAMPLES if problem == "mnist1d" else None
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 50 or (hi and samples > hi):
        rng = f"in [50, {hi}] (mnist1d's samples are generated)" if hi else ">= 50"
        raise ValueError(f"samples must be an integer {rng}, or None for the whole data set; got {samples!r}")
    return int(samples)


@dataclass(frozen=True)
class Dataset:
    """Standardized, split arrays of one problem (float64 features, int64 labels)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


# --------------------------------------------------------------------------- cache


def cache_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Where generated data sets are cached (see the module docstring)."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("RAVINE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from .._cache import folder

    return folder("data")


def _save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------- raw arrays


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's digits: x of shape (1797, 64) in [0, 16], labels 0..9."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.asarray(d.data, dtype=np.float64), np.asarray(d.target, dtype=np.int64)


def mnist1d_arrays(
    num_samples: int = MNIST1D_SAMPLES, seed: int = MNIST1D_SEED, data_dir: str | os.PathLike | None = None
) -> dict[str, np.ndarray]:
    """MNIST-1D from ``mnist1d.data.make_dataset`` with the package's default arguments
    (``num_samples`` and ``seed`` aside), cached as ``mnist1d_n{num_samples}_s{seed}.npz``.

    Returns ``{"x", "y", "x_test", "y_test"}`` (the package's 80/20 split).
    """
    path = cache_dir(data_dir) / f"mnist1d_n{num_samples}_s{seed}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in ("x", "y", "x_test", "y_test")}
        except Exception:  # a damaged cache file is rebuilt
            pass
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("problem 'mnist1d' needs the mnist1d package (pip install mnist1d)", name="mnist1d") from exc
    args = get_dataset_args()
    args.num_samples = int(num_samples)
    args.seed = int(seed)
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(args)  # offline: generates from templates; never get_dataset()
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    out = {
        "x": np.asarray(d["x"], dtype=np.float64),
        "y": np.asarray(d["y"], dtype=np.int64),
        "x_test": np.asarray(d["x_test"], dtype=np.float64),
        "y_test": np.asarray(d["y_test"], dtype=np.int64),
    }
    _save_npz_atomic(path, **out)
    return out


# --------------------------------------------------------------------------- splitting


def _check_fraction(name: str, value: Any, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    return _checks.real("data", name, value, lo=0, hi=1, hi_open=True)


def _stratified_take(y: np.ndarray, n_take: int, seed: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, taken) with ``n_take`` stratified samples taken."""
    idx = np.arange(len(y))
    if n_take == 0:
        return idx, idx[:0]
    from sklearn.model_selection import train_test_split

    try:
        rest, taken = train_test_split(idx, test_size=n_take, stratify=y, random_state=seed)
    except ValueError as exc:
        raise ValueError(
            f"{what}: cannot take a stratified {n_take} of {len(y)} samples ({str(exc).splitlines()[0]})"
        ) from None
    return np.sort(rest), np.sort(taken)


def load(
    problem: str,
    *,
    val_fraction: float = 0.1,
    test_fraction: float | None = None,
    data_seed: int = 0,
    samples: int | None = None,
    data_dir: str | os.PathLike | None = None,
) -> Dataset:
    """The split, standardized data set ``problem`` (see the module docstring).

    ``samples`` shrinks the data set: for ``digits`` a stratified subset of that size (fixed by
    ``data_seed``); for ``mnist1d`` the number of samples ``make_dataset`` generates.
    """
    if not isinstance(problem, str) or problem.strip().lower() not in PROBLEMS:
        raise _checks.UnknownChoice(f"problem must be one of {', '.join(PROBLEMS)}; got {problem!r}", problem, PROBLEMS)
    problem = problem.strip().lower()
    val_fraction = _check_fraction("val_fraction", val_fraction)
    test_fraction = _check_fraction("test_fraction", test_fraction, allow_none=True)
    if val_fraction + (0.2 if test_fraction is None else test_fraction) >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1, got {val_fraction:g} + "
            f"{0.2 if test_fraction is None else test_fraction:g}"
        )
    _checks.integer("data", "data_seed", data_seed, minimum=0)
    samples = check_samples(problem, samples)

    info: dict[str, Any] = {"problem": problem}
    if problem == "digits":
        x, y = digits_arrays()
        info["source"] = "sklearn.datasets.load_digits"
        if samples is not None and samples < len(y):
            _, keep = _stratified_take(y, int(samples), data_seed, "samples")
            x, y = x[keep], y[keep]
        fixed_test = None
        if test_fraction is None:
            test_fraction = 0.2
    else:
        n = MNIST1D_SAMPLES if samples is None else int(samples)
        raw = mnist1d_arrays(n, MNIST1D_SEED, data_dir)
        info["source"] = f"mnist1d.data.make_dataset(num_samples={n}, seed={MNIST1D_SEED})"
        if test_fraction is None:
            x, y = raw["x"], raw["y"]
            fixed_test = (raw["x_test"], raw["y_test"])
            info["test_split"] = "the mnist1d package's test split"
        else:
            x = np.concatenate([raw["x"], raw["x_test"]])
            y = np.concatenate([raw["y"], raw["y_test"]])
            fixed_test = None

    n_total = len(y) + (0 if fixed_test is None else len(fixed_test[1]))
    if fixed_test is None:
        n_test = int(round(test_fraction * n_total))
        rest, test = _stratified_take(y, n_test, data_seed, "test_fraction")
        x_test, y_test = x[test], y[test]
        x, y = x[rest], y[rest]
    else:
        x_test, y_test = fixed_test
    n_val = int(round(val_fraction * n_total))
    if n_val >= len(y):
        raise ValueError(f"val_fraction {val_fraction:g} leaves no training samples")
    # a different stream from the test split's, so that val/test draws are not aligned
    train, val = _stratified_take(y, n_val, data_seed + 1_000_003, "val_fraction")
    x_train, y_train, x_val, y_val = x[train], y[train], x[val], y[val]

    # images: each pixel its own feature; signals: one scale for all positions (a per-position
    # scale would break the translation structure a CNN relies on)
    axis = 0 if problem == "digits" else None
    mean = x_train.mean(axis=axis)
    std = x_train.std(axis=axis)
    std = np.where(std > 1e-8, std, 1.0)

    def z(a: np.ndarray) -> np.ndarray:
        return ((a - mean) / std).astype(np.float64)

    info.update(
        n_total=n_total,
        val_fraction=val_fraction,
        test_fraction=(len(y_test) / n_total),
        data_seed=int(data_seed),
        standardize=("per feature" if axis == 0 else "global") + ", train mean/std",
    )
    return Dataset(problem, z(x_train), y_train, z(x_val), y_val, z(x_test), np.asarray(y_test), 10, info)
