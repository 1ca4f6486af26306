"""What a fleet run hands back: sortie outcomes, captures, tracks, re-plans, link counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from detector.capture import Capture
from detector.geo import MetricFrame
from flight.fleet.captures import footprint_m


@dataclass
class SortieOutcome:
    sortie_id: str
    drone_id: str
    state: str
    reason: str
    interrupted: str
    last_item: int
    items: int
    captures: int
    started: str | None
    ended: str | None


@dataclass
class Replan:
    from_sortie: str
    drone_id: str
    reason: str
    last_item: int
    new_sorties: list[str]
    at_s: float  # clock seconds when the drone stopped short and its rest was re-planned


@dataclass
class FleetResult:
    outcomes: list[SortieOutcome]
    captures: list[Capture]
    tracks: dict[str, list[tuple[float, float, float, float]]]  # drone → (t_s, lat, lon, alt_rel_m)
    replans: list[Replan]
    unflown: list[str]  # sortie ids no drone could take
    failed_drones: list[str]
    link_counters: dict[str, dict[str, int]] = field(default_factory=dict)

    def footprints(self, frame: MetricFrame) -> dict[str, BaseGeometry]:
        """Union of photo footprints per drone, in `frame` metres."""
        by_drone: dict[str, list] = {}
        for cap in self.captures:
            by_drone.setdefault(cap.drone_id, []).append(footprint_m(cap, frame))
        return {drone: unary_union(polys) for drone, polys in by_drone.items()}

    def covered(self, frame: MetricFrame) -> BaseGeometry:
        return unary_union(list(self.footprints(frame).values()))

    def to_dict(self) -> dict:
        return {
            "outcomes": [o.__dict__ for o in self.outcomes],
            "captures": len(self.captures),
            "replans": [r.__dict__ for r in self.replans],
            "unflown": self.unflown,
            "failed_drones": self.failed_drones,
            "link_counters": self.link_counters,
        }
