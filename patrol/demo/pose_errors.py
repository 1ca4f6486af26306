"""What a real drone reports with a photo is not where its camera was: simulated pose errors.

The synthetic camera renders each photo at the true pose; with a profile here the capture handed
to the detector carries the pose the drone would have *reported*, off by the errors real hardware
has. Each error is a bias held for a whole sortie (GNSS and heading errors drift over minutes, a
barometer over a flight, a trigger delay is a constant of the camera) plus a per-photo jitter.

Figures (one sigma; see notes/issue-15.md for the sources and what each moves on the ground):
- GNSS, standalone: 1.5 m CEP (u-blox M9 class receiver; DJI dock drones quote ±1.5 m horizontal
  hovering accuracy with GNSS) → 1.27 m per axis. RTK fix: 1 cm + 1 ppm CEP (u-blox F9P class).
- Height above the ground: ±0.5 m barometric (DJI's GNSS vertical hovering figure) plus what a
  terrain model misses; RTK: 0.1 m plus the terrain model.
- Camera attitude: 0.3° pitch/roll (gimbal on an EKF-levelled frame), 1.5° heading (magnetometer
  heading after calibration, the weakest angle of a MEMS AHRS); RTK drones with dual antennas or
  GNSS-aided yaw: 0.5°.
- Time sync: 20 ms between shutter and the pose it is stamped with (trigger to exposure, no
  hot-shoe feedback), at the survey speed along the heading.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from pyproj import Geod

from detector.capture import CameraPose, Capture
from detector.georef import PoseErrors

_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class ErrorTerm:
    """One error: a bias drawn once per sortie and a jitter drawn per photo (one sigma each)."""

    bias: float
    jitter: float = 0.0

    @property
    def sigma(self) -> float:
        return math.hypot(self.bias, self.jitter)


@dataclass(frozen=True)
class PoseErrorProfile:
    """One-sigma pose errors of a kind of drone (see the module docstring for the figures)."""

    name: str
    gnss_m: ErrorTerm            # per horizontal axis
    height_m: ErrorTerm          # above the ground the camera looks at
    tilt_deg: ErrorTerm          # camera pitch and roll, each
    heading_deg: ErrorTerm
    time_s: ErrorTerm            # shutter vs pose stamp
    speed_mps: float = 10.0      # survey ground speed, for the time-sync error

    def detector_sigmas(self) -> PoseErrors:
        """The same figures as the detector's uncertainty model wants them."""
        along = self.time_s.sigma * self.speed_mps
        return PoseErrors(position_m=math.hypot(self.gnss_m.sigma * math.sqrt(2), along),
                          altitude_m=self.height_m.sigma,
                          attitude_deg=math.hypot(self.tilt_deg.sigma, self.heading_deg.sigma))


PROFILES: dict[str, PoseErrorProfile] = {
    "gnss": PoseErrorProfile("gnss", gnss_m=ErrorTerm(1.2, 0.4), height_m=ErrorTerm(0.5, 0.1),
                             tilt_deg=ErrorTerm(0.2, 0.2), heading_deg=ErrorTerm(1.5, 0.3),
                             time_s=ErrorTerm(0.02, 0.005)),
    "rtk": PoseErrorProfile("rtk", gnss_m=ErrorTerm(0.02, 0.01), height_m=ErrorTerm(0.1, 0.05),
                            tilt_deg=ErrorTerm(0.2, 0.2), heading_deg=ErrorTerm(0.5, 0.2),
                            time_s=ErrorTerm(0.02, 0.005)),
}


def _rng(seed: int, *keys: object) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(str(k).encode()) for k in keys)])


def _draw(bias_rng: np.random.Generator, photo_rng: np.random.Generator, term: ErrorTerm) -> float:
    return float(bias_rng.normal(0.0, term.bias) + photo_rng.normal(0.0, term.jitter)) if term.sigma else 0.0


def reported_pose(true: CameraPose, profile: PoseErrorProfile, seed: int, drone_id: str, sortie_id: str,
                  seq: int) -> CameraPose:
    """The pose the drone would report for a photo taken at `true` (deterministic in the ids)."""
    b = _rng(seed, "bias", drone_id, sortie_id)
    p = _rng(seed, "photo", drone_id, sortie_id, seq)
    east, north = _draw(b, p, profile.gnss_m), _draw(b, p, profile.gnss_m)
    along = _draw(b, p, profile.time_s) * profile.speed_mps  # the pose is stamped late or early
    dh, dpitch, droll, dyaw = (_draw(b, p, t) for t in (profile.height_m, profile.tilt_deg, profile.tilt_deg,
                                                        profile.heading_deg))
    yaw = math.radians(true.yaw_deg)
    east += along * math.sin(yaw)
    north += along * math.cos(yaw)
    dist = math.hypot(east, north)
    lon, lat = true.lon, true.lat
    if dist > 0:
        lon, lat, _ = _GEOD.fwd(true.lon, true.lat, math.degrees(math.atan2(east, north)), dist)
    return replace(true, lat=float(lat), lon=float(lon), alt_agl_m=max(1.0, true.alt_agl_m + dh),
                   alt_amsl_m=true.alt_amsl_m + dh, yaw_deg=(true.yaw_deg + dyaw) % 360.0,
                   pitch_deg=true.pitch_deg + dpitch, roll_deg=true.roll_deg + droll)


@dataclass(frozen=True)
class ReportedPoses:
    """Wraps a camera: the photo is taken at the true pose, the capture carries the reported one."""

    camera: Callable[[Capture], Capture]
    profile: PoseErrorProfile
    seed: int = 0

    def __call__(self, trigger: Capture) -> Capture:
        taken = self.camera(trigger)
        return replace(taken, pose=reported_pose(taken.pose, self.profile, self.seed, taken.drone_id,
                                                 taken.sortie_id, taken.seq))
