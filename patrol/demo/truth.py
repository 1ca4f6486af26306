"""The demo's own answer key: what was planted, and which department should get each type where.

The expected department is worked out here from the city config alone (district containing the
point, then the taxonomy's order of department kinds), independently of dispatch's router, so
the demo checks the router rather than repeating it.
"""

from __future__ import annotations

from shapely.geometry import Point
from shapely.ops import unary_union

from detector.synth.world import World
from flight.assets import PatrolZone
from patrol.config import City
from patrol.evaluation import Planted


def planted_in(world: World, zones: list[PatrolZone]) -> list[Planted]:
    """Every violation the synthetic world planted inside the patrol zones."""
    area = unary_union([z.area for z in zones])
    return [Planted(v.id, v.code, float(v.lon), float(v.lat)) for v in world.violations(area)]


def expected_department(city: City, type_code: str, lon: float, lat: float) -> str:
    """Id of the department that owns this place and this kind of problem."""
    point = Point(lon, lat)
    district = next((d.name for d in city.districts if d.area.covers(point)), None)
    local = [dep for dep in city.departments if not dep.catch_all and dep.jurisdiction_name == district]
    for kind in city.taxonomy.type(type_code).handled_by:
        for dep in sorted(local, key=lambda d: d.id):
            if dep.kind == kind and type_code in dep.handles:
                return dep.id
    return next(dep.id for dep in city.departments if dep.catch_all)
