"""The unflown rest of an interrupted sortie, as a new sortie another drone can fly.

Used when no planner re-plan is supplied (and as the planner's fallback): keep every item after
the last one reached, start where the camera last fired (so the part of the interrupted leg
already photographed is not flown with the camera on again), camera off in transit, flown to the
resume point at the fastest speed the sortie sets and on from there at the speed in force when it
stopped (a new flight starts at the autopilot's default speed).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mission import MissionItem, Sortie
from flight.planner.items import speed_item

# (interrupted sortie, index of last item reached, (lat, lon) of the last photo or None, reason)
Replanner = Callable[[Sortie, int, "tuple[float, float] | None", str], "list[Sortie]"]

_SURVEY = {mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_CMD_NAV_LOITER_TIME}


def leg_start(items: list[MissionItem], index: int) -> int:
    """Index of the positioned NAV item at or before `index`: where the current leg began (-1: none)."""
    for i in range(min(index, len(items) - 1), -1, -1):
        if items[i].command in _SURVEY:
            return i
    return -1


def _trigger(distance_m: float) -> MissionItem:
    return MissionItem(command=mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, frame=mavlink.MAV_FRAME_MISSION,
                       param1=distance_m)


def _photographs(items: list[MissionItem]) -> bool:
    return any(it.command == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST and it.param1 > 0 for it in items)


def remainder_sortie(sortie: Sortie, last_item: int, resume_at: tuple[float, float] | None, reason: str) -> list[Sortie]:
    items = sortie.items
    rest = items[last_item + 1:]
    active = 0.0
    in_force = None
    for it in items[: last_item + 1]:
        if it.command == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST:
            active = it.param1
        elif it.command == mavlink.MAV_CMD_DO_CHANGE_SPEED and it.param2 > 0:
            in_force = it.param2
    if not any(it.command in _SURVEY for it in rest) or (_photographs(items) and not active and not _photographs(rest)):
        return []  # nothing left to fly, or only the way home of a survey
    first_nav = next(it for it in rest if it.command in _SURVEY)
    takeoff = next((it for it in items if it.command == mavlink.MAV_CMD_NAV_TAKEOFF),
                   MissionItem(command=mavlink.MAV_CMD_NAV_TAKEOFF, frame=first_nav.frame, alt=first_nav.alt))
    speeds = [it.param2 for it in items if it.command == mavlink.MAV_CMD_DO_CHANGE_SPEED and it.param2 > 0]
    head = [takeoff, _trigger(0.0)] + ([speed_item(max(speeds))] if speeds else [])
    start = leg_start(items, last_item)
    if resume_at is None and start >= 0:
        resume_at = (items[start].lat, items[start].lon)
    if resume_at is not None:
        head.append(MissionItem(command=mavlink.MAV_CMD_NAV_WAYPOINT, frame=first_nav.frame,
                                lat=resume_at[0], lon=resume_at[1], alt=first_nav.alt))
    if in_force is not None:
        head.append(speed_item(in_force))
    head.append(_trigger(active))
    part = int(sortie.meta.get("part", 0)) + 1
    base = sortie.meta.get("origin", sortie.id)
    meta = {**sortie.meta, "origin": base, "part": part, "replanned_from": sortie.id, "reason": reason}
    left = len(rest) / max(1, len(items))
    return [replace(sortie, id=f"{base}.r{part}", items=head + rest, drone_id=None, start_s=None,
                    duration_s=sortie.duration_s * left, photo_count=0, meta=meta)]
