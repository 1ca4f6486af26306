"""A lawnmower survey sortie over a rectangle: rehearsals and self-tests without planner output.

Lines run north–south, spaced by the camera's across-track footprint less the side overlap,
extended half a footprint past the edges; the camera fires every along-track footprint less the
front overlap while on the survey lines, and is off in transit.
"""

from __future__ import annotations

import math

from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import Polygon, box

from detector.camera import CameraModel
from detector.geo import MetricFrame
from flight.mission import MissionItem, Sortie

REL = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT


def square_zone(lon: float, lat: float, size_m: float) -> Polygon:
    """A size_m × size_m square centred on (lon, lat), as a lon/lat polygon."""
    frame = MetricFrame.around(lon, lat)
    x, y = (float(v) for v in frame.forward(lon, lat))
    return frame.to_lonlat(box(x - size_m / 2, y - size_m / 2, x + size_m / 2, y + size_m / 2))


def lawnmower_sortie(sortie_id: str, zone: Polygon, camera: CameraModel, alt_m: float, *, dock_id: str = "dock",
                     zone_id: str = "zone", side_overlap: float = 0.3, front_overlap: float = 0.5,
                     cruise_m_s: float = 12.0, drone_id: str | None = None) -> Sortie:
    frame = MetricFrame.for_geometry(zone)
    minx, miny, maxx, maxy = frame.to_metric(zone).bounds
    across, along = camera.footprint_m(alt_m)
    spacing = across * (1 - side_overlap)
    trigger = along * (1 - front_overlap)
    lines = max(1, math.ceil((maxx - minx) / spacing))
    x0 = (minx + maxx) / 2 - spacing * (lines - 1) / 2
    y_lo, y_hi = miny - along / 2, maxy + along / 2

    def wp(x: float, y: float) -> MissionItem:
        lon, lat = frame.inverse(x, y)
        return MissionItem(command=mavlink.MAV_CMD_NAV_WAYPOINT, frame=REL, lat=round(float(lat), 7),
                           lon=round(float(lon), 7), alt=alt_m)

    def cam(d: float) -> MissionItem:
        return MissionItem(command=mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, frame=mavlink.MAV_FRAME_MISSION,
                           param1=d, param3=1.0 if d > 0 else 0.0)

    items = [MissionItem(command=mavlink.MAV_CMD_NAV_TAKEOFF, frame=REL, alt=alt_m), cam(0.0)]
    length = 0.0
    for i in range(lines):
        x = x0 + i * spacing
        a, b = (y_lo, y_hi) if i % 2 == 0 else (y_hi, y_lo)
        items += [wp(x, a), cam(trigger), wp(x, b), cam(0.0)]
        length += y_hi - y_lo + spacing
    items.append(MissionItem(command=mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, frame=mavlink.MAV_FRAME_MISSION))
    return Sortie(id=sortie_id, dock_id=dock_id, zone_id=zone_id, items=items, duration_s=length / cruise_m_s,
                  drone_id=drone_id, photo_count=int(lines * (y_hi - y_lo) / trigger) + lines,
                  trigger_distance_m=trigger)
