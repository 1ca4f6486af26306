"""Planned sorties → MAVLink mission items, and the SurveyLane records that map items to strips.

Layout (ArduPilot and PX4 both accept it):
  0  NAV_WAYPOINT  home placeholder at the dock (ArduPilot overwrites seq 0 with home)
  1  NAV_TAKEOFF   to the clear height above the dock (the first leg climbs on to survey altitude)
  2  DO_CHANGE_SPEED  transit speed
  per strip:  NAV_WAYPOINT start · DO_CHANGE_SPEED survey speed · DO_SET_CAM_TRIGG_DIST d (trigger
              once now) · NAV_WAYPOINT end (strips of more than one photo) · DO_SET_CAM_TRIGG_DIST 0 ·
              DO_CHANGE_SPEED transit speed
  then NAV_WAYPOINT over the dock at the clear height (the last leg descends to it) · NAV_RETURN_TO_LAUNCH
The trigger distance and the end waypoint allow for ArduPilot's late trigger and waypoint radius
(flight.planner.trigger), so each strip takes exactly its planned photos. The camera is off on connecting legs, so no photo is taken across a gap or a no-fly edge. A DO
command runs once the NAV item before it is reached, so strips fly at the survey speed and every
other leg at the transit speed. The way home is a waypoint, not the RTL item's own return, because
ArduPilot and PX4 fly RTL at their RTL speed parameter, not at the mission's speed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pymavlink import mavutil

from detector.geo import MetricFrame
from flight.mission import MissionItem, Sortie, SurveyLane
from flight.planner.planned import PlannedSortie
from flight.planner.schedule import Schedule, Slot
from flight.planner.sorties import Flight
from flight.planner.strips import Strip
from flight.planner.trigger import END_OVERSHOOT_M, mission_spacing_m

MAV = mavutil.mavlink


def _waypoint(lat: float, lon: float, alt: float) -> MissionItem:
    return MissionItem(MAV.MAV_CMD_NAV_WAYPOINT, MAV.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, lat=lat, lon=lon, alt=alt)


def _trigger(distance_m: float) -> MissionItem:
    return MissionItem(MAV.MAV_CMD_DO_SET_CAM_TRIGG_DIST, MAV.MAV_FRAME_MISSION,
                       param1=round(distance_m, 3), param3=1.0 if distance_m > 0 else 0.0)


def speed_item(speed_m_s: float) -> MissionItem:
    """DO_CHANGE_SPEED to a ground speed (param1 = 1), throttle unchanged (param3 = -1)."""
    return MissionItem(MAV.MAV_CMD_DO_CHANGE_SPEED, MAV.MAV_FRAME_MISSION, param1=1.0, param2=round(speed_m_s, 3),
                       param3=-1.0)


def mission_items(strips: tuple[Strip, ...], frame: MetricFrame, dock_lonlat: tuple[float, float],
                  dock_alt_amsl: float, flight: Flight) -> tuple[list[MissionItem], list[SurveyLane]]:
    """Items and lane records for strips flown in the given order and direction.

    Legs that would cross no-fly airspace get turn waypoints around it (`flight.via`), the
    last one before RTL too, so the straight return home is clear.
    """
    altitude_m = flight.altitude_m

    def detour(p: tuple[float, float], q: tuple[float, float]) -> None:
        for x, y in flight.via(p, q):
            lon, lat = frame.inverse(x, y)
            items.append(_waypoint(float(lat), float(lon), altitude_m))

    x0 = np.array([s.x0 for s in strips])
    y0 = np.array([s.y0 for s in strips])
    x1 = np.array([s.x1 for s in strips])
    y1 = np.array([s.y1 for s in strips])
    length = np.hypot(x1 - x0, y1 - y0)
    ux = np.divide(x1 - x0, length, out=np.zeros_like(length), where=length > 0)
    uy = np.divide(y1 - y0, length, out=np.zeros_like(length), where=length > 0)
    lon0, lat0 = frame.inverse(x0, y0)
    lon1, lat1 = frame.inverse(x1, y1)
    lonw, latw = frame.inverse(x1 + ux * END_OVERSHOOT_M, y1 + uy * END_OVERSHOOT_M)
    lon_d, lat_d = dock_lonlat
    items = [
        MissionItem(MAV.MAV_CMD_NAV_WAYPOINT, MAV.MAV_FRAME_GLOBAL, lat=lat_d, lon=lon_d, alt=dock_alt_amsl),
        MissionItem(MAV.MAV_CMD_NAV_TAKEOFF, MAV.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, lat=lat_d, lon=lon_d,
                    alt=flight.clear_m),
        speed_item(flight.transit),
    ]
    lanes: list[SurveyLane] = []
    here = flight.dock_xy
    for i, s in enumerate(strips):
        detour(here, (s.x0, s.y0))
        here = (s.x1, s.y1)
        first = len(items)
        items.append(_waypoint(float(lat0[i]), float(lon0[i]), altitude_m))
        items.append(speed_item(flight.speed))
        items.append(_trigger(mission_spacing_m(s.spacing, flight.speed) if s.photos > 1 else 1.0))
        if s.photos > 1:
            items.append(_waypoint(float(latw[i]), float(lonw[i]), altitude_m))
        items.append(_trigger(0.0))
        lanes.append(SurveyLane(first, len(items) - 1, (float(lon0[i]), float(lat0[i])),
                                (float(lon1[i]), float(lat1[i])), s.photos, s.spacing))
        items.append(speed_item(flight.transit))
    detour(here, flight.dock_xy)
    items.append(_waypoint(lat_d, lon_d, flight.clear_m))
    items.append(MissionItem(MAV.MAV_CMD_NAV_RETURN_TO_LAUNCH, MAV.MAV_FRAME_MISSION))
    return items, lanes


def build_sortie(p: PlannedSortie, frame: MetricFrame, slot: Slot | None = None) -> Sortie:
    """The mission a planned sortie flies, with its drone and start time when scheduled."""
    items, lanes = mission_items(p.strips, frame, (p.dock.lon, p.dock.lat), p.dock.alt_amsl_m, p.flight)
    survey = p.survey
    return Sortie(
        id=p.id, dock_id=p.dock.id, zone_id=p.zone_id, items=items, duration_s=p.duration_s,
        drone_id=slot.drone_id if slot else None, start_s=slot.start_s if slot else None,
        photo_count=p.photo_count, trigger_distance_m=round(survey.trigger_m, 3),
        altitude_agl_m=survey.altitude_m, footprint_m=(survey.footprint_across_m, survey.footprint_along_m),
        sweep_s=p.sweep_s, lanes=lanes, gsd_cm=round(survey.gsd_m * 100, 2),
        strip_spacing_m=round(survey.spacing_m, 2), replaces=p.replaces,
    )


def build_sorties(sorties: Sequence[PlannedSortie], schedule: Schedule, frame: MetricFrame) -> list[Sortie]:
    """Every planned sortie's mission, in the given order, each on its scheduled drone."""
    return [build_sortie(p, frame, schedule.slots[p]) for p in sorties]
