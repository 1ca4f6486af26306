"""What one planning run is about, fixed once: the zones in metres, the docks that fly them, the
surveys, the frame and the no-fly airspace (`Problem`); and what packing learns on the way and
later packings reuse (`Memo`). Both are handed down explicitly instead of as loose arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from detector.geo import MetricFrame
from flight.assets import Dock, NoFlyZone, PatrolZone
from flight.planner.airspace import Airspace, airspace_near
from flight.planner.errors import PlanningError
from flight.planner.plan import DockInfo, DroneInfo
from flight.planner.sorties import Flight
from flight.planner.survey import Survey, survey_for

MIN_PIECE_M2 = 1.0

Layouts = dict[tuple[str, str], dict[tuple[int, int], tuple[int, int]]]  # (dock, zone) → each quarter's layout


@dataclass(frozen=True)
class Site:
    """A dock with drones, in metres, and the drone whose limits its sorties respect."""

    info: DockInfo
    xy: tuple[float, float]
    flyer: DroneInfo
    airspace: Airspace | None = None

    def flight(self, altitude_m: float) -> Flight:
        return Flight(self.flyer.spec, self.xy, altitude_m, self.airspace)

    def reach_m(self, altitude_m: float) -> float:
        return self.flight(altitude_m).reach_m


@dataclass(frozen=True)
class Problem:
    """The zones (with each one's area less no-fly airspace), the docks with drones as sites, each
    (dock, zone) survey, the metric frame and the no-fly airspace in it."""

    zones: tuple[PatrolZone, ...]
    areas: tuple[BaseGeometry, ...]
    docks: tuple[DockInfo, ...]  # every dock, staffed or not, as the plan lists them
    sites: tuple[Site, ...]
    surveys: Mapping[tuple[str, str], Survey]
    frame: MetricFrame
    no_fly_m: BaseGeometry | None

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        return unary_union(self.areas).bounds

    @property
    def priority(self) -> dict[str, int]:
        return {z.id: z.priority for z in self.zones}


@dataclass
class Memo:
    """What packing remembers between packings of one run.

    `shapes`: per (dock, zone), the sweep direction and which of cells or comb won; a later
    packing of a slightly moved piece packs it only that way, along that direction, at a
    fraction of the cost (kept for the whole run). `layouts`: per (dock, zone), each quarter's
    layout (`cover._mixed`), judged afresh in each balancing round (`next_round`) and then kept
    while borders move.
    """

    shapes: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    layouts: Layouts = field(default_factory=dict)

    def next_round(self) -> "Memo":
        return Memo(self.shapes, {})


def dock_info(dock: Dock) -> DockInfo:
    return DockInfo(dock.id, dock.lon, dock.lat, dock.alt_amsl_m, dock.charge_time_min,
                    tuple(DroneInfo(d.id, d.spec, d.camera) for d in dock.drones))


def problem_for(zones: Sequence[PatrolZone], no_fly: Sequence[NoFlyZone], docks: Sequence[Dock]) -> Problem:
    """The checked problem: PlanningError for no zone, no drone, a zone inside no-fly airspace or out of reach."""
    if not zones:
        raise PlanningError("plan", "zones", [], "nothing to plan", "at least one patrol zone")
    infos = tuple(dock_info(d) for d in docks)
    if not any(d.drones for d in infos):
        raise PlanningError("plan", "docks", [d.id for d in docks], "no dock has a drone", "docks with drones")
    frame = MetricFrame.for_geometry(unary_union([z.area for z in zones]))
    no_fly_m = unary_union([frame.to_metric(n.area) for n in no_fly]) if no_fly else None
    sites = []
    for d in infos:
        if d.drones:
            x, y = frame.forward(d.lon, d.lat)
            sites.append(Site(d, (float(x), float(y)), d.flyer, airspace_near(no_fly_m, (float(x), float(y)), d.flyer)))
    surveys = {(s.info.id, z.id): survey_for(z, s.flyer.camera, s.flyer.spec) for z in zones for s in sites}
    areas = [_coverage_area(frame.to_metric(z.area), no_fly_m) for z in zones]
    for z, area in zip(zones, areas):
        if area.area <= MIN_PIECE_M2:
            raise PlanningError(f"patrol zone {z.id!r}", "area", f"{frame.to_metric(z.area).area / 1e6:.3f} km²",
                                "the zone lies entirely inside no-fly airspace ("
                                + ", ".join(n.id for n in no_fly if n.area.intersects(z.area)) + ")",
                                "a zone with some area outside every no-fly zone")
        _check_reach(z, area, sites, frame)
    return Problem(tuple(zones), tuple(areas), infos, tuple(sites), surveys, frame, no_fly_m)


def _coverage_area(zone_m: BaseGeometry, no_fly_m: BaseGeometry | None) -> BaseGeometry:
    area = shapely.make_valid(zone_m)
    return area.difference(no_fly_m) if no_fly_m is not None else area


def _check_reach(zone: PatrolZone, area: BaseGeometry, sites: list[Site], frame: MetricFrame) -> None:
    """Every part of the zone must be within one battery's round trip of some dock."""
    reach = unary_union([Point(s.xy).buffer(s.reach_m(zone.altitude_agl_m), 64) for s in sites])
    outside = area.difference(reach)
    if outside.area > MIN_PIECE_M2:
        far = shapely.get_coordinates(outside)
        d = np.min([np.hypot(far[:, 0] - s.xy[0], far[:, 1] - s.xy[1]) for s in sites], axis=0)
        x, y = far[int(np.argmax(d))]
        lon, lat = frame.inverse(x, y)
        best = max(s.reach_m(zone.altitude_agl_m) for s in sites)
        raise PlanningError(f"patrol zone {zone.id!r}", "area", f"{outside.area / 1e6:.2f} km² unreachable",
                            f"no dock in range: the point ({lon:.5f}, {lat:.5f}) is {d.max() / 1000:.1f} km from the "
                            f"nearest dock, but a sortie reaches at most {best / 1000:.1f} km out and back",
                            "a dock within one battery's round trip of every part of the zone")
