"""Camera trigger messages → `detector.Capture` with the pose at the moment of the shot."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from shapely.geometry import Polygon

from detector.capture import CameraPose, Capture
from detector.georef import Georeferencer
from detector.geo import MetricFrame
from flight.assets import Drone


def _yaw_from_quaternion(q) -> float:
    w, x, y, z = q
    return math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))) % 360.0


EPOCH_2020_US = 1_577_836_800_000_000  # earlier stamps are not UTC (no GPS time yet, or time since boot)


def shot_time(usec: int, received: datetime) -> datetime:
    """When the photo was taken: the vehicle's GPS-based UTC stamp when it has one, else when we heard
    of it. The stamp is what the camera's own clock agrees with, and it stays right for records
    re-sent after a link outage and when the vehicle's clock runs slower than ours (SITL under load)."""
    return datetime.fromtimestamp(usec / 1e6, timezone.utc) if usec >= EPOCH_2020_US else received


def capture_from_message(msg, drone: Drone, sortie_id: str, utc: datetime) -> Capture | None:
    """CAMERA_FEEDBACK (ArduPilot) or CAMERA_IMAGE_CAPTURED (MAVLink camera) → Capture.

    The camera is taken as nadir-pointing on a gimbal (pitch -90, roll 0) with the image top
    edge along the vehicle heading; `utc` (the controller's clock on receipt) is the time only
    when the message carries no UTC stamp (`shot_time`). The index is the vehicle's image index
    (img_idx / image_index: 1 for ArduCopter's first photo), which photos are matched by.
    """
    kind = msg.get_type()
    if kind == "CAMERA_FEEDBACK":
        pose = CameraPose(lat=msg.lat / 1e7, lon=msg.lng / 1e7, alt_agl_m=msg.alt_rel, alt_amsl_m=msg.alt_msl,
                          yaw_deg=msg.yaw % 360.0)
        seq, when = msg.img_idx, shot_time(msg.time_usec, utc)
    elif kind == "CAMERA_IMAGE_CAPTURED":
        if msg.capture_result != 1:
            return None
        pose = CameraPose(lat=msg.lat / 1e7, lon=msg.lon / 1e7, alt_agl_m=msg.relative_alt / 1000.0,
                          alt_amsl_m=msg.alt / 1000.0, yaw_deg=_yaw_from_quaternion(msg.q))
        seq, when = msg.image_index, shot_time(msg.time_utc, utc)
    else:
        return None
    return Capture(image=None, time=when, pose=pose, camera=drone.camera, drone_id=drone.id,
                   sortie_id=sortie_id, seq=seq)


def footprint_m(capture: Capture, frame: MetricFrame) -> Polygon:
    """Ground outline of a capture in `frame` metres, from its pose (the detector's georeferencing)."""
    return Georeferencer(capture.pose, capture.camera, frame=frame).footprint_m()
