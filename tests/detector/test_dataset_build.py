"""`patrol dataset build`: sources merged with their licences, a held-out split fixed by content
hash, every bad input named by file (and line), and mAP on the held-out split."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from detector.card import load_card
from detector.dataset_build import HELDOUT, is_heldout, load_build
from detector.datasets import Box, LabelledImage, Source, write_yolo
from detector.detect import DEFAULT_MODEL
from detector.synth.dataset import write_dataset
from patrol.cli import app

CLASSES = list(load_card(DEFAULT_MODEL).classes)
SOURCE = dict(repo="city/review", commit="t", licence="city-owned", gsd_m=0.08, gsd_basis="test")


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, seed=1, train_tiles=40, val_tiles=10)
    return root


def evidence_set(root: Path, n: int = 6, split: str = "train") -> Path:
    """A reviewed-evidence set like `patrol dataset fetch-reviewed` writes: half boxed, half hard negatives."""
    items = []
    for k in range(n):
        img = np.full((48, 64, 3), 40 + 30 * k, np.uint8)
        cv2.rectangle(img, (16, 12), (48, 36), (200, 200, 200 - 20 * k), -1)
        path = root.parent / f"{root.name}_src" / f"crop{k}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), img)
        boxes = (Box("exposed_garbage", 16, 12, 48, 36),) if k % 2 == 0 else ()
        items.append(LabelledImage(path, 64, 48, boxes, "review-queue"))
    write_yolo(items, root, CLASSES, Source(name="review-queue", **SOURCE), split)
    return root


def build(*args: str):
    return CliRunner().invoke(app, ["dataset", "build", *args])


def test_build_merges_sources_with_licences_and_a_stable_heldout_split(tmp_path: Path, synth: Path) -> None:
    reviewed = evidence_set(tmp_path / "reviewed")
    out = tmp_path / "b1"
    res = build("--out", str(out), "--reviewed", str(reviewed), "--synthetic", str(synth), "--heldout-percent", "25")
    assert res.exit_code == 0, res.output
    m = load_build(out)
    kinds = {s.kind: s for s in m.sources}
    assert kinds["reviewed"].images == 6 and kinds["reviewed"].hard_negatives == 3 and kinds["reviewed"].licence == "city-owned"
    assert kinds["synthetic"].images == 50
    held = sorted(p.name for p in (out / "images" / HELDOUT).iterdir())
    assert len(held) == m.counts[HELDOUT]["images"] and 0 < len(held) < 56
    assert all(is_heldout(g, 25.0) for g in m.heldout)
    data = yaml.safe_load((out / "dataset.yaml").read_text())
    assert data["val"] == "images/heldout" and data["names"] == dict(enumerate(CLASSES))
    # the same sources give the same split; with --previous a new source keeps the old held-out images held out
    more = evidence_set(tmp_path / "reviewed2", n=8)
    res = build("--out", str(tmp_path / "b2"), "--reviewed", str(reviewed), "--reviewed", str(more), "--synthetic", str(synth),
                "--previous", str(out))
    assert res.exit_code == 0, res.output
    again = load_build(tmp_path / "b2")
    assert set(m.heldout) <= set(again.heldout) and again.heldout_percent == 25.0
    assert set(held) <= {p.name for p in (tmp_path / "b2" / "images" / HELDOUT).iterdir()}


def test_bad_inputs_name_file_and_line(tmp_path: Path, synth: Path) -> None:
    reviewed = evidence_set(tmp_path / "r")
    label = next((reviewed / "labels").glob("*.txt"))
    label.write_text("0 0.5 0.5 0.2 0.2\n3 0.5 0.5 1.7 0.2\n")
    res = build("--out", str(tmp_path / "o1"), "--reviewed", str(reviewed))
    assert res.exit_code == 2 and f"{label.name}:2" in res.output.replace("\n", "") and "normalised" in res.output
    label.write_text("0 0.5 0.5 0.2 0.2\n")

    image = next((reviewed / "images").glob("*.jpg"))
    raw = image.read_bytes()
    image.write_bytes(b"\xff\xd8\xff garbage")
    res = build("--out", str(tmp_path / "o2"), "--reviewed", str(reviewed))
    assert res.exit_code == 2 and image.name in res.output.replace("\n", "") and "not a readable image" in res.output
    image.write_bytes(raw)

    m = yaml.safe_load((reviewed / "manifest.yaml").read_text())
    m["classes"] = ["ufo" if c == "burning_smoke" else c for c in m["classes"]]
    (reviewed / "manifest.yaml").write_text(yaml.safe_dump(m))
    res = build("--out", str(tmp_path / "o3"), "--reviewed", str(reviewed))
    assert res.exit_code == 2 and "['ufo'] are not taxonomy codes" in res.output.replace("\n", "")

    dev = evidence_set(tmp_path / "dev", split="dev")
    res = build("--out", str(tmp_path / "o4"), "--imported", str(dev))
    assert res.exit_code == 2 and "a dev set is never trained on" in res.output.replace("\n", "")
    res = build("--out", str(tmp_path / "o5"))
    assert res.exit_code == 2 and "no images from any source" in res.output
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o5").exists()  # nothing half-written


def test_heldout_map_of_the_shipped_model_on_its_own_world(tmp_path: Path, synth: Path) -> None:
    from detector.backends import open_backend
    from detector.heldout_eval import average_precision, evaluate_heldout

    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)
    assert average_precision(np.array([0.5, 0.5]), np.array([1.0, 0.5])) == pytest.approx(51 / 101)
    out = tmp_path / "b"
    assert build("--out", str(out), "--synthetic", str(synth), "--heldout-percent", "40").exit_code == 0
    card = load_card(DEFAULT_MODEL)
    ev = evaluate_heldout(open_backend(DEFAULT_MODEL.parent / card.file, "onnxruntime", 2), CLASSES, out)
    assert ev.key.startswith("heldout:") and ev.images == load_build(out).counts[HELDOUT]["images"]
    assert sum(a.instances for a in ev.per_class.values()) == load_build(out).counts[HELDOUT]["objects"]
    assert 0.5 <= ev.map50 <= 1.0 and ev.map50_95 < ev.map50  # it sees its training world; 50-95 is stricter
