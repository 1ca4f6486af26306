"""The geo-router on the real Quzhou jurisdictions: bulk equals per-point, borders are deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Point

from dispatch.router import GeoRouter


@pytest.fixture(scope="module")
def router(quzhou_city):
    return GeoRouter(quzhou_city.departments, quzhou_city.taxonomy)


def test_bulk_query_agrees_with_one_point_at_a_time(router, quzhou_city):
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = quzhou_city.district("柯城区").area.union(quzhou_city.district("开化县").area).bounds
    n = 3000
    lon, lat = rng.uniform(x0 - 0.1, x1 + 0.1, n), rng.uniform(y0 - 0.1, y1 + 0.1, n)
    types = rng.integers(0, len(quzhou_city.taxonomy.types), n)
    dept, area = router.route_indices(lon, lat, types)
    one = [router.route_one_indices(lon[i], lat[i], int(types[i])) for i in range(n)]
    assert [tuple(x) for x in one] == list(zip(dept.tolist(), area.tolist()))
    assert len(set(dept.tolist())) > 5  # the sample really spans several departments


def test_every_routed_point_lies_in_its_departments_jurisdiction(router, quzhou_city):
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = np.array([d.area.bounds for d in quzhou_city.districts]).T
    lon = rng.uniform(x0.min(), x1.max(), 2000)
    lat = rng.uniform(y0.min(), y1.max(), 2000)
    types = rng.integers(0, len(quzhou_city.taxonomy.types), 2000)
    dept, _ = router.route_indices(lon, lat, types)
    for i in range(2000):
        d = quzhou_city.departments[dept[i]]
        t = quzhou_city.taxonomy.types[types[i]]
        if d.catch_all:
            local = [x for x in quzhou_city.departments if x.jurisdiction is not None and not x.catch_all
                     and x.jurisdiction.covers(Point(lon[i], lat[i])) and t.code in x.handles]
            assert local == [], (lon[i], lat[i], t.code)
        else:
            assert d.jurisdiction.covers(Point(lon[i], lat[i])) and d.kind in t.handled_by


def test_a_border_point_always_goes_to_the_same_department(router, quzhou_city):
    shared = set(quzhou_city.district("柯城区").area.exterior.coords) & set(quzhou_city.district("衢江区").area.exterior.coords)
    point = Point(sorted(shared)[len(shared) // 2])  # a vertex both district outlines share
    assert quzhou_city.district("柯城区").area.covers(point) and quzhou_city.district("衢江区").area.covers(point)
    routes = {router.route([point.x] * 3, [point.y] * 3, ["road_waterlogging"] * 3)[i].department.id for i in range(3)}
    routes |= {GeoRouter(quzhou_city.departments, quzhou_city.taxonomy).route([point.x], [point.y], ["road_waterlogging"])[0].department.id}
    # Both districts are candidates; 柯城区 has the preferred kind (城市管理), 衢江区 only the second (水利).
    assert routes == {"kecheng-urban"}
    zhifa = router.route([point.x], [point.y], ["exposed_garbage"])[0]
    assert zhifa.department.id == "kecheng-zhifa"  # equal kind rank in both: the district listed first wins


def test_overlaps_go_to_the_better_kind_then_the_first_listed_and_unhandled_types_to_the_catch_all(quzhou_city):
    from shapely.geometry import box

    from dispatch.departments import Department

    tax = quzhou_city.taxonomy

    def dept(id_: str, kind: str, area, catch_all: bool = False) -> Department:
        handles = tuple(t.code for t in tax.types if catch_all or kind in t.handled_by)
        return Department(id_, id_, id_, kind, handles, None, area, "" if area is None else id_, catch_all)

    west, east = box(0, 0, 2, 2), box(1, 0, 3, 2)  # overlap: 1 <= x <= 2
    router = GeoRouter((
        dept("west-zhifa", "综合行政执法", west), dept("east-zhifa", "综合行政执法", east),
        dept("east-urban", "城市管理", east), dept("east-water", "水利", east),
        dept("city", "城市管理", None, catch_all=True),
    ), tax)

    def who(x: float, y: float, code: str) -> str:
        return router.route([x], [y], [code])[0].department.id

    assert who(1.5, 1, "exposed_garbage") == "west-zhifa"      # 综合行政执法 ranks first; both have one: first listed
    assert who(1.5, 1, "road_waterlogging") == "east-urban"    # 城市管理 ranks before 综合行政执法 for waterlogging
    assert who(0.5, 1, "road_waterlogging") == "west-zhifa"    # west has only its third choice
    assert who(0.5, 1, "burning_smoke") == "west-zhifa"
    assert who(5, 5, "exposed_garbage") == "city"              # outside every jurisdiction
    water_only = GeoRouter((dept("water", "水利", west), dept("city", "城市管理", None, catch_all=True)), tax)
    route = water_only.route([1], [1], ["exposed_garbage"])[0]
    assert route.department.id == "city"                       # inside, but nobody local handles it
    assert "本地无处理暴露垃圾的部门" in route.explanation and "no local department handles" in route.explanation
