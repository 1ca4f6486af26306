"""Georeferencing: pixels of a posed photo ↔ points on flat ground ↔ lon/lat.

Frames. Ground metres are east/north/up in the photo's UTM frame (`detector.geo.MetricFrame`),
relative to the point straight below the camera, with the ground a plane `alt_agl_m` below the
camera. The camera frame is OpenCV's: x right, y down the image, z along the optical axis; pixel
centres lie at integer coordinates, (0, 0) is the top-left pixel.

Attitude follows `CameraPose`: yaw is the compass heading of the image top at nadir (of the
optical axis when oblique), pitch is -90 at nadir and 0 at the horizon, roll is positive when
the image's right side dips. The camera-to-world rotation is yaw · pitch · level · roll.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from shapely.geometry import Polygon, mapping

from detector.camera import CameraModel
from detector.capture import CameraPose
from detector.geo import MetricFrame

# Rays flatter than this below the horizon never reach flat ground in practice; footprints stop
# at MAX_RANGE_FACTOR × altitude so an oblique photo still has a finite footprint.
MAX_RANGE_FACTOR = 8.0

# Camera axes of a level camera looking north: x → east, y (image down) → down, z → north.
_LEVEL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


class GeorefError(ValueError):
    """A pose or pixel that cannot be put on the ground (NaN, sky-pointing, off-image)."""


@dataclass(frozen=True)
class PoseErrors:
    """One-sigma errors of a pose, for the position uncertainty of what a pixel shows.

    Defaults fit a dock drone without RTK: GNSS ~1.5 m, height above ground ~1 m (barometer and
    terrain model), gimbal attitude ~1°.
    """

    position_m: float = 1.5
    altitude_m: float = 1.0
    attitude_deg: float = 1.0


def rotation_camera_to_enu(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """3×3 rotation taking camera-frame vectors to east/north/up vectors."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    yaw = np.array([[math.cos(y), math.sin(y), 0.0], [-math.sin(y), math.cos(y), 0.0], [0.0, 0.0, 1.0]])
    pitch = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(p), -math.sin(p)], [0.0, math.sin(p), math.cos(p)]])
    roll = np.array([[math.cos(r), -math.sin(r), 0.0], [math.sin(r), math.cos(r), 0.0], [0.0, 0.0, 1.0]])
    return yaw @ pitch @ _LEVEL @ roll


def intrinsic_matrix(camera: CameraModel) -> np.ndarray:
    return np.array(
        [
            [camera.fx_px, 0.0, (camera.image_width_px - 1) / 2.0],
            [0.0, camera.fy_px, (camera.image_height_px - 1) / 2.0],
            [0.0, 0.0, 1.0],
        ]
    )


def check_pose(pose: CameraPose) -> None:
    """Raise GeorefError naming the field when a pose cannot be georeferenced."""
    for name in ("lat", "lon", "alt_agl_m", "yaw_deg", "pitch_deg", "roll_deg"):
        value = getattr(pose, name)
        if value is None or not math.isfinite(float(value)):
            raise GeorefError(f"pose.{name} must be a finite number, got {value!r}")
    if not -90.0 <= pose.lat <= 90.0:
        raise GeorefError(f"pose.lat must lie in [-90, 90], got {pose.lat!r}")
    if not -180.0 <= pose.lon <= 180.0:
        raise GeorefError(f"pose.lon must lie in [-180, 180], got {pose.lon!r}")
    if pose.alt_agl_m <= 0.0:
        raise GeorefError(f"pose.alt_agl_m must be above ground (> 0), got {pose.alt_agl_m!r}")
    axis = rotation_camera_to_enu(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)[:, 2]
    if axis[2] >= -1e-6:
        raise GeorefError(
            f"camera points at or above the horizon (pose.pitch_deg={pose.pitch_deg!r}, "
            f"pose.roll_deg={pose.roll_deg!r}): its photo does not show the ground"
        )


