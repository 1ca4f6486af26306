"""The whole Quzhou demo city (700 km², 23 drones): every zone covered, every sortie flyable."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pymavlink import mavutil

from detector.geo import MetricFrame
from flight.planner import plan_patrol
from flight.planner.exports import sortie_path
from flight.planner.footprints import footprint_polygons

MAV = mavutil.mavlink


@pytest.fixture(scope="module")
def quzhou_plan(quzhou_city):
    return plan_patrol(quzhou_city.zones, quzhou_city.no_fly, quzhou_city.docks, name="quzhou")


def test_every_quzhou_zone_is_covered(quzhou_city, quzhou_plan):
    frame = MetricFrame(quzhou_plan.epsg)
    banned = shapely.union_all([frame.to_metric(n.area) for n in quzhou_city.no_fly])
    for z in quzhou_city.zones:
        area = frame.to_metric(z.area).difference(banned)
        per_sortie = [shapely.union_all(footprint_polygons(s, frame)) for s in quzhou_plan.sorties if s.zone_id == z.id]
        covered = shapely.union_all(np.array(per_sortie, dtype=object)).intersection(area).area / area.area
        assert covered >= 0.995, (z.id, covered)


def test_quzhou_sorties_fit_the_budget_and_avoid_the_airport(quzhou_city, quzhou_plan):
    frame = MetricFrame(quzhou_plan.epsg)
    airport = frame.to_metric(quzhou_city.no_fly[0].area)
    budgets = {r.id: r.spec.flight_budget_s for d in quzhou_plan.docks for r in d.drones}
    paths = []
    for s in quzhou_plan.sorties:
        assert 0 < s.duration_s <= budgets[s.drone_id]
        assert s.items[-1].command == MAV.MAV_CMD_NAV_RETURN_TO_LAUNCH
        paths.append(shapely.linestrings(np.array([frame.forward(*p) for p in sortie_path(quzhou_plan, s)])))
    # take-off to landing, strips, connecting legs and the way home all stay out of the airport zone
    assert not shapely.intersects(np.array(paths), airport).any()


def test_quzhou_schedule_is_no_better_than_its_lower_bound_and_puts_priority_first(quzhou_city, quzhou_plan):
    assert quzhou_plan.lower_bound_s <= quzhou_plan.makespan_s
    assert all(r.done_s <= quzhou_plan.makespan_s for r in quzhou_plan.zones)
    priority = {z.id: z.priority for z in quzhou_city.zones}
    for dock in quzhou_plan.docks:
        mine = [s for s in quzhou_plan.sorties if s.dock_id == dock.id]
        p1 = [s.start_s for s in mine if priority[s.zone_id] == 1]
        p2 = [s.start_s for s in mine if priority[s.zone_id] == 2]
        if p1 and p2:
            assert max(p1) <= min(p2)
