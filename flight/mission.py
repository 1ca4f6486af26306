"""Mission items and sorties: the planner's output and the fleet controller's input.

Items are MAVLink MISSION_ITEM_INT payloads in spirit: `command` is a MAV_CMD value,
`frame` a MAV_FRAME value, lat/lon in degrees (scaled by 1e7 only on the wire).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class MissionItem:
    command: int
    frame: int
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    lat: float = 0.0
    lon: float = 0.0
    alt: float = 0.0
    autocontinue: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SurveyLane:
    """One photographed strip of a sortie, tied to the mission items that fly it.

    The drone photographs every `spacing_m` from `start` to `end` (lon/lat), `photos` in all.
    `start_item` is the index of the waypoint where the strip starts, `end_item` that of the
    DO_SET_CAM_TRIGG_DIST 0 that closes it: a drone that stopped after reaching item k has
    photographed this strip completely iff k >= end_item.
    """

    start_item: int
    end_item: int
    start: tuple[float, float]
    end: tuple[float, float]
    photos: int
    spacing_m: float


@dataclass
class Sortie:
    """One battery's worth of flight: take off from a dock, survey, come back to it.

    `gsd_cm` and `strip_spacing_m` are the survey it flies (with the altitude, footprint and
    trigger distance). A re-planned sortie names the sortie whose unflown part it flies in
    `replaces`, and why that one stopped in `replan_reason`.
    """

    id: str
    dock_id: str
    zone_id: str
    items: list[MissionItem]
    duration_s: float
    drone_id: str | None = None
    start_s: float | None = None
    photo_count: int = 0
    trigger_distance_m: float = 0.0
    altitude_agl_m: float = 0.0
    footprint_m: tuple[float, float] = (0.0, 0.0)
    sweep_s: float = 0.0
    lanes: list[SurveyLane] = field(default_factory=list)
    gsd_cm: float = 0.0
    strip_spacing_m: float = 0.0
    replaces: str | None = None
    replan_reason: str = ""

    def unflown_lanes(self, last_item: int) -> list[SurveyLane]:
        """Strips not yet fully photographed when the drone stopped after item `last_item`."""
        return [lane for lane in self.lanes if lane.end_item > last_item]
