"""The ``landscape`` click group and the gallery hook."""

import json

import pytest
from click.testing import CliRunner

from ravine.cli.landscape import landscape


@pytest.mark.parametrize(
    "args, flag",
    [
        (["plane", "--grid", "1"], "--grid"),
        (["plane", "--span", "-1"], "--span"),
        (["spectrum", "--k", "0"], "--k"),
        (["spectrum", "--tol", "2"], "--tol"),
        (["interpolate", "--optimizers", "sgd"], "--optimizers"),
        (["interpolate", "--optimizers", "sgd:x,adam"], "--optimizers"),
        (["track", "--every", "0"], "--every"),
        (["track", "--lr", "-0.1"], "--lr"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(args, flag):
    r = CliRunner().invoke(landscape, args)
    assert r.exit_code == 2, r.output
    err = [ln for ln in r.output.splitlines() if ln.startswith("Error")]
    assert len(err) == 1 and flag in err[0], r.output


def test_bad_problem_is_a_usage_error():
    r = CliRunner().invoke(landscape, ["plane", "--problem", "cifar"])
    assert r.exit_code == 2 and "problem must be one of digits, mnist1d" in r.output


def test_spectrum_and_plane_write_files(tmp_path):
    r = CliRunner().invoke(
        landscape,
        [
            "spectrum",
            "--model",
            "logreg",
            "--epochs",
            "1",
            "--samples",
            "200",
            "--k",
            "2",
            "--probes",
            "3",
            "--steps",
            "10",
            "--out",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "spectrum.json").read_text())
    assert len(rec["eigenvalues"]) == 2 and rec["eigenvalues"][0] >= rec["eigenvalues"][1]
    assert (tmp_path / "spectrum.png").stat().st_size > 1000
    r = CliRunner().invoke(
        landscape,
        ["plane", "--model", "logreg", "--epochs", "1", "--samples", "200", "--grid", "3", "--out", str(tmp_path)],
    )
    assert r.exit_code == 0, r.output
    pl = json.loads((tmp_path / "plane.json").read_text())
    assert len(pl["loss"]["train"]) == 3 and len(pl["loss"]["test"][0]) == 3


def test_gallery_figures(tmp_path):
    from ravine.landscape import gallery_figures

    paths = gallery_figures(tmp_path, quick=True)
    assert [p.name for p in paths] == [
        "landscape_interpolation.png",
        "landscape_plane.png",
        "landscape_spectrum.png",
        "landscape_sharpness.png",
    ]
    assert all(p.stat().st_size > 5000 for p in paths)


def test_interpolate_with_a_torch_optimizer_writes_csv(tmp_path):
    r = CliRunner().invoke(
        landscape,
        [
            "interpolate",
            "--model",
            "logreg",
            "--samples",
            "200",
            "--epochs",
            "1",
            "--optimizers",
            "sgd:0.1,torch.adam:0.01",
            "--points",
            "5",
            "--out",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.output
    rows = (tmp_path / "interpolate.csv").read_text().splitlines()
    assert rows[0].startswith("from,to,alpha,train_loss,train_acc,test_loss,test_acc")
    assert len(rows) == 1 + 5 * 3  # one pair and two lines from θ₀, 5 points each


def test_train_track_sharpness_records_lambda_max_every_k_steps(tmp_path):
    """``ravine train --track-sharpness every=K``: λmax of the training loss every K updates,
    written beside the run's record (full batch: one update per epoch)."""
    import csv

    from ravine.cli.train import command as train_cmd

    r = CliRunner().invoke(
        train_cmd,
        [
            "--optimizer",
            "sgd",
            "--lr",
            "0.5",
            "--batch-size",
            "full",
            "--epochs",
            "12",
            "--samples",
            "300",
            "--track-sharpness",
            "every=4",
            "--out",
            str(tmp_path),
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    (path,) = tmp_path.glob("*.sharpness.csv")
    rows = list(csv.DictReader(path.open()))
    assert [int(float(x["step"])) for x in rows] == [1, 4, 8, 12]  # the first update, then every 4th
    assert all(float(x["lambda_max"]) > 0 for x in rows)
    bad = CliRunner().invoke(train_cmd, ["--track-sharpness", "every=0", "--epochs", "1"])
    assert bad.exit_code == 2 and "--track-sharpness" in bad.output
