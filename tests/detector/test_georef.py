"""Georeferencing: known poses put known ground points on the right pixels and back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector import CameraModel, CameraPose, MetricFrame
from detector.georef import Georeferencer, GeorefError, PoseErrors

CAM = CameraModel(sensor_width_mm=17.3, sensor_height_mm=13.0, focal_length_mm=12.29, image_width_px=5280, image_height_px=3956)
LON, LAT = 118.8726, 28.9417
FRAME = MetricFrame.around(LON, LAT)


def pose(yaw: float = 0.0, pitch: float = -90.0, roll: float = 0.0, alt: float = 100.0) -> CameraPose:
    return CameraPose(lat=LAT, lon=LON, alt_agl_m=alt, alt_amsl_m=alt + 60.0, yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll)


@pytest.mark.parametrize("pitch", [-90.0, -60.0])
@pytest.mark.parametrize("yaw", [0.0, 45.0, 90.0, 200.0, 315.0])
def test_ground_points_round_trip_within_half_a_metre(yaw: float, pitch: float) -> None:
    g = Georeferencer(pose(yaw, pitch, roll=2.0), CAM, FRAME)
    u = np.linspace(50, CAM.image_width_px - 50, 9)
    v = np.linspace(50, CAM.image_height_px - 50, 7)
    uu, vv = np.meshgrid(u, v)
    lon, lat = g.pixel_to_lonlat(uu.ravel(), vv.ravel())
    # ground points first: known lon/lat → pixel → back to lon/lat
    pu, pv, front = g.lonlat_to_pixel(lon, lat)
    assert front.all()
    back_lon, back_lat = g.pixel_to_lonlat(pu, pv)
    e0, n0 = FRAME.forward(lon, lat)
    e1, n1 = FRAME.forward(back_lon, back_lat)
    assert np.max(np.hypot(np.asarray(e1) - e0, np.asarray(n1) - n0)) < 0.5
    assert np.max(np.hypot(pu - uu.ravel(), pv - vv.ravel())) < 0.05


@pytest.mark.parametrize("yaw", [0.0, 90.0, 180.0, 270.0, 30.0])
def test_image_top_faces_the_yaw_heading_at_nadir(yaw: float) -> None:
    g = Georeferencer(pose(yaw), CAM, FRAME)
    heading = math.radians(yaw)
    u, v, front = g.local_to_pixel(10 * math.sin(heading), 10 * math.cos(heading))
    cx, cy = (CAM.image_width_px - 1) / 2, (CAM.image_height_px - 1) / 2
    assert front.all()
    assert u[0] == pytest.approx(cx, abs=1e-6)
    assert cy - v[0] == pytest.approx(10 * CAM.fy_px / 100.0, rel=1e-9)


@pytest.mark.parametrize("yaw", [0.0, 120.0, 250.0])
def test_oblique_centre_ray_lands_ahead_along_yaw(yaw: float) -> None:
    g = Georeferencer(pose(yaw, pitch=-60.0), CAM, FRAME)
    x, y = g.pixel_to_local((CAM.image_width_px - 1) / 2, (CAM.image_height_px - 1) / 2)
    ahead = 100.0 * math.tan(math.radians(30.0))
    assert x[0] == pytest.approx(ahead * math.sin(math.radians(yaw)), abs=1e-6)
    assert y[0] == pytest.approx(ahead * math.cos(math.radians(yaw)), abs=1e-6)


def test_roll_tilts_the_right_side_down() -> None:
    # looking north 45° down and rolled right: the right edge looks more steeply down than the
    # left edge, so its ground lies nearer the camera
    g = Georeferencer(pose(0.0, pitch=-45.0, roll=10.0), CAM, FRAME)
    mid = (CAM.image_height_px - 1) / 2
    x, y = g.pixel_to_local([0.0, CAM.image_width_px - 1.0], [mid, mid])
    assert np.hypot(x[1], y[1]) < np.hypot(x[0], y[0]) - 5.0


def test_nadir_footprint_matches_the_camera_footprint() -> None:
    g = Georeferencer(pose(33.0), CAM, FRAME)
    w, h = CAM.footprint_m(100.0)
    area = FRAME.to_metric(g.footprint()).area
    # pixel-centre convention shrinks each side by one pixel
    assert area == pytest.approx((w - CAM.gsd_m(100)) * (h - CAM.gsd_m(100)), rel=1e-3)
    geo = g.footprint_geojson()
    ring = geo["coordinates"][0]
    assert geo["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) >= 5


def test_metric_footprint_is_the_lonlat_footprint_in_the_frame() -> None:
    g = Georeferencer(pose(yaw=70.0, pitch=-70.0), CAM, FRAME)
    metric, via_lonlat = g.footprint_m(), FRAME.to_metric(g.footprint())
    assert metric.symmetric_difference(via_lonlat).area < 1e-6 * metric.area


def test_distorted_camera_round_trips() -> None:
    cam = CameraModel(17.3, 13.0, 12.29, 5280, 3956, distortion=(-0.08, 0.03, 0.0005, -0.0003, 0.0))
    g = Georeferencer(pose(70.0, pitch=-70.0), cam, FRAME)
    u, v = np.array([100.0, 2600.0, 5100.0]), np.array([3800.0, 1900.0, 150.0])
    x, y = g.pixel_to_local(u, v)
    pu, pv, _ = g.local_to_pixel(x, y)
    assert np.max(np.hypot(pu - u, pv - v)) < 0.05
    plain = Georeferencer(pose(70.0, pitch=-70.0), CAM, FRAME)
    px, py = plain.pixel_to_local(u, v)
    assert np.max(np.hypot(px - x, py - y)) > 0.5  # distortion changes where corner pixels land


@pytest.mark.parametrize("field", ["lat", "lon", "alt_agl_m", "yaw_deg", "pitch_deg", "roll_deg"])
def test_nan_pose_is_refused_naming_the_field(field: str) -> None:
    values = {"lat": LAT, "lon": LON, "alt_agl_m": 100.0, "alt_amsl_m": 160.0, "yaw_deg": 0.0, "pitch_deg": -90.0, "roll_deg": 0.0}
    values[field] = float("nan")
    with pytest.raises(GeorefError, match=field):
        Georeferencer(CameraPose(**values), CAM, FRAME)


@pytest.mark.parametrize("pitch", [0.0, 15.0])
def test_camera_at_or_above_horizon_is_refused(pitch: float) -> None:
    with pytest.raises(GeorefError, match="horizon"):
        Georeferencer(pose(0.0, pitch=pitch), CAM, FRAME)


def test_near_horizon_footprint_is_cut_at_max_range() -> None:
    g = Georeferencer(pose(0.0, pitch=-20.0), CAM, FRAME)  # top of frame sees sky
    local = g.footprint_local()
    assert np.isfinite(local).all()
    assert np.hypot(local[:, 0], local[:, 1]).max() <= 800.0 + 1e-6
    with pytest.raises(GeorefError, match="horizon"):
        g.pixel_to_local(2640.0, 0.0)


def test_uncertainty_grows_with_altitude_and_obliquity() -> None:
    centre = ((CAM.image_width_px - 1) / 2, (CAM.image_height_px - 1) / 2)
    low = Georeferencer(pose(alt=60.0), CAM, FRAME).uncertainty_m(*centre)[0]
    high = Georeferencer(pose(alt=120.0), CAM, FRAME).uncertainty_m(*centre)[0]
    oblique = Georeferencer(pose(alt=120.0, pitch=-50.0), CAM, FRAME).uncertainty_m(*centre)[0]
    errors = PoseErrors()
    assert low == pytest.approx(math.hypot(errors.position_m, 60.0 * math.radians(errors.attitude_deg)), rel=1e-6)
    assert low < high < oblique
