"""`patrol train` refuses bad input before any training starts, naming what is wrong."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from patrol.cli import app


def train(*args: str):
    res = CliRunner().invoke(app, ["train", *args])
    return res.exit_code, " ".join(res.output.split())


def test_not_a_build(tmp_path: Path) -> None:
    code, out = train("--data", str(tmp_path))
    assert code == 2 and "manifest.yaml not found" in out and "patrol dataset build" in out


def test_bad_options(tmp_path: Path) -> None:
    code, out = train("--data", str(tmp_path), "--imgsz", "100")
    assert code == 2 and "--imgsz: 100 is not a multiple of 32" in out
    code, out = train("--data", str(tmp_path), "--from", "no-such-model")
    assert code == 2 and "model 'no-such-model': not in" in out


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="this venv has torch")
def test_without_torch_says_which_venv(tmp_path: Path) -> None:
    from detector.synth.dataset import write_dataset

    synth = tmp_path / "synth"
    write_dataset(synth, seed=1, train_tiles=10, val_tiles=5)
    build = tmp_path / "build"
    res = CliRunner().invoke(app, ["dataset", "build", "--out", str(build), "--synthetic", str(synth),
                                   "--heldout-percent", "40"])
    assert res.exit_code == 0, res.output
    code, out = train("--data", str(build), "--epochs", "1")
    assert code == 2 and "training needs torch and Ultralytics" in out and ".venv-train" in out
