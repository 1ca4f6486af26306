"""Reported-pose errors: drawn per sortie and per photo, of the stated size, moving what is georeferenced."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from detector.camera import CameraModel
from detector.capture import CameraPose, Capture
from detector.geo import MetricFrame
from detector.georef import Georeferencer
from patrol.demo.pose_errors import PROFILES, ReportedPoses, reported_pose

TRUE = CameraPose(lat=28.95, lon=118.87, alt_agl_m=100.0, alt_amsl_m=160.0, yaw_deg=30.0)
CAMERA = CameraModel(sensor_width_mm=13.2, sensor_height_mm=8.8, focal_length_mm=8.8, image_width_px=1200, image_height_px=800)
FRAME = MetricFrame.around(118.87, 28.95)


def _offset_m(pose: CameraPose) -> tuple[float, float]:
    x0, y0 = FRAME.forward(TRUE.lon, TRUE.lat)
    x, y = FRAME.forward(pose.lon, pose.lat)
    return float(x - x0), float(y - y0)


def test_same_photo_same_error_other_sortie_other_bias():
    gnss = PROFILES["gnss"]
    a = reported_pose(TRUE, gnss, seed=1, drone_id="d1", sortie_id="s1", seq=3)
    assert a == reported_pose(TRUE, gnss, seed=1, drone_id="d1", sortie_id="s1", seq=3)
    b = reported_pose(TRUE, gnss, seed=1, drone_id="d1", sortie_id="s1", seq=4)
    c = reported_pose(TRUE, gnss, seed=1, drone_id="d1", sortie_id="s2", seq=3)
    jitter = np.hypot(*np.subtract(_offset_m(a), _offset_m(b)))
    assert 0.0 < jitter < 3.0  # photos of one sortie share the bias
    assert a != c


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_position_error_has_the_stated_size(name):
    profile = PROFILES[name]
    offsets = np.array([_offset_m(reported_pose(TRUE, profile, 0, "d", f"s{k}", 0)) for k in range(600)])
    along = profile.time_s.sigma * profile.speed_mps
    expected = np.sqrt(2 * profile.gnss_m.sigma ** 2 + along ** 2)
    measured = float(np.sqrt((offsets ** 2).sum(axis=1).mean()))
    assert measured == pytest.approx(expected, rel=0.15)
    assert abs(offsets.mean(axis=0)).max() < 0.2 * expected + 0.01  # no systematic shift


def test_georeferenced_ground_moves_by_metres_without_rtk_and_centimetres_to_decimetres_with():
    u, v = np.array([0.0, 600.0, 1199.0]), np.array([0.0, 400.0, 799.0])
    truth = np.array(FRAME.forward(*Georeferencer(TRUE, CAMERA).pixel_to_lonlat(u, v)))
    err = {}
    for name, profile in PROFILES.items():
        d = []
        for k in range(200):
            pose = reported_pose(TRUE, profile, 0, "d", f"s{k}", k)
            seen = np.array(FRAME.forward(*Georeferencer(pose, CAMERA).pixel_to_lonlat(u, v)))
            d.extend(np.hypot(*(seen - truth)))
        err[name] = float(np.median(d))
    assert 1.0 < err["gnss"] < 5.0
    assert err["rtk"] < 1.0 < err["gnss"] / 2


def test_detector_uncertainty_matches_the_simulated_errors():
    sig = PROFILES["gnss"].detector_sigmas()
    assert sig.position_m == pytest.approx(np.hypot(PROFILES["gnss"].gnss_m.sigma * np.sqrt(2), 0.2), rel=0.01)
    assert sig.attitude_deg > PROFILES["gnss"].heading_deg.bias


def test_reported_poses_keeps_the_photo_and_changes_only_the_pose():
    seen = []

    def camera(trigger: Capture) -> Capture:
        seen.append(trigger.pose)
        return trigger

    trigger = Capture(image=None, time=datetime(2026, 1, 1, tzinfo=timezone.utc), pose=TRUE, camera=CAMERA,
                      drone_id="d1", sortie_id="s1", seq=7)
    out = ReportedPoses(camera, PROFILES["gnss"], seed=3)(trigger)
    assert seen == [TRUE]  # rendered where the camera really was
    assert out.pose == reported_pose(TRUE, PROFILES["gnss"], 3, "d1", "s1", 7) != TRUE
    assert (out.drone_id, out.seq, out.time) == (trigger.drone_id, trigger.seq, trigger.time)


def test_demo_refuses_an_unknown_profile_naming_the_option():
    from typer.testing import CliRunner

    from patrol.cli import app

    result = CliRunner().invoke(app, ["demo", "--pose-errors", "laser"])
    assert result.exit_code == 2
    assert "--pose-errors" in result.output and "laser" in result.output
