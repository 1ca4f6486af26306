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


@dataclass
class Sortie:
    """One battery's worth of flight: take off from a dock, survey, come back to it."""

    id: str
    dock_id: str
    zone_id: str
    items: list[MissionItem]
    duration_s: float
    drone_id: str | None = None
    start_s: float | None = None
    photo_count: int = 0
    trigger_distance_m: float = 0.0
    meta: dict = field(default_factory=dict)
