"""Missions for tasks: an area's photo grid from one dock (through the planner, at the zone's GSD),
and a multi-point route that photographs each point once (the emergency sweep)."""

from __future__ import annotations

from dataclasses import replace

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.assets import Dock, NoFlyZone, PatrolZone
from flight.mission import MissionItem, Sortie
from flight.planner import plan_patrol
from flight.planner.items import speed_item
from flight.planner.sorties import Flight

REL = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
PHOTO_HOLD_S = 2.0  # hover over a point before the shot: the gimbal settles, the image is sharp


def area_sorties(task_id: str, zone: PatrolZone, dock: Dock, no_fly: tuple[NoFlyZone, ...]) -> list[Sortie]:
    """The task area photographed completely from `dock`, as the planner would a patrol zone."""
    plan = plan_patrol([zone], list(no_fly), [dock], name=task_id)
    return [replace(s, id=f"{task_id}.{i}", drone_id=None, start_s=None)
            for i, s in enumerate(plan.sorties)]


def point_route(sortie_id: str, dock: Dock, points: list[tuple[float, float]], flight: Flight,
                duration_s: float, task_id: str) -> Sortie:
    """Take off from `dock`, fly to each (lon, lat) in order, hold, take one photo, and come home.

    Shape as the planner's missions: home slot, take-off to the clear height, transit speed; per
    point a LOITER_TIME over it then DO_SET_CAM_TRIGG_DIST (trigger once) and 0; the waypoint over
    the dock at the clear height and RTL."""
    alt = flight.altitude_m
    items = [MissionItem(mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_FRAME_GLOBAL, lat=dock.lat, lon=dock.lon,
                         alt=dock.alt_amsl_m),
             MissionItem(mavlink.MAV_CMD_NAV_TAKEOFF, REL, lat=dock.lat, lon=dock.lon, alt=flight.clear_m),
             speed_item(flight.transit)]
    for lon, lat in points:
        items += [MissionItem(mavlink.MAV_CMD_NAV_LOITER_TIME, REL, param1=PHOTO_HOLD_S, lat=lat, lon=lon, alt=alt),
                  MissionItem(mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, mavlink.MAV_FRAME_MISSION, param1=1.0, param3=1.0),
                  MissionItem(mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, mavlink.MAV_FRAME_MISSION, param1=0.0)]
    items += [MissionItem(mavlink.MAV_CMD_NAV_WAYPOINT, REL, lat=dock.lat, lon=dock.lon, alt=flight.clear_m),
              MissionItem(mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, mavlink.MAV_FRAME_MISSION)]
    return Sortie(id=sortie_id, dock_id=dock.id, zone_id=task_id, items=items, duration_s=round(duration_s, 3),
                  photo_count=len(points), altitude_agl_m=alt)
