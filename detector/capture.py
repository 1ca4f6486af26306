"""The photo-with-pose record that flight produces and the detector consumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from detector.camera import CameraModel


@dataclass(frozen=True)
class CameraPose:
    """Where the camera was and where it looked when the shutter fired.

    Angles follow the gimbal convention of dock drones: `yaw_deg` is the compass heading of the
    image's top edge (0 = north, clockwise), `pitch_deg` is -90 straight down and 0 at the
    horizon, `roll_deg` is positive when the image's right side dips.
    """

    lat: float
    lon: float
    alt_agl_m: float
    alt_amsl_m: float
    yaw_deg: float = 0.0
    pitch_deg: float = -90.0
    roll_deg: float = 0.0


@dataclass(frozen=True)
class Capture:
    """One photo taken during a sortie: pixels (file or array), UTC time, pose, intrinsics, ids.

    `image` is None when the flight side has only the trigger event (CAMERA_FEEDBACK) and the
    pixels arrive later (downloaded from the camera, or rendered by the simulator's world).
    """

    image: Path | np.ndarray | None
    time: datetime
    pose: CameraPose
    camera: CameraModel
    drone_id: str
    sortie_id: str
    seq: int = 0
