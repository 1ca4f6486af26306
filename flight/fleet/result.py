"""What a fleet run hands back: sortie outcomes, captures, tracks, re-plans, link counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from detector.capture import Capture
from detector.geo import MetricFrame
from flight.fleet.captures import footprint_m
from flight.mission import Sortie
from flight.planner.footprints import footprint_polygons


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
    new_sorties: list[str]  # filled in when the re-plan is done
    at_s: float  # clock seconds when the drone stopped short and its rest was handed to the re-planner
    done_s: float | None = None  # clock seconds when the re-plan came back


@dataclass
class FleetResult:
    outcomes: list[SortieOutcome]
    captures: list[Capture]
    tracks: dict[str, list[tuple[float, float, float, float]]]  # drone → (t_s, lat, lon, alt_rel_m)
    replans: list[Replan]
    unflown: list[str]  # sortie ids no drone could take
    failed_drones: list[str]
    link_counters: dict[str, dict[str, int]] = field(default_factory=dict)
    unflown_reasons: dict[str, dict[str, str]] = field(default_factory=dict)  # sortie → drone → why not flown
    heard_while_replanning: int = 0  # messages taken in while a re-plan ran (the links kept going)
    heartbeat_gap_while_replanning_s: float = 0.0  # longest gap between a drone's heartbeats then (clock s)
    rejoined: list[str] = field(default_factory=list)  # drones given up for silence, heard again and flown on

    def footprints(self, frame: MetricFrame) -> dict[str, BaseGeometry]:
        """Union of photo footprints per drone, in `frame` metres."""
        by_drone: dict[str, list] = {}
        for cap in self.captures:
            by_drone.setdefault(cap.drone_id, []).append(footprint_m(cap, frame))
        return {drone: unary_union(polys) for drone, polys in by_drone.items()}

    def covered(self, frame: MetricFrame) -> BaseGeometry:
        return unary_union(list(self.footprints(frame).values()))

    def footprint_coverage(self, planned: Sequence[Sortie], frame: MetricFrame) -> float:
        """Share of the ground the `planned` sorties' photos were to cover that the photos taken cover."""
        target = shapely.union_all(np.array([shapely.union_all(footprint_polygons(s, frame)) for s in planned
                                             if s.lanes], dtype=object))
        if target.is_empty:
            return 1.0
        return float(target.intersection(self.covered(frame)).area / target.area)

    def to_dict(self) -> dict:
        return {
            "outcomes": [o.__dict__ for o in self.outcomes],
            "captures": len(self.captures),
            "replans": [r.__dict__ for r in self.replans],
            "unflown": self.unflown,
            "unflown_reasons": self.unflown_reasons,
            "heard_while_replanning": self.heard_while_replanning,
            "heartbeat_gap_while_replanning_s": self.heartbeat_gap_while_replanning_s,
            "rejoined": self.rejoined,
            "failed_drones": self.failed_drones,
            "link_counters": self.link_counters,
        }
