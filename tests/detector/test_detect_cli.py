"""`patrol detect`: photos in, sightings GeoJSON and annotated images out; bad photos reported."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from detector import CameraModel, CameraPose
from detector.synth import World, render_capture
from patrol.cli import app


def test_detect_command_writes_geojson_and_annotated_images(tmp_path: Path) -> None:
    world = World(seed=31, violation_rate=3.0)
    lon, lat = world.to_lonlat(150.0, 150.0)
    cam = CameraModel(17.3, 13.0, 12.29, 2640, 1978)
    pose = CameraPose(float(lat), float(lon), 100.0, 160.0, yaw_deg=20.0)
    photo = render_capture(world, pose, cam, tmp_path / "p0.jpg").image
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "detect", str(photo), str(broken), "--pose", f"{lat},{lon},100,20,-90,0",
        "--camera", "17.3,13.0,12.29,2640,1978", "--backend", "onnxruntime", "-o", str(out),
    ])
    assert result.exit_code == 0, result.output
    collection = json.loads((out / "sightings.geojson").read_text())
    assert collection["type"] == "FeatureCollection" and collection["features"]
    for f in collection["features"]:
        assert f["geometry"]["type"] == "Point"
        assert abs(f["geometry"]["coordinates"][0] - lon) < 0.002 and abs(f["geometry"]["coordinates"][1] - lat) < 0.002
    assert (out / "annotated" / "p0.jpg").stat().st_size > 0
    errors = json.loads((out / "errors.json").read_text())
    assert [e["photo"] for e in errors] == [str(broken)] and "empty" in errors[0]["error"]


def test_detect_command_rejects_a_malformed_pose(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["detect", str(tmp_path / "x.jpg"), "--pose", "28.9,north,100", "-o", str(tmp_path)])
    assert result.exit_code != 0
    assert "--pose" in result.output


def test_detect_command_reads_per_photo_poses_from_a_file(tmp_path: Path) -> None:
    world = World(seed=31, violation_rate=3.0)
    cam = CameraModel(17.3, 13.0, 12.29, 2640, 1978)
    rows, photos = [], []
    for i, (x, y) in enumerate(((150.0, 150.0), (400.0, 150.0))):
        lon, lat = world.to_lonlat(x, y)
        pose = CameraPose(float(lat), float(lon), 100.0, 160.0, yaw_deg=20.0)
        photos.append(str(render_capture(world, pose, cam, tmp_path / f"p{i}.jpg").image))
        rows.append({"photo": f"p{i}.jpg", "lat": float(lat), "lon": float(lon), "alt_agl_m": 100.0, "yaw_deg": 20.0})
    poses = tmp_path / "poses.json"
    poses.write_text(json.dumps(rows))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["detect", *photos, "--poses", str(poses), "--camera", "17.3,13.0,12.29,2640,1978",
                                      "--backend", "onnxruntime", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "errors.json").read_text()) == []
    features = json.loads((out / "sightings.geojson").read_text())["features"]
    assert features and {f["properties"]["image"]["ref"].rsplit("/", 1)[-1] for f in features} <= {"p0.jpg", "p1.jpg"}

    poses.write_text(json.dumps([{"photo": "p0.jpg", "lat": "north", "lon": 1.0, "alt_agl_m": 100}]))
    bad = CliRunner().invoke(app, ["detect", photos[0], "--poses", str(poses), "-o", str(out)])
    assert bad.exit_code != 0 and "lat" in bad.output
