"""The real-photo evaluation scores what the whole Detector reports, at the set's ground resolution.

A rendered photo with its planted truth, imported as a dev set, must score as the detector does on
it; boxes of a class the photo lacks count as false alarms per km²; `patrol eval --real` runs two
models side by side and writes JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from detector import CameraModel, CameraPose
from detector.card import load_card
from detector.datasets import Box, LabelledImage, Source, write_yolo
from detector.detect import DEFAULT_MODEL, Detector, DetectorSettings
from detector.real_eval import evaluate, match
from detector.synth import World, render_capture, visible_violations
from patrol.cli import app

ROOT = Path(__file__).resolve().parents[2]
TAXONOMY = [t["code"] for t in yaml.safe_load((ROOT / "configs" / "taxonomy.yaml").read_text(encoding="utf-8"))["types"]]
CAM = CameraModel(17.3, 13.0, 12.29, 2640, 1978)  # M4E wide at half resolution: 5.3 cm/px from 100 m


@pytest.fixture(scope="module")
def synth_dev(tmp_path_factory) -> Path:
    """Two nadir rendered photos of an unseen city, imported as a dev set with their planted truth."""
    tmp = tmp_path_factory.mktemp("synth_dev")
    world = World(seed=31, violation_rate=3.0)
    items = []
    for k, (x, y) in enumerate([(150.0, 150.0), (400.0, 260.0)]):
        lon, lat = world.to_lonlat(x, y)
        pose = CameraPose(float(lat), float(lon), 100.0, 160.0)
        cap = render_capture(world, pose, CAM, tmp / f"p{k}.jpg")
        truth = tuple(Box(v.planted.code, *v.box) for v in visible_violations(world, pose, CAM))
        items.append(LabelledImage(Path(cap.image), CAM.image_width_px, CAM.image_height_px, truth, "synth-31"))
    gsd = CAM.gsd_m(100.0)
    src = Source(name="synth-31", repo="(rendered)", commit="-", licence="AGPL-3.0", gsd_m=gsd, gsd_basis="render pose")
    write_yolo(items, tmp / "dev", TAXONOMY, src, "dev")
    return tmp / "dev"


def test_matching_is_one_to_one() -> None:
    truth = [Box("illegal_parking", 0, 0, 10, 10)]
    assert match([(0.9, (0, 0, 10, 10)), (0.8, (1, 1, 10, 10))], truth) == 1
    assert match([(0.9, (50, 50, 60, 60))], truth) == 0


def test_evaluation_agrees_with_the_detector_on_rendered_truth(synth_dev: Path) -> None:
    det = Detector(DEFAULT_MODEL, TAXONOMY, backend="onnxruntime", threads=2, settings=DetectorSettings(evidence=False))
    ev = evaluate(det, synth_dev)
    assert ev.images == 2 and ev.area_km2 == pytest.approx(2 * 2640 * 1978 * CAM.gsd_m(100.0) ** 2 / 1e6)
    truth = sum(c.truth for c in ev.classes.values())
    found = sum(c.matched for c in ev.classes.values())
    assert truth >= 8 and found / truth >= 0.6  # the shipped model sees its own world at the right scale
    for c in ev.classes.values():
        assert c.matched <= min(c.truth, c.boxes)
        if c.truth == 0:
            assert c.false_per_km2 == pytest.approx(c.boxes / ev.area_km2)


def test_eval_command_compares_two_models_and_writes_json(synth_dev: Path, tmp_path: Path) -> None:
    import shutil

    for suffix in (".yaml", ".onnx"):  # a registry of its own: eval records its figures in the card
        shutil.copyfile(DEFAULT_MODEL.with_suffix(suffix), tmp_path / DEFAULT_MODEL.with_suffix(suffix).name)
    card = tmp_path / DEFAULT_MODEL.name
    out = tmp_path / "eval.json"
    res = CliRunner().invoke(app, ["eval", str(card), "--real", str(synth_dev), "--baseline", str(card),
                                   "--models", str(tmp_path), "--backend", "onnxruntime", "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert len(doc["models"]) == 1  # the same card twice is run once
    assert set(doc["models"][0]["real"]["classes"]) == set(TAXONOMY)
    (key, rec), = [(k, v) for k, v in load_card(card).evaluations.items() if k.startswith("real:")]
    assert rec["images"] == 2 and set(rec["per_class"]) == set(TAXONOMY)


def test_eval_refuses_a_training_split(tmp_path: Path, synth_dev: Path) -> None:
    manifest = (synth_dev / "manifest.yaml").read_text()
    bad = tmp_path / "train_set"
    bad.mkdir()
    (bad / "manifest.yaml").write_text(manifest.replace("split: dev", "split: train"))
    res = CliRunner().invoke(app, ["eval", str(DEFAULT_MODEL), "--real", str(bad), "--backend", "onnxruntime"])
    assert res.exit_code == 2 and "split" in res.output


def test_sightings_of_classes_not_validated_on_real_photos_are_unverified(synth_dev: Path, tmp_path: Path) -> None:
    from detector.card import load_card, write_card
    from detector.datasets import read_set
    from detector.real_eval import capture_for

    card = load_card(DEFAULT_MODEL)
    (tmp_path / card.file).symlink_to(DEFAULT_MODEL.parent / card.file)
    seen = {"road_waterlogging": {"validated": True}, "exposed_garbage": {"validated": False}}
    write_card(card.model_copy(update={"real_validation": seen}), tmp_path / "card.yaml")
    manifest, items = read_set(synth_dev)
    captures = [capture_for(i, manifest.source(i.source).gsd_m) for i in items]
    marked = Detector(tmp_path / "card.yaml", TAXONOMY, backend="onnxruntime", settings=DetectorSettings(evidence=False))
    sightings = [s for c in captures for s in marked.detect(c)]
    assert {s.type for s in sightings} - {"road_waterlogging"}, "need other classes to check"
    assert all(s.unverified == (s.type != "road_waterlogging") for s in sightings)
    assert all(s.to_json()["unverified"] == s.unverified for s in sightings)
    demo = Detector(tmp_path / "card.yaml", TAXONOMY, backend="onnxruntime",
                    settings=DetectorSettings(evidence=False, mark_unverified=False))
    assert not any(s.unverified for c in captures for s in demo.detect(c))
