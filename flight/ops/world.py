"""The city as the service sees it, in one metric frame: docks, zones, no-fly (keep-out) and the
city boundary (keep-in). Turns a task's GeoJSON into the zone it is photographed as, or says why not."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from detector.geo import MetricFrame
from flight.assets import Dock, NoFlyZone, PatrolZone
from flight.ops.errors import TaskRejected
from flight.planner.problem import dock_info
from flight.planner.sorties import Flight, dock_flight

MAX_TASK_AREA_M2 = 1.0e6  # an immediate task is a point or a small polygon; a bigger area is a patrol zone


@dataclass(frozen=True)
class World:
    docks: tuple[Dock, ...]
    zones: tuple[PatrolZone, ...]
    no_fly: tuple[NoFlyZone, ...] = ()
    keep_in: BaseGeometry | None = None  # city boundary, lon/lat
    point_size_m: float = 100.0  # a point task is photographed as a square this size
    frame: MetricFrame = field(init=False)
    _flights: dict = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        pts = [Point(d.lon, d.lat) for d in self.docks] + [z.area for z in self.zones]
        object.__setattr__(self, "frame", MetricFrame.for_geometry(unary_union(pts)))

    @cached_property
    def no_fly_m(self) -> BaseGeometry | None:
        return unary_union([self.frame.to_metric(n.area) for n in self.no_fly]) if self.no_fly else None

    @cached_property
    def zones_m(self) -> dict[str, BaseGeometry]:
        return {z.id: self.frame.to_metric(z.area) for z in self.zones}

    def dock(self, dock_id: str) -> Dock:
        return next(d for d in self.docks if d.id == dock_id)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self.frame.forward(lon, lat)
        return float(x), float(y)

    def flight(self, dock_id: str, altitude_m: float) -> Flight:
        """How sorties from the dock fly at that altitude (kept: finding the no-fly airspace in reach is slow)."""
        key = (dock_id, altitude_m)
        if key not in self._flights:
            self._flights[key] = dock_flight(dock_info(self.dock(dock_id)), altitude_m, self.frame, self.no_fly_m)
        return self._flights[key]

    def settings_zone(self, where_m: BaseGeometry) -> PatrolZone:
        """The patrol zone whose altitude and overlaps (its GSD) a task here is flown at: the one it
        lies in, else the nearest."""
        c = where_m.centroid
        return min(self.zones, key=lambda z: (not self.zones_m[z.id].contains(c), self.zones_m[z.id].distance(c)))

    def task_zone(self, task_id: str, where: BaseGeometry) -> PatrolZone:
        """The task's area as a zone to plan, checked against keep-in, keep-out and every dock's reach."""
        if self.keep_in is not None and not self.keep_in.intersects(where):
            raise TaskRejected("where", _short(where), "outside the city boundary (keep-in geofence)")
        where_m = self.frame.to_metric(where)
        if where.geom_type == "Point":
            half = self.point_size_m / 2
            where_m = where_m.buffer(half, cap_style="square")
        if where_m.area > MAX_TASK_AREA_M2:
            raise TaskRejected("where", _short(where), f"{where_m.area / 1e6:.2f} km² is too big for a task "
                               f"(at most {MAX_TASK_AREA_M2 / 1e6:g} km²); make it a patrol zone")
        if self.no_fly_m is not None and where_m.difference(self.no_fly_m).area < 1.0:
            names = ", ".join(n.id for n in self.no_fly if n.area.intersects(where))
            raise TaskRejected("where", _short(where), f"inside no-fly airspace ({names})")
        template = self.settings_zone(where_m)
        c = where_m.centroid
        reach = {d.id: self.flight(d.id, template.altitude_agl_m).reach_m for d in self.docks if d.drones}
        near = {k: math.dist(self.xy(self.dock(k).lon, self.dock(k).lat), (c.x, c.y)) for k in reach}
        if not any(near[k] + math.sqrt(where_m.area) <= reach[k] for k in reach):
            best = min(near, key=near.get)
            raise TaskRejected("where", _short(where), f"outside every dock's reach: nearest dock {best} is "
                               f"{near[best] / 1000:.1f} km away, a sortie reaches {reach[best] / 1000:.1f} km")
        return PatrolZone(task_id, f"task {task_id}", self.frame.to_lonlat(where_m), template.altitude_agl_m,
                          template.front_overlap, template.side_overlap, priority=1)


def _short(geom: BaseGeometry) -> str:
    c = geom.centroid
    return f"{geom.geom_type} near ({c.x:.5f}, {c.y:.5f})"
