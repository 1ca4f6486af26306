"""Model card refusal, tile grids, cross-tile merging, DJI XMP poses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from detector.card import CardError, load_card
from detector.detect import DEFAULT_MODEL
from detector.djixmp import pose_from_dji
from detector.synth import CLASSES
from detector.detections import Detections
from detector.tiling import merge_overlaps, tile_grid, tile_origins

ROOT = Path(__file__).resolve().parents[2]
TAXONOMY = [t["code"] for t in yaml.safe_load((ROOT / "configs" / "taxonomy.yaml").read_text(encoding="utf-8"))["types"]]


def test_shipped_card_agrees_with_the_taxonomy() -> None:
    card = load_card(DEFAULT_MODEL, TAXONOMY)
    assert card.classes == list(CLASSES)
    assert (DEFAULT_MODEL.parent / card.file).is_file()
    assert set(card.metrics["ap50_per_class"]) == set(card.classes)


def test_card_with_a_class_the_taxonomy_lacks_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_MODEL.read_text(encoding="utf-8"))
    raw["classes"] = [*raw["classes"][:-1], "graffiti"]
    raw["conf_thresholds"]["graffiti"] = raw["conf_thresholds"].pop(CLASSES[-1])
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(CardError, match="graffiti"):
        load_card(bad, TAXONOMY)
    assert load_card(bad).classes[-1] == "graffiti"  # without a taxonomy there is nothing to disagree with


def test_card_missing_thresholds_or_file_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_MODEL.read_text(encoding="utf-8"))
    del raw["conf_thresholds"][CLASSES[0]]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(CardError, match="conf_thresholds"):
        load_card(bad, TAXONOMY)
    with pytest.raises(CardError, match="not found"):
        load_card(tmp_path / "nope.yaml", TAXONOMY)


def test_tiles_cover_the_image_with_overlap() -> None:
    assert tile_origins(300, 640, 96) == [0]
    xs = tile_origins(1760, 640, 96)
    assert xs[0] == 0 and xs[-1] == 1760 - 640
    assert all(b - a <= 640 - 96 for a, b in zip(xs, xs[1:]))
    assert len(tile_grid(1760, 1320, 640, 96)) == len(xs) * len(tile_origins(1320, 640, 96))


def test_parts_of_one_object_cut_by_a_tile_border_merge_into_one_box() -> None:
    boxes = np.array([[500.0, 100, 640, 180], [544, 100, 700, 180], [900, 100, 950, 150], [550, 110, 600, 170]])
    scores = np.array([0.8, 0.9, 0.7, 0.6])
    classes = np.array([2, 2, 2, 5])
    merged = merge_overlaps(Detections(boxes, scores, classes))
    b, s, c = merged.boxes, merged.scores, merged.classes
    assert len(merged) == 3
    k = int(np.nonzero((c == 2) & (s == 0.9))[0][0])
    assert b[k].tolist() == [500, 100, 700, 180]
    assert sorted(c.tolist()) == [2, 2, 5]  # a small object of another class inside it stays separate


def test_one_object_named_twice_keeps_its_likelier_name() -> None:
    boxes = np.array([[100.0, 100, 160, 150], [102, 98, 162, 152], [300, 300, 340, 340]])
    merged = merge_overlaps(Detections(boxes, np.array([0.7, 0.9, 0.5]), np.array([1, 3, 1])))
    assert sorted(zip(merged.classes.tolist(), merged.scores.tolist())) == [(1, 0.5), (3, 0.9)]


def test_pose_from_dji_xmp(tmp_path: Path) -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description drone-dji:GpsLatitude="28.9417" '
        b'drone-dji:GpsLongitude="+118.8726" drone-dji:AbsoluteAltitude="+160.5" drone-dji:RelativeAltitude="+100.2" '
        b'drone-dji:GimbalYawDegree="-35.1" drone-dji:GimbalPitchDegree="-89.9" drone-dji:GimbalRollDegree="0.0"/></x:xmpmeta>'
    )
    photo = tmp_path / "DJI_0001.JPG"
    photo.write_bytes(b"\xff\xd8\xff\xe1" + xmp + b"\xff\xd9")
    pose = pose_from_dji(photo)
    assert pose is not None
    assert (pose.lat, pose.lon, pose.alt_agl_m, pose.alt_amsl_m) == (28.9417, 118.8726, 100.2, 160.5)
    assert (pose.yaw_deg, pose.pitch_deg, pose.roll_deg) == (-35.1, -89.9, 0.0)
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(b"\xff\xd8\xff\xd9")
    assert pose_from_dji(plain) is None
