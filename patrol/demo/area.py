"""Pick the demo's patrol area: a few km² of Quzhou's urban core that straddles two districts."""

from __future__ import annotations

import math

from shapely.geometry import Point, box
from shapely.ops import unary_union

from flight.assets import Dock, PatrolZone
from patrol.config import City

NO_FLY_MARGIN_M = 300.0


def demo_zones(city: City, area_km2: float, districts: tuple[str, str] = ("柯城区", "衢江区")) -> list[PatrolZone]:
    """A square of `area_km2` centred on the two districts' shared border nearest the city centre,
    cut by the no-fly zones (with a margin) and split along the border: one zone per district.

    Altitude and overlaps come from the city zone the square's centre lies in.
    """
    frame = city.frame
    a, b = (frame.to_metric(city.district(n).area) for n in districts)
    no_fly = unary_union([frame.to_metric(n.area) for n in city.no_fly]).buffer(NO_FLY_MARGIN_M) if city.no_fly else None
    side = math.sqrt(area_km2) * 1000.0
    border = a.boundary.intersection(b.boundary)
    centre_m = Point(frame.forward(*city.info.center))
    anchor = _border_point(border, centre_m, no_fly, clearance=side)
    square = box(anchor.x - side / 2, anchor.y - side / 2, anchor.x + side / 2, anchor.y + side / 2)
    if no_fly is not None:
        square = square.difference(no_fly)
    host = next((z for z in city.zones if z.area.contains(frame.to_lonlat(anchor))), city.zones[0])
    zones = []
    for name, district in zip(districts, (a, b)):
        part = square.intersection(district)
        if part.area < 1.0:
            continue
        zones.append(PatrolZone(
            id=f"demo-{city.district(name).adcode}", name=f"演示区 {name} (demo, {name})",
            area=frame.to_lonlat(part), altitude_agl_m=host.altitude_agl_m,
            front_overlap=host.front_overlap, side_overlap=host.side_overlap, priority=1,
            revisit_period_h=host.revisit_period_h,
        ))
    return zones


def _border_point(border, centre: Point, no_fly, clearance: float) -> Point:
    """The point of the shared border nearest `centre` whose square keeps clear of the no-fly zones."""
    points = [Point(c) for line in getattr(border, "geoms", [border]) for c in getattr(line, "coords", [])]
    points.sort(key=centre.distance)
    for p in points:
        if no_fly is None or p.distance(no_fly) >= clearance * 0.75:
            return p
    return points[0]


def nearest_docks(city: City, zones: list[PatrolZone], count: int) -> list[Dock]:
    """The `count` docks closest to the demo area (each drone needs a dock to start from)."""
    frame = city.frame
    target = unary_union([frame.to_metric(z.area) for z in zones])
    return sorted(city.docks, key=lambda d: Point(frame.forward(d.lon, d.lat)).distance(target))[:count]
