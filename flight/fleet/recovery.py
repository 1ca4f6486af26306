"""The unflown rest of an interrupted sortie, as a new sortie another drone can fly.

Used when no planner re-plan is supplied (and as the planner's fallback): keep every item after
the last one reached, start where the camera last fired (so the part of the interrupted leg
already photographed is not flown with the camera on again), camera off in transit, flown to the
resume point at the fastest speed the sortie sets and on from there at the speed in force when it
stopped (a new flight starts at the autopilot's default speed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, replace
from typing import Callable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mission import MissionItem, Sortie
from flight.planner.items import speed_item



@dataclass(frozen=True)
class Stop:
    """A sortie that stopped short, and the fleet as the controller saw it at that moment.

    `handed` are the stopped sortie and the queued sorties of a failed drone: the re-plan decides
    what becomes of them. Every other sortie is flown as it is: `flying` are those in the air,
    `progress` has the last item reached of each sortie flown (or being flown) so far.
    """

    sortie: Sortie
    last_item: int
    resume_at: tuple[float, float] | None  # (lat, lon) of the last photo on the interrupted leg
    reason: str
    now_s: float  # the fleet clock
    failed: frozenset[str]
    handed: tuple[Sortie, ...]
    flying: frozenset[str]
    progress: Mapping[str, int]


# The sorties to fly in place of `stop.handed`. Awaited off the links' path: it may take long.
Replanner = Callable[[Stop], Awaitable[list[Sortie]]]

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


async def remainder_replanner(stop: Stop) -> list[Sortie]:
    """No planner: the stopped sortie's plain remainder, and the failed drone's queue for anyone."""
    rest = remainder_sortie(stop.sortie, stop.last_item, stop.resume_at, stop.reason)
    return rest + [replace(s, drone_id=None) for s in stop.handed if s is not stop.sortie]


def remainder_sortie(sortie: Sortie, last_item: int, resume_at: tuple[float, float] | None, reason: str) -> list[Sortie]:
    """The items left after `last_item`, as a sortie of its own (none if only the way home is left).

    Its `duration_s` is the stopped sortie's: flying straight to the resume point is no longer
    than the way it was reached, so a drone charged for that much has the battery for the rest."""
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
    base, _, part = sortie.id.rpartition(".r")  # ids this function made: origin.rN
    if not (base and part.isdigit()):
        base, part = sortie.id, "0"
    return [replace(sortie, id=f"{base}.r{int(part) + 1}", items=head + rest, drone_id=None, start_s=None,
                    photo_count=0, lanes=[], replaces=sortie.id, replan_reason=reason)]
