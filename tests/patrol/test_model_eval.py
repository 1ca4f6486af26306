"""`patrol eval MODEL` on whole photos of a held-out synthetic city: threshold calibration and the
pipeline-level recall/precision (tiling, merging, second look, incidents), recorded in the card."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from detector.card import load_card
from detector.detect import DEFAULT_MODEL
from patrol.cli import app


def test_eval_calibrates_and_reports_pipeline_figures(tmp_path: Path) -> None:
    for suffix in (".yaml", ".onnx"):
        shutil.copyfile(DEFAULT_MODEL.with_suffix(suffix), tmp_path / DEFAULT_MODEL.with_suffix(suffix).name)
    card = tmp_path / DEFAULT_MODEL.name
    before = load_card(card)
    res = CliRunner().invoke(app, ["eval", str(card), "--city-m", "150", "--calibrate", "--models", str(tmp_path),
                                   "--backend", "onnxruntime"])
    assert res.exit_code == 0, res.output
    assert "阈值校准" in res.output and "流水线评估" in res.output
    after = load_card(card)
    assert after.calibration["city_seeds"] == [3] and "patrol eval --calibrate" in after.calibration["method"]
    assert set(after.conf_thresholds) == set(before.conf_thresholds)
    (key, pipe), = [(k, v) for k, v in after.evaluations.items() if k.startswith("pipeline:")]
    rows = pipe["per_class"]
    assert rows and sum(r["planted"] for r in rows.values()) > 0
    for r in rows.values():
        assert r["found"] <= r["planted"] and r["false"] <= r["alerts"]
        if r["planted"]:
            assert r["recall"] == round(r["found"] / r["planted"], 3)
    found = sum(r["found"] for r in rows.values()) / sum(r["planted"] for r in rows.values())
    assert found >= 0.5  # the shipped model finds most planted violations of its own world as alerts


def test_eval_needs_something_to_evaluate_on(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["eval", str(DEFAULT_MODEL)])
    assert res.exit_code == 2 and "nothing to evaluate on" in res.output
    res = CliRunner().invoke(app, ["eval", str(DEFAULT_MODEL), "--real", str(tmp_path / "none"), "--calibrate"])
    assert res.exit_code == 2 and "--calibrate" in res.output
