"""The model registry: list, promote (refusing a worse or never-compared model), rollback, and a
running detector that follows it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from detector.card import load_card, write_card
from detector.detect import DEFAULT_MODEL, Detector
from detector.registry import Registry, RegistryError
from detector.synth import World, render_capture
from patrol.cli import app

HELD = "heldout:0123456789abcdef"
REAL = "real:fedcba9876543210"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """A registry holding the shipped model and a copy of it under another version (same weights)."""
    card = load_card(DEFAULT_MODEL)
    for suffix in (".yaml", ".onnx"):
        shutil.copyfile(DEFAULT_MODEL.with_suffix(suffix), tmp_path / DEFAULT_MODEL.with_suffix(suffix).name)
    shutil.copyfile(DEFAULT_MODEL.with_suffix(".onnx"), tmp_path / "cand.onnx")
    write_card(card.model_copy(update={"version": "cand-1", "name": "cand", "file": "cand.onnx", "parent": card.version}),
               tmp_path / "cand.yaml")
    return Registry(tmp_path)


def scores(reg: Registry, name: str, heldout: float | None = None, real: float | None = None) -> None:
    e = reg.find(name)
    ev = dict(e.card.evaluations)
    if heldout is not None:
        ev[HELD] = {"split": "heldout", "map50": heldout + 0.2, "map50_95": heldout, "images": 10}
    if real is not None:
        ev[REAL] = {"split": "real", "score": real, "per_class": {"illegal_parking": {"truth": 5, "recall": real, "precision": real}}}
    write_card(e.card.model_copy(update={"evaluations": ev}), e.path)


def test_promote_refuses_worse_or_uncompared_then_rollback(registry: Registry) -> None:
    shipped = registry.current().version
    with pytest.raises(RegistryError, match="no split on which both were evaluated"):
        registry.promote("cand-1")
    scores(registry, shipped, heldout=0.50, real=0.40)
    scores(registry, "cand-1", heldout=0.55, real=0.30)  # better held out, worse on real photos
    with pytest.raises(RegistryError, match=r"real:fedcba9876543210: 0.3000 < current 0.4000"):
        registry.promote("cand-1")
    assert registry.current().version == shipped
    scores(registry, "cand-1", real=0.45)
    assert registry.promote("cand-1", note="better on both").version == "cand-1"
    assert registry.current().version == "cand-1"
    with pytest.raises(RegistryError, match="already the current model"):
        registry.promote("cand")
    assert registry.rollback().version == shipped
    with pytest.raises(RegistryError, match="no promotion to undo"):
        registry.rollback()
    assert [(h["action"], h["to"]) for h in registry.history()] == [("promote", "cand.yaml"),
                                                                     ("rollback", DEFAULT_MODEL.name)]


def test_cli_list_promote_force_rollback(registry: Registry) -> None:
    runner = CliRunner()
    scores(registry, registry.current().version, heldout=0.6, real=0.5)
    scores(registry, "cand-1", heldout=0.4, real=0.5)
    listed = runner.invoke(app, ["models", "list", "--models", str(registry.root)])
    assert listed.exit_code == 0, listed.output
    flat = listed.output.replace("\n", "")
    assert "cand-1" in flat and "0.400" in flat and "0.600" in flat and "illegal_parking R" in flat
    refused = runner.invoke(app, ["models", "promote", "cand-1", "--models", str(registry.root)])
    assert refused.exit_code == 1 and "refused" in refused.output and "--force" in refused.output
    forced = runner.invoke(app, ["models", "promote", "cand-1", "--force", "--models", str(registry.root)])
    assert forced.exit_code == 0 and registry.current().version == "cand-1"
    assert registry.history()[-1]["forced"] is True
    assert runner.invoke(app, ["models", "rollback", "--models", str(registry.root)]).exit_code == 0
    assert registry.current().path.name == DEFAULT_MODEL.name
    unknown = runner.invoke(app, ["models", "promote", "nope", "--models", str(registry.root)])
    assert unknown.exit_code == 1 and "not in" in unknown.output


def test_a_detector_following_the_registry_switches_on_promotion(registry: Registry, tmp_path: Path) -> None:
    from detector.camera import CameraModel
    from detector.capture import CameraPose

    world = World(seed=7)
    lon, lat = world.to_lonlat(60.0, 60.0)
    pose = CameraPose(lat=float(lat), lon=float(lon), alt_agl_m=100.0, alt_amsl_m=170.0)
    cap = render_capture(world, pose, CameraModel(17.3, 13.0, 12.29, 5280, 3956), tmp_path / "p.jpg", scale=0.25)
    det = Detector(follow=registry, backend="onnxruntime")
    before = det.model_version
    assert det.reload_if_promoted() is False  # nothing changed: one stat, no reload
    registry.promote("cand-1", force=True)
    sightings = det.detect(cap)
    assert det.model_version == "cand-1" and all(s.model_version == "cand-1" for s in sightings)
    registry.rollback()
    det.detect_batch([cap])
    assert det.model_version == before
    assert np.allclose(det.thresholds, [det.card.conf_thresholds[c] for c in det.card.classes])


def test_broken_registry_file_is_named(registry: Registry) -> None:
    registry.state_path.write_text("current: [unclosed")
    with pytest.raises(RegistryError, match="registry.yaml: not valid YAML"):
        registry.current()