@dataclass(frozen=True)
class Georeferencer:
    """Pixel ↔ ground ↔ lon/lat for one photo, flat ground `alt_agl_m` below the camera."""

    pose: CameraPose
    camera: CameraModel
    frame: MetricFrame | None = None
    _r: np.ndarray = field(init=False, repr=False, compare=False)
    _k: np.ndarray = field(init=False, repr=False, compare=False)
    _origin: tuple[float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_pose(self.pose)
        frame = self.frame or MetricFrame.around(self.pose.lon, self.pose.lat)
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "_r", rotation_camera_to_enu(self.pose.yaw_deg, self.pose.pitch_deg, self.pose.roll_deg))
        object.__setattr__(self, "_k", intrinsic_matrix(self.camera))
        e, n = frame.forward(self.pose.lon, self.pose.lat)
        object.__setattr__(self, "_origin", (float(e), float(n)))

    @property
    def origin_m(self) -> tuple[float, float]:
        """Easting/northing (UTM metres) of the point straight below the camera."""
        return self._origin

    @property
    def rotation(self) -> np.ndarray:
        return self._r

    def _distorted(self) -> bool:
        return any(abs(c) > 0.0 for c in self.camera.distortion)

    def rays(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Unit-less ENU ray directions (N×3) for pixels."""
        pts = np.stack([u, v], axis=-1).reshape(-1, 1, 2).astype(np.float64)
        if self._distorted():
            norm = cv2.undistortPoints(pts, self._k, np.array(self.camera.distortion)).reshape(-1, 2)
        else:
            norm = np.empty((pts.shape[0], 2))
            norm[:, 0] = (pts[:, 0, 0] - self._k[0, 2]) / self._k[0, 0]
            norm[:, 1] = (pts[:, 0, 1] - self._k[1, 2]) / self._k[1, 1]
        cam = np.concatenate([norm, np.ones((norm.shape[0], 1))], axis=1)
        return cam @ self._r.T

    def pixel_to_local(self, u, v) -> tuple[np.ndarray, np.ndarray]:
        """Pixels → ground east/north metres relative to the point below the camera.

        Raises GeorefError when any pixel's ray misses the ground (at or above the horizon).
        """
        u_arr, v_arr = np.atleast_1d(np.asarray(u, float)), np.atleast_1d(np.asarray(v, float))
        rays = self.rays(u_arr, v_arr)
        if np.any(rays[:, 2] >= -1e-9):
            raise GeorefError("pixel ray at or above the horizon does not reach the ground")
        t = self.pose.alt_agl_m / -rays[:, 2]
        return rays[:, 0] * t, rays[:, 1] * t

    def pixel_to_ground_m(self, u, v) -> tuple[np.ndarray, np.ndarray]:
        """Pixels → UTM easting/northing of the ground they show."""
        x, y = self.pixel_to_local(u, v)
        return x + self._origin[0], y + self._origin[1]

    def pixel_to_lonlat(self, u, v) -> tuple[np.ndarray, np.ndarray]:
        e, n = self.pixel_to_ground_m(u, v)
        lon, lat = self.frame.inverse(e, n)
        return np.asarray(lon), np.asarray(lat)

    def local_to_pixel(self, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground east/north metres (relative to below the camera) → pixels, and a mask of those
        in front of the camera (behind-camera points get NaN)."""
        x_arr, y_arr = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        world = np.stack([x_arr, y_arr, np.full_like(x_arr, -self.pose.alt_agl_m)], axis=1)
        cam = world @ self._r
        front = cam[:, 2] > 1e-9
        z = np.where(front, cam[:, 2], np.nan)
        if self._distorted():
            pts, _ = cv2.projectPoints(
                np.where(front[:, None], cam, 1.0), np.zeros(3), np.zeros(3), self._k, np.array(self.camera.distortion)
            )
            u, v = pts[:, 0, 0], pts[:, 0, 1]
            u, v = np.where(front, u, np.nan), np.where(front, v, np.nan)
        else:
            u = self._k[0, 0] * cam[:, 0] / z + self._k[0, 2]
            v = self._k[1, 1] * cam[:, 1] / z + self._k[1, 2]
        return u, v, front

    def ground_m_to_pixel(self, e, n) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        e_arr, n_arr = np.asarray(e, float), np.asarray(n, float)
        return self.local_to_pixel(e_arr - self._origin[0], n_arr - self._origin[1])

    def lonlat_to_pixel(self, lon, lat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        e, n = self.frame.forward(np.asarray(lon, float), np.asarray(lat, float))
        return self.ground_m_to_pixel(e, n)

    def homography_local_to_pixel(self) -> np.ndarray:
        """3×3 H with pixel ~ H · (x, y, 1) for ground metres relative to below the camera.

        Exact for an undistorted camera; the renderer warps ground rasters with it.
        """
        ground = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -self.pose.alt_agl_m]])
        return self._k @ self._r.T @ ground

    def footprint_local(self, samples_per_edge: int = 8) -> np.ndarray:
        """Ground outline (N×2 metres, relative) of the photo; rays that miss the ground or land
        beyond MAX_RANGE_FACTOR × altitude are cut at that range."""
        w, h = self.camera.image_width_px - 1, self.camera.image_height_px - 1
        s = np.linspace(0.0, 1.0, samples_per_edge, endpoint=False)
        u = np.concatenate([s * w, np.full_like(s, w), (1 - s) * w, np.zeros_like(s)])
        v = np.concatenate([np.zeros_like(s), s * h, np.full_like(s, h), (1 - s) * h])
        rays = self.rays(u, v)
        max_range = MAX_RANGE_FACTOR * self.pose.alt_agl_m
        horiz = np.hypot(rays[:, 0], rays[:, 1])
        down = -rays[:, 2]
        dist = np.where(down > 1e-9, self.pose.alt_agl_m * horiz / np.maximum(down, 1e-12), np.inf)
        dist = np.minimum(dist, max_range)
        scale = dist / np.maximum(horiz, 1e-12)
        return np.stack([rays[:, 0] * scale, rays[:, 1] * scale], axis=1)

    def footprint_m(self) -> Polygon:
        """Ground outline of the photo in `frame` metres (easting, northing)."""
        return Polygon(self.footprint_local() + np.asarray(self._origin))

    def footprint(self) -> Polygon:
        """Ground outline of the photo as a lon/lat polygon."""
        local = self.footprint_local()
        lon, lat = self.frame.inverse(local[:, 0] + self._origin[0], local[:, 1] + self._origin[1])
        return Polygon(zip(np.asarray(lon), np.asarray(lat)))

    def footprint_geojson(self) -> dict:
        """RFC 7946 Polygon (lon/lat, counter-clockwise outer ring) of the photo's ground outline."""
        poly = self.footprint()
        if not poly.exterior.is_ccw:
            poly = Polygon(list(poly.exterior.coords)[::-1])
        geo = mapping(poly)
        return {"type": "Polygon", "coordinates": [[[float(x), float(y)] for x, y in geo["coordinates"][0]]]}

    def uncertainty_m(self, u, v, errors: PoseErrors = PoseErrors()) -> np.ndarray:
        """One-sigma horizontal position error (m) of the ground seen at pixels.

        A ray at off-nadir angle α from height h lands h·tan α away: a height error δh moves it by
        δh·tan α, an attitude error δθ by h·δθ/cos²α (worst direction); GNSS error adds as is.
        """
        rays = self.rays(np.atleast_1d(np.asarray(u, float)), np.atleast_1d(np.asarray(v, float)))
        down = -rays[:, 2]
        if np.any(down <= 1e-9):
            raise GeorefError("pixel ray at or above the horizon does not reach the ground")
        tan_a = np.hypot(rays[:, 0], rays[:, 1]) / down
        cos2 = 1.0 / (1.0 + tan_a**2)
        h = self.pose.alt_agl_m
        att = h * math.radians(errors.attitude_deg) / cos2
        return np.sqrt(errors.position_m**2 + (errors.altitude_m * tan_a) ** 2 + att**2)
