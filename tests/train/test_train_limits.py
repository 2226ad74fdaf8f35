"""Bounds of ``ravine train``: a model that cannot fit is refused before it is built, a value
the data set caps says so, an absurd schedule length is refused with its range."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from ravine.train import TrainConfig, validate
from ravine.train.config import MEMORY_CAP, CappedWarning, memory_limit
from ravine.train.models import PARAM_COPIES, count_params, estimate_bytes, make_model


def ravine(*args, preexec_fn=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "ravine.cli", *args],
        capture_output=True,
        text=True,
        preexec_fn=preexec_fn,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "model, f, width, depth", [("logreg", 64, 0, 1), ("mlp", 64, 128, 1), ("mlp", 40, 33, 3), ("cnn", 40, 16, 1)]
)
def test_count_params_is_what_make_model_builds(model, f, width, depth):
    built = sum(p.numel() for p in make_model(model, f, 10, width, depth).parameters())
    assert count_params(model, f, 10, width, depth) == built


def test_the_estimate_follows_its_formula():
    p = count_params("mlp", 64, 10, 65536, 2)
    assert p == 64 * 65536 + 65536 + 65536**2 + 65536 + 65536 * 10 + 10
    params, acts = estimate_bytes("mlp", 64, 10, 65536, 2, 32, 4)
    assert params == p * 4 * PARAM_COPIES and acts == 2 * 32 * (64 + 2 * 65536 * 2 + 10) * 4


def test_memory_limit_is_capped():
    limit, why = memory_limit()
    assert 0 < limit <= MEMORY_CAP and why


def _no_more_than_4gib():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


def test_a_model_that_cannot_fit_is_refused_before_it_is_built():
    # 4.3 G parameters: 80 GiB at float32 with gradients and optimizer state. Under a 4 GiB
    # address-space limit any attempt to allocate them would fail in the allocator instead
    r = ravine(
        "train", "--model", "mlp", "--width", "65536", "--depth", "2", "--no-save", preexec_fn=_no_more_than_4gib
    )
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith("ravine: error: model mlp (width 65536, depth 2) needs about 80.")
    assert "GiB limit" in lines[0] and lines[0].endswith("lower --width or --depth")
    with pytest.raises(ValueError, match="needs about"):  # the library refuses it too
        validate(TrainConfig(model="mlp", width=65536, depth=2))


def test_a_wide_shallow_mlp_fits():
    validate(TrainConfig(model="mlp", width=65536, depth=1))  # 4.9 M parameters: no refusal


def test_samples_beyond_the_data_set_are_capped_with_a_note(tmp_path):
    args = ["train", "--optimizer", "torch.sgd", "--model", "logreg", "--epochs", "1", "--no-save", "-q"]
    r = ravine(*args, "--samples", "100000000")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stderr.splitlines() == [
        "ravine: note: --samples 100000000 is more than the digits data set's 1797: all 1797 used"
    ]
    r = ravine(*args, "--batch-size", "5000")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stderr.splitlines() == [
        "ravine: note: --batch-size 5000 is more than the 1258 training samples: one batch of 1258 an epoch"
    ]
    from ravine.train import train

    with pytest.warns(CappedWarning, match="samples 5000 is more than the digits data set's 1797"):
        train(TrainConfig(model="logreg", optimizer="torch.sgd", lr=0.1, epochs=1, samples=5000))


def test_generated_samples_are_bounded():
    r = ravine("train", "--problem", "mnist1d", "--samples", "100000000", "--no-save")
    assert r.returncode == 2 and r.stderr.strip() == (
        "ravine: error: samples must be an integer in [50, 100000] (mnist1d's samples are generated), "
        "or None for the whole data set; got 100000000"
    )


@pytest.mark.parametrize(
    "spec, line",
    [
        (
            "warmup_cosine:warmup_steps=1e11",
            "warmup: warmup_steps must be an integer in [1, 1e+09], got 100000000000.0",
        ),
        (
            "warmup_cosine:warmup_steps=100000000000",
            "warmup: warmup_steps must be an integer in [1, 1e+09], got 100000000000",
        ),
        ("torch.step:step_size=100000000000", "schedule: step_size must be an integer in [0, 1e+09], got 100000000000"),
    ],
)
def test_absurd_schedule_lengths_are_refused_with_their_range(spec, line):
    r = ravine("train", "--schedule", spec, "--no-save")
    assert r.returncode == 2 and r.stderr.strip() == f"ravine: error: {line}", r.stderr[-2000:]
