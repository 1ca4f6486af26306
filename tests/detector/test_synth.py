"""The synthetic city: same seed, same city; labels that sit exactly on what was planted."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from shapely.geometry import box as shapely_box

from detector import CameraModel, CameraPose
from detector.synth import CLASSES, World, render_photo, visible_violations
from detector.synth.dataset import render_tile, write_dataset
from detector.synth.paint import Look
from detector.synth.world import PITCH_M

ROOT = Path(__file__).resolve().parents[2]
CAM = CameraModel(17.3, 13.0, 12.29, 1320, 989)  # a 5280×3956 camera read out at 1/4 size


def test_classes_are_the_taxonomy_codes() -> None:
    taxonomy = yaml.safe_load((ROOT / "configs" / "taxonomy.yaml").read_text(encoding="utf-8"))
    assert list(CLASSES) == [t["code"] for t in taxonomy["types"]]


def test_same_seed_same_city_other_seed_other_city() -> None:
    a, b, c = World(seed=3), World(seed=3), World(seed=4)
    va = [(v.id, v.code, v.x, v.y) for v in a.violations_local(0, 0, 8 * PITCH_M, 8 * PITCH_M)]
    vb = [(v.id, v.code, v.x, v.y) for v in b.violations_local(0, 0, 8 * PITCH_M, 8 * PITCH_M)]
    vc = [(v.id, v.code, v.x, v.y) for v in c.violations_local(0, 0, 8 * PITCH_M, 8 * PITCH_M)]
    assert va == vb and va != vc
    lon, lat = a.to_lonlat(200.0, 200.0)
    pose = CameraPose(float(lat), float(lon), 100.0, 160.0, yaw_deg=30.0)
    img_a = render_photo(a, pose, CAM, look=Look(), seed=1, blur_px=0.0)
    img_b = render_photo(b, pose, CAM, look=Look(), seed=1, blur_px=0.0)
    assert np.array_equal(img_a, img_b)


def test_min_spacing_keeps_same_type_violations_apart_and_leaves_the_rest() -> None:
    spacing = {"burning_smoke": 300.0, "road_waterlogging": 80.0}
    raw, thin = World(seed=7, violation_rate=1.0), World(seed=7, violation_rate=1.0, min_spacing_m=spacing)
    extent = (0, 0, 1500, 1500)
    before, after = raw.violations_local(*extent), thin.violations_local(*extent)
    for code, d in spacing.items():
        mine = [v for v in after if v.code == code]
        assert len(mine) < sum(v.code == code for v in before), code  # some were thinned out...
        assert len(mine) > 0
        for a, b in itertools.combinations(mine, 2):  # ...and what is left stands apart
            assert math.hypot(a.x - b.x, a.y - b.y) >= d, (a.id, b.id)
    others = lambda vs: [(v.id, v.x, v.y) for v in vs if v.code not in spacing]  # noqa: E731
    assert others(after) == others(before)
    # a thinned violation is not painted either: its block loses exactly its strokes
    for b_raw, b_thin in zip(raw.blocks_in(*extent), thin.blocks_in(*extent)):
        gone = [k for k, v in enumerate(b_raw.violations) if v not in b_thin.violations]
        assert len(b_raw.strokes) - len(b_thin.strokes) == sum(b_raw.parts[k][1] - b_raw.parts[k][0] for k in gone)


def test_every_taxonomy_code_is_planted_in_a_square_kilometre() -> None:
    w = World(seed=0)
    found = {v.code for v in w.violations_local(0, 0, 1000, 1000)}
    assert found == set(CLASSES)
    lookalikes = {name for b in w.blocks_in(0, 0, 1000, 1000) for name, _, _ in b.distractors}
    assert lookalikes == {"tarpaulin", "building_materials", "bare_patch", "wet_asphalt", "parked_car"}


def test_ground_truth_query_by_lonlat_area() -> None:
    w = World(seed=0)
    lon0, lat0 = w.to_lonlat(0.0, 0.0)
    lon1, lat1 = w.to_lonlat(300.0, 300.0)
    area = shapely_box(float(lon0), float(lat0), float(lon1), float(lat1))
    got = w.violations(area)
    expect = w.violations_local(0, 0, 300, 300)
    assert {v.id for v in got} == {v.id for v in expect} and got
    for v in got:
        assert area.buffer(1e-7).contains(shapely_box(v.lon, v.lat, v.lon, v.lat))
        assert v.to_json()["type"] in CLASSES


@pytest.mark.parametrize("yaw", [0.0, 90.0])
def test_nadir_label_box_is_the_planted_extent(yaw: float) -> None:
    """Independent of the homography: at nadir a box is the extent scaled by the GSD."""
    w = World(seed=2)
    target = w.violations_local(0, 0, 600, 600)[0]
    lon, lat = w.to_lonlat(target.x + 3.0, target.y - 2.0)
    pose = CameraPose(float(lat), float(lon), 100.0, 160.0, yaw_deg=yaw)
    visible = {v.planted.id: v for v in visible_violations(w, pose, CAM)}
    assert target.id in visible
    gsd_x, gsd_y = 100.0 / CAM.fx_px, 100.0 / CAM.fy_px
    cx, cy = (CAM.image_width_px - 1) / 2, (CAM.image_height_px - 1) / 2
    ex, ey = target.extent[:, 0] - (target.x + 3.0), target.extent[:, 1] - (target.y - 2.0)
    if yaw == 0.0:  # image right = east, image down = south
        u, v = cx + ex / gsd_x, cy - ey / gsd_y
    else:  # image top = east, image right = south
        u, v = cx - ey / gsd_x, cy - ex / gsd_y
    expect = (u.min(), v.min(), u.max(), v.max())
    assert np.allclose(visible[target.id].box, expect, atol=0.05)


def test_planted_violation_changes_the_pixels_inside_its_box() -> None:
    """The painted object is where its label says: pixels inside the box differ from the
    ground right around it."""
    w = World(seed=2)
    target = next(v for v in w.violations_local(0, 0, 900, 900) if v.code == "exposed_garbage")
    lon, lat = w.to_lonlat(target.x, target.y)
    pose = CameraPose(float(lat), float(lon), 40.0, 100.0)
    img = render_photo(w, pose, CAM, look=Look(), seed=0, blur_px=0.0).astype(float)
    (x0, y0, x1, y1) = next(v.box for v in visible_violations(w, pose, CAM) if v.planted.id == target.id)
    inner = img[int(y0) + 1 : int(y1), int(x0) + 1 : int(x1)]
    assert inner.std(axis=(0, 1)).mean() > 25.0  # many coloured bags


def test_dataset_labels_are_yolo_boxes_of_visible_violations(tmp_path: Path) -> None:
    path = write_dataset(tmp_path / "ds", seed=1, train_tiles=6, val_tiles=2)
    meta = yaml.safe_load(path.read_text())
    assert meta["names"] == dict(enumerate(CLASSES))
    assert len(meta["synth"]["sha256"]) == 64
    labels = sorted((tmp_path / "ds" / "labels" / "train").glob("*.txt"))
    images = sorted((tmp_path / "ds" / "images" / "train").glob("*.jpg"))
    assert len(labels) == len(images) == 6
    rows = [line.split() for f in labels for line in f.read_text().splitlines()]
    assert rows, "tiles are centred near planted violations"
    for cls, *xywh in rows:
        assert 0 <= int(cls) < len(CLASSES)
        cx, cy, bw, bh = map(float, xywh)
        assert 0 < bw <= 1 and 0 < bh <= 1 and 0 <= cx - bw / 2 + 1e-6 and cx + bw / 2 <= 1 + 1e-6
    again = write_dataset(tmp_path / "ds2", seed=1, train_tiles=6, val_tiles=2)
    assert yaml.safe_load(again.read_text())["synth"]["sha256"] == meta["synth"]["sha256"]


def test_tile_labels_match_the_renderer() -> None:
    w = World(seed=9)
    v = w.violations_local(0, 0, 500, 500)[0]
    image, labels = render_tile(w, v.x, v.y, np.random.default_rng(0))
    assert image.shape == (320, 320, 3)
    assert any(CLASSES[c] == v.code for c, *_ in labels)
