"""Importing real YOLO/COCO sets: classes mapped to taxonomy codes, provenance kept, bad labels
named by file and line; the committed real dev set is complete and licensed."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from detector.datasets import DatasetError, Source, parse_class_map, read_coco, read_set, read_yolo, write_yolo
from patrol.cli import app

ROOT = Path(__file__).resolve().parents[2]
TAXONOMY = [t["code"] for t in yaml.safe_load((ROOT / "configs" / "taxonomy.yaml").read_text(encoding="utf-8"))["types"]]
CARS = {"car": "illegal_parking", "truck": "illegal_parking", "cyclist": None}
SOURCE = Source(name="s1", repo="someone/aerial", commit="abc123", licence="CC-BY-4.0", gsd_m=0.05,
                gsd_basis="flight altitude 60 m")


def _yolo_set(root: Path, labels: dict[str, str], size=(200, 100)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for stem, text in labels.items():
        cv2.imwrite(str(root / f"{stem}.jpg"), np.full((size[1], size[0], 3), 90, np.uint8))
        (root / f"{stem}.txt").write_text(text)
    (root / "obj.names").write_text("car\ntruck\ncyclist\n")
    return root


def _import(src: Path, out: Path, *extra: str):
    return CliRunner().invoke(app, [
        "dataset", "import", "yolo", str(src), "--names", str(src / "obj.names"), "--out", str(out), "--split", "dev",
        "--map", "car=illegal_parking", "--map", "truck=illegal_parking", "--map", "cyclist=-",
        "--source", "cars-a", "--repo", "someone/aerial", "--commit", "abc123", "--licence", "CC-BY-4.0",
        "--gsd", "0.05", "--gsd-basis", "altitude", *extra,
    ])


def test_yolo_import_maps_classes_drops_unmapped_and_keeps_provenance(tmp_path: Path) -> None:
    src = _yolo_set(tmp_path / "src", {"a": "0 0.5 0.5 0.1 0.2\n2 0.2 0.2 0.05 0.05\n", "b": "1 0.25 0.5 0.5 0.5\n", "c": ""})
    (tmp_path / "src" / "unlabelled.jpg").write_bytes((tmp_path / "src" / "a.jpg").read_bytes())
    res = _import(src, tmp_path / "dev")
    assert res.exit_code == 0, res.output
    manifest, items = read_set(tmp_path / "dev")
    assert manifest.split == "dev" and manifest.classes == TAXONOMY
    assert [(s.name, s.repo, s.commit, s.licence) for s in manifest.sources] == [("cars-a", "someone/aerial", "abc123", "CC-BY-4.0")]
    by_name = {i.path.name: i for i in items}
    assert sorted(by_name) == ["a.jpg", "b.jpg", "c.jpg"]  # the image with no label file is not taken
    a = by_name["a.jpg"].boxes
    assert [b.code for b in a] == ["illegal_parking"]  # the cyclist is dropped
    assert a[0].x0 == pytest.approx(90.0) and a[0].y1 == pytest.approx(60.0)
    assert by_name["c.jpg"].boxes == () and by_name["b.jpg"].source == "cars-a"


def test_second_import_of_a_source_is_refused(tmp_path: Path) -> None:
    src = _yolo_set(tmp_path / "src", {"a": "0 0.5 0.5 0.1 0.2\n"})
    assert _import(src, tmp_path / "dev").exit_code == 0
    again = _import(src, tmp_path / "dev")
    assert again.exit_code == 2 and "already imported" in again.output


@pytest.mark.parametrize(("text", "message"), [
    ("0 0.5 0.5 0.1\n", "a.txt:1: expected 'class cx cy w h'"),
    ("0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n", "a.txt:2: class index 7 outside 0..2"),
    ("0 0.5 0.5 1.5 0.1\n", "a.txt:1: box"),
    ("0 x 0.5 0.1 0.1\n", "a.txt:1: not numbers"),
])
def test_bad_yolo_labels_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    src = _yolo_set(tmp_path / "src", {"a": text})
    with pytest.raises(DatasetError, match=message.replace("(", r"\(")):
        read_yolo(src, ["car", "truck", "cyclist"], CARS, "s1")


def test_class_map_refuses_unknown_codes_and_sources_refuse_unmapped_names(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="'parking_lot' is not a taxonomy code"):
        parse_class_map(["car=parking_lot"], TAXONOMY)
    with pytest.raises(DatasetError, match="expected SOURCE_NAME=TAXONOMY_CODE"):
        parse_class_map(["car"], TAXONOMY)
    src = _yolo_set(tmp_path / "src", {"a": "1 0.5 0.5 0.1 0.1\n"})
    with pytest.raises(DatasetError, match="a.txt:1: source class 'truck' has no entry"):
        read_yolo(src, ["car", "truck", "cyclist"], {"car": "illegal_parking"}, "s1")


def test_coco_import_and_its_errors(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "x.jpg"), np.zeros((50, 80, 3), np.uint8))
    doc = {"images": [{"id": 1, "file_name": "x.jpg", "width": 80, "height": 50}],
           "categories": [{"id": 3, "name": "rubbish"}],
           "annotations": [{"id": 10, "image_id": 1, "category_id": 3, "bbox": [10, 5, 20, 10]}]}
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(doc))
    items = read_coco(ann, tmp_path, {"rubbish": "exposed_garbage"}, "uav")
    assert [(b.code, b.x0, b.y0, b.x1, b.y1) for b in items[0].boxes] == [("exposed_garbage", 10, 5, 30, 15)]
    doc["annotations"].append({"id": 11, "image_id": 1, "category_id": 3, "bbox": [10, 5, 0, 10]})
    ann.write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match=r"annotations\[1\] \(id 11\): bbox must be"):
        read_coco(ann, tmp_path, {"rubbish": "exposed_garbage"}, "uav")
    ann.write_text("{not json")
    with pytest.raises(DatasetError, match="not a COCO detection file"):
        read_coco(ann, tmp_path, {"rubbish": "exposed_garbage"}, "uav")


def test_store_gsd_shrinks_photos_and_keeps_labels(tmp_path: Path) -> None:
    src = _yolo_set(tmp_path / "src", {"a": "0 0.5 0.5 0.1 0.2\n"}, size=(400, 200))
    items = read_yolo(src, ["car", "truck", "cyclist"], CARS, "s1")
    manifest = write_yolo(items, tmp_path / "dev", TAXONOMY, SOURCE, "dev", store_gsd_m=0.1)
    assert manifest.sources[0].gsd_m == 0.1 and (manifest.images[0].width, manifest.images[0].height) == (200, 100)
    _, back = read_set(tmp_path / "dev")
    assert back[0].width == 200 and back[0].boxes[0].x0 == pytest.approx(90.0)


def test_committed_real_dev_set_is_licensed_held_out_and_complete() -> None:
    manifest, items = read_set(ROOT / "data" / "real_dev")
    assert manifest.split == "dev"
    for s in manifest.sources:
        assert s.licence and len(s.commit) == 40 and s.repo and s.gsd_basis
    counts = {}
    for i in items:
        for b in i.boxes:
            counts[b.code] = counts.get(b.code, 0) + 1
    assert counts.get("illegal_parking", 0) >= 400
    assert sum(sum(e.objects.values()) for e in manifest.images) == sum(counts.values())
