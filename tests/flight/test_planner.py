"""flight.planner on test shapes: coverage measured from photo footprints, valid MAVLink, budgets,
clear errors, exports, determinism and re-planning from a partial state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely
from pymavlink import mavutil
from shapely import affinity
from shapely.geometry import LineString, Polygon, box

from detector.camera import CameraModel
from detector.geo import MetricFrame
from flight.assets import Dock, Drone, DroneSpec, NoFlyZone, PatrolZone
from flight.planner import Plan, PlanningError, plan_patrol, replan, survey_for
from flight.planner.exports import geojson, qgc_plan, sortie_path, wpl, write_exports
from flight.planner.border import Packing, even_borders
from flight.planner.comb import Pace
from flight.planner.cover import strips_for_area
from flight.planner.footprints import footprint_polygons
from flight.planner.planner import dock_info
from flight.planner.items import build_sorties
from flight.planner.reassign import steal
from flight.planner.replan import planned_sortie
from flight.planner.sorties import Flight, dock_flight, pack
from flight.sim.copter import Copter, Performance

MAV = mavutil.mavlink
LON0, LAT0 = 118.87, 28.95
FRAME = MetricFrame.around(LON0, LAT0)
X0, Y0 = (float(v) for v in FRAME.forward(LON0, LAT0))
CAMERA = CameraModel(17.3, 13.0, 12.29, 5280, 3956)
SPEC = DroneSpec(cruise_speed_m_s=12.0, climb_rate_m_s=6.0, descent_rate_m_s=5.0, usable_flight_time_min=38.0,
                 reserve_min=5.0, wind_margin=0.1, turn_time_s=6.0, transit_speed_m_s=18.0)


def lonlat(metric_geom):
    """A shape drawn in metres around (LON0, LAT0) → lon/lat."""
    return FRAME.to_lonlat(affinity.translate(metric_geom, X0, Y0))


def zone(metric_geom, zid="z", altitude=100.0, front=0.3, side=0.3, priority=1) -> PatrolZone:
    return PatrolZone(zid, zid, lonlat(metric_geom), altitude, front, side, priority)


def docks_at(*points_km, drones_each=1) -> list[Dock]:
    out = []
    for i, (xk, yk) in enumerate(points_km):
        lon, lat = FRAME.inverse(X0 + xk * 1000, Y0 + yk * 1000)
        drones = tuple(Drone(f"uav-{i}-{j}", SPEC, CAMERA) for j in range(drones_each))
        out.append(Dock(f"dock-{i}", float(lon), float(lat), 50.0, 32.0, drones))
    return out


def coverage(plan: Plan, zones, no_fly=()) -> dict[str, float]:
    """Union of every planned photo footprint ∩ zone (less no-fly) / that area, per zone."""
    frame = MetricFrame(plan.epsg)
    banned = shapely.union_all([frame.to_metric(n.area) for n in no_fly]) if no_fly else None
    out = {}
    for z in zones:
        area = frame.to_metric(z.area)
        if banned is not None:
            area = area.difference(banned)
        rects = np.concatenate([footprint_polygons(s, frame) for s in plan.sorties if s.zone_id == z.id])
        out[z.id] = shapely.union_all(rects).intersection(area).area / area.area
    return out


def lane_lines(plan: Plan, frame: MetricFrame):
    return [LineString([frame.forward(*lane.start), frame.forward(*lane.end)])
            for s in plan.sorties for lane in s.lanes if lane.start != lane.end]


L_SHAPE = Polygon([(-3000, -3000), (3000, -3000), (3000, -1000), (-1000, -1000), (-1000, 3000), (-3000, 3000)])
U_SHAPE = Polygon([(-3000, -2500), (3000, -2500), (3000, 2500), (1500, 2500), (1500, -1000), (-1500, -1000),
                   (-1500, 2500), (-3000, 2500)])
HOLED = box(-3000, -3000, 3000, 3000).difference(box(-1000, -800, 1200, 1000))


@pytest.fixture(scope="module")
def u_plan():
    z = zone(U_SHAPE, "u-shape")
    return z, plan_patrol([z], [], docks_at((0, -1.8), (0, -1.7)))


def test_survey_geometry_follows_the_camera_datasheet():
    z = zone(box(0, 0, 100, 100), altitude=100.0, front=0.3, side=0.2)
    s = survey_for(z, CAMERA, SPEC)
    across = 100.0 * 17.3 / 12.29  # ground width = altitude × sensor width / focal length
    along = 100.0 * 13.0 / 12.29
    assert s.footprint_across_m == pytest.approx(across)
    assert s.spacing_m == pytest.approx(across * 0.8)
    assert s.trigger_m == pytest.approx(along * 0.7)
    assert s.gsd_m == pytest.approx(100.0 * 17.3 / 12.29 / 5280)


@pytest.mark.parametrize("name, shape, docks", [
    ("l-shape", L_SHAPE, [(-2, -2)]),
    ("holed", HOLED, [(-2, 0), (2, 0)]),
])
def test_concave_and_holed_zones_are_covered(name, shape, docks):
    z = zone(shape, name)
    plan = plan_patrol([z], [], docks_at(*docks))
    assert coverage(plan, [z])[name] >= 0.995
    # strips stay over the zone: none photographs across the notch or the hole
    frame = MetricFrame(plan.epsg)
    area = frame.to_metric(z.area)
    half_photo = plan.sorties[0].footprint_m[1] / 2
    for line in lane_lines(plan, frame):
        assert line.difference(area.buffer(half_photo)).length < 1.0


def test_u_shape_is_covered_without_sweeping_across_its_gap(u_plan):
    z, plan = u_plan
    assert coverage(plan, [z])["u-shape"] >= 0.995
    frame = MetricFrame(plan.epsg)
    gap = frame.to_metric(lonlat(box(-1400, -900, 1400, 2500)))
    assert all(not line.intersects(gap) for line in lane_lines(plan, frame))


def test_no_fly_strip_is_cut_out_and_never_entered():
    z = zone(box(-3000, -2000, 3000, 2000), "cut")
    strip = NoFlyZone("nf", "strip", lonlat(box(-300, -2500, 300, 2500)))
    plan = plan_patrol([z], [strip], docks_at((-2, 0), (2, 0)))
    assert coverage(plan, [z], [strip])["cut"] >= 0.995
    frame = MetricFrame(plan.epsg)
    banned = frame.to_metric(strip.area)
    assert all(not line.intersects(banned) for line in lane_lines(plan, frame))


def test_legs_to_and_between_strips_go_around_no_fly_airspace():
    z = zone(box(3000, -1500, 6000, 1500), "beyond")
    tower = NoFlyZone("nf", "tower", lonlat(shapely.Point(1500, 0).buffer(700)))
    plan = plan_patrol([z], [tower], docks_at((0, 0)))
    frame = MetricFrame(plan.epsg)
    banned = frame.to_metric(tower.area)
    detoured = 0
    for s in plan.sorties:
        path = LineString([frame.forward(lon, lat) for lon, lat in sortie_path(plan, s)])
        assert not path.intersects(banned)
        detoured += len([i for i in s.items if i.command == MAV.MAV_CMD_NAV_WAYPOINT]) - 1 > 2 * len(s.lanes)
        assert s.duration_s <= SPEC.flight_budget_s
    assert detoured  # the straight way out crosses the tower, so some sorties must go round it
    assert coverage(plan, [z])["beyond"] >= 0.995


def test_forty_km_wide_zone_with_a_dock_row_is_covered():
    z = zone(box(-20000, -1500, 20000, 1500), "wide", altitude=120.0, front=0.2, side=0.2)
    plan = plan_patrol([z], [], docks_at(*[(x, 0) for x in range(-16, 17, 8)]))
    assert coverage(plan, [z])["wide"] >= 0.995
    assert plan.zones[0].coverage >= 0.995


def test_every_item_is_valid_mavlink_and_every_sortie_fits_its_budget(u_plan):
    _, plan = u_plan
    commands = set(MAV.enums["MAV_CMD"]) - {MAV.MAV_CMD_ENUM_END}
    frames = set(MAV.enums["MAV_FRAME"]) - {MAV.MAV_FRAME_ENUM_END}
    frame = MetricFrame(plan.epsg)
    for s in plan.sorties:
        items = s.items
        assert items[0].command == MAV.MAV_CMD_NAV_WAYPOINT and items[0].frame == MAV.MAV_FRAME_GLOBAL
        assert items[1].command == MAV.MAV_CMD_NAV_TAKEOFF and items[1].alt == min(30.0, s.altitude_agl_m)
        assert items[-1].command == MAV.MAV_CMD_NAV_RETURN_TO_LAUNCH
        triggers = [i for i in items if i.command == MAV.MAV_CMD_DO_SET_CAM_TRIGG_DIST]
        assert triggers[0].param1 > 0 and triggers[-1].param1 == 0
        for it in items:
            assert it.command in commands and it.frame in frames
            assert -90 <= it.lat <= 90 and -180 <= it.lon <= 180
            if it.command == MAV.MAV_CMD_NAV_WAYPOINT and it is not items[0]:
                assert it.frame == MAV.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT and 0 < it.alt <= 120
        # the budget, recomputed from the waypoints themselves at the speed each DO_CHANGE_SPEED sets,
        # each leg as long as the slower of its horizontal and vertical parts
        dock = plan.dock(s.dock_id)
        here, speed, leg_speed = frame.forward(dock.lon, dock.lat), SPEC.cruise_speed_m_s, {}
        alt, t = items[1].alt, items[1].alt / SPEC.climb_rate_m_s
        for k, it in enumerate(items[2:], start=2):
            if it.command == MAV.MAV_CMD_DO_CHANGE_SPEED:
                speed = it.param2
            elif it.command == MAV.MAV_CMD_NAV_WAYPOINT:
                there = frame.forward(it.lon, it.lat)
                rate = SPEC.climb_rate_m_s if it.alt > alt else SPEC.descent_rate_m_s
                t += max(math.dist(here, there) / speed, abs(it.alt - alt) / rate)
                here, alt, leg_speed[k] = there, it.alt, speed
        assert math.dist(here, frame.forward(dock.lon, dock.lat)) < 0.01  # RTL starts over the dock
        assert {it.alt for it in items[2:-2] if it.command == MAV.MAV_CMD_NAV_WAYPOINT} == {s.altitude_agl_m}
        assert {leg_speed[lane.start_item] for lane in s.lanes} == {SPEC.transit_speed_m_s}
        assert {leg_speed[lane.end_item - 1] for lane in s.lanes if lane.photos > 1} == {SPEC.cruise_speed_m_s}
        t += alt / SPEC.descent_rate_m_s + SPEC.turn_time_s * (len(s.lanes) - 1)
        assert t <= SPEC.flight_budget_s + 1.0
        assert t == pytest.approx(s.duration_s, abs=0.1 * len(s.lanes))  # end waypoints sit 0.5 m past the last photo
        assert s.duration_s <= SPEC.flight_budget_s
        assert s.trigger_distance_m == pytest.approx(100.0 * 13.0 / 12.29 * 0.7)


def test_wide_share_is_combed_so_sorties_photograph_on_their_way_out_and_home():
    z = zone(box(-4000, -4000, 4000, 4000), "square")
    survey = survey_for(z, CAMERA, SPEC)
    flight = Flight(SPEC, (X0, Y0), z.altitude_agl_m)
    change_s = flight.change_s(survey.spacing_m)
    area = affinity.translate(box(-4000, -4000, 4000, 4000), X0, Y0)
    flown = {}
    for pace in (None, Pace(flight.speed, flight.transit, change_s, SPEC.flight_budget_s, flight.vertical_s)):
        strips = strips_for_area(area, (X0, Y0), survey, flight.speed, change_s, None, 0.0, pace)
        flown[pace is not None] = sum(p.duration_s for p in pack(strips, flight, "square"))
    assert flown[True] < 0.97 * flown[False]  # 8 km wide round one dock: transit sideways is worth photographing

    plan = plan_patrol([z], [], docks_at((0, 0), drones_each=2))
    assert coverage(plan, [z])["square"] >= 0.995
    frame = MetricFrame(plan.epsg)

    def heading(lane) -> int:
        (x0, y0), (x1, y1) = frame.forward(*lane.start), frame.forward(*lane.end)
        return round(math.degrees(math.atan2(y1 - y0, x1 - x0)) % 180.0) % 180

    combed = [s for s in plan.sorties if len({heading(l) for l in s.lanes if l.photos > 1}) == 2]
    assert len(combed) > len(plan.sorties) / 2
    for s in combed[:2]:
        assert_flies_as_planned(plan, s)


@pytest.fixture(scope="module")
def combed_square():
    """The 8 km square round one central dock, combed and packed: (sorties, survey)."""
    z = zone(box(-4000, -4000, 4000, 4000), "square")
    survey = survey_for(z, CAMERA, SPEC)
    flight = Flight(SPEC, (X0, Y0), z.altitude_agl_m)
    change_s = flight.change_s(survey.spacing_m)
    pace = Pace(flight.speed, flight.transit, change_s, SPEC.flight_budget_s, flight.vertical_s)
    area = affinity.translate(box(-4000, -4000, 4000, 4000), X0, Y0)
    packed = pack(strips_for_area(area, (X0, Y0), survey, flight.speed, change_s, None, 0.0, pace), flight, "square")
    return packed, survey


def test_comb_spines_lead_straight_into_their_strips(combed_square):
    """A group's way out ends where its strips start and its way back starts where they end: the
    legs at the corners between a spine and a strip are about one spacing, not a hop back along."""
    packed, survey = combed_square

    def heading(s) -> float:
        return math.atan2(s.y1 - s.y0, s.x1 - s.x0)

    corners = [math.dist((a.x1, a.y1), (b.x0, b.y0)) / survey.spacing_m
               for p in packed for a, b in zip(p.strips, p.strips[1:]) if abs(math.sin(heading(a) - heading(b))) > 0.9]
    assert len(corners) > 40
    assert np.quantile(corners, 0.9) < 1.3  # an odd group still flies back from the far end of its strip


def test_comb_odd_group_flies_back_along_short_strips(combed_square):
    """Each quarter of the square has an odd count of bands, so one group ends at the far end of a
    strip and flies back along it: the innermost group, whose strips the spines cut shortest (an odd
    outermost group flew back 3.9 km, the full length of a quarter's strip)."""
    packed, _ = combed_square
    longest = max(s.length for p in packed for s in p.strips)
    legs = [math.dist((a.x1, a.y1), (b.x0, b.y0)) for p in packed for a, b in zip(p.strips, p.strips[1:])]
    assert max(legs) < 0.6 * longest


def assert_flies_as_planned(plan: Plan, s) -> None:
    """The simulated copter, honouring DO_CHANGE_SPEED, lands within the planned duration; it
    turns in no time, so it may be early by the planned turns (plus one time step per waypoint)."""
    dock = plan.dock(s.dock_id)
    copter = Copter(dock.lat, dock.lon, dock.alt_amsl_m,
                    perf=Performance(SPEC.cruise_speed_m_s, SPEC.climb_rate_m_s, SPEC.descent_rate_m_s))
    copter.store_mission(s.items)
    copter.arm()
    copter.set_mode("GUIDED")
    assert copter.start_mission()
    while copter.armed and copter.t < 2 * SPEC.flight_budget_s:
        copter.step(0.1)
    slack = SPEC.turn_time_s * (len(s.lanes) - 1) + 0.1 * len(s.items)
    assert s.duration_s - slack <= copter.t <= s.duration_s + 0.1 * len(s.items)
    assert len(copter.shots) == s.photo_count


def test_simulated_sorties_fly_in_the_planned_time(u_plan):
    _, plan = u_plan
    for s in plan.sorties[:3]:
        assert_flies_as_planned(plan, s)


def test_faster_transit_shortens_the_plan_and_old_specs_transit_at_survey_speed():
    z = zone(box(-2500, -2500, 2500, 2500), "square")
    slow = DroneSpec(cruise_speed_m_s=12.0, climb_rate_m_s=6.0, descent_rate_m_s=5.0, usable_flight_time_min=38.0,
                     reserve_min=5.0)
    assert slow.transit_speed_m_s == slow.cruise_speed_m_s
    plans = {}
    for spec in (slow, SPEC):
        lon, lat = FRAME.inverse(X0 + 2600, Y0)
        plans[spec.transit_speed_m_s] = plan_patrol([z], [], [Dock("d", float(lon), float(lat), 50.0, 32.0,
                                                                    (Drone("u", spec, CAMERA),))])
    assert plans[18.0].makespan_s < plans[12.0].makespan_s
    with pytest.raises(ValueError, match="transit_speed_m_s"):
        DroneSpec(cruise_speed_m_s=12.0, climb_rate_m_s=6.0, descent_rate_m_s=5.0, usable_flight_time_min=38.0,
                  reserve_min=5.0, transit_speed_m_s=10.0)


def test_schedule_respects_charging_priority_and_the_lower_bound():
    zs = [zone(box(-2500, -2500, 0, 2500), "first", priority=1), zone(box(0, -2500, 2500, 2500), "later", priority=2)]
    plan = plan_patrol(zs, [], docks_at((0, 0), drones_each=2))
    assert plan.lower_bound_s <= plan.makespan_s
    dock = plan.docks[0]
    for drone in dock.drones:
        mine = plan.sorties_of(drone.id)
        for a, b in zip(mine, mine[1:]):
            charge = dock.charge_time_min * 60 * a.duration_s / drone.spec.flight_budget_s
            assert b.start_s >= a.start_s + a.duration_s + charge - 1e-6
    first = [s.start_s for s in plan.sorties if s.zone_id == "first"]
    later = [s.start_s for s in plan.sorties if s.zone_id == "later"]
    assert max(first) <= min(later)
    for drone in dock.drones:  # no recharge follows a drone's last sortie, so its longest goes last
        mine = [s for s in plan.sorties_of(drone.id) if s.zone_id == "later"]
        assert mine[-1].duration_s == max(s.duration_s for s in mine)
    assert plan.makespan_s == pytest.approx(max(s.start_s + s.duration_s for s in plan.sorties), abs=0.1)


def test_priority_first_finishes_priority_one_across_docks_earlier():
    # the urgent zone lies at dock 0; dock 1's drone helps with it only when priority comes first
    zs = [zone(box(-4000, -2500, 0, 2500), "urgent", priority=1), zone(box(6000, -2500, 9000, 2500), "routine", priority=2)]
    docks = docks_at((-2, 0), (2, 0))
    balanced = plan_patrol(zs, [], docks)
    urgent_first = plan_patrol(zs, [], docks, priority_first=True)
    done = {p: {z.id: z.done_s for z in plan.zones} for p, plan in (("b", balanced), ("u", urgent_first))}
    assert done["u"]["urgent"] < 0.8 * done["b"]["urgent"]
    assert {s.dock_id for s in urgent_first.sorties if s.zone_id == "urgent"} == {"dock-0", "dock-1"}
    assert coverage(urgent_first, zs)["urgent"] >= 0.995


def test_evening_out_hands_work_from_an_overloaded_dock_to_its_idle_neighbour():
    # every strip first packed at dock 0; dock 1, 1.5 km away, has nothing to fly
    z = zone(box(-3000, -2500, 3000, 2500), "shared")
    alone = plan_patrol([z], [], docks_at((0, 0)))
    docks = [dock_info(d) for d in docks_at((0, 0), (1.5, 0))]
    frame = MetricFrame(alone.epsg)
    before = max(s.start_s + s.duration_s for s in alone.sorties)
    planned = [planned_sortie(s, docks[0], dock_flight(docks[0], s.altitude_agl_m, frame, None), frame)
               for s in alone.sorties]
    moved_planned, schedule = steal(planned, docks, {"shared": 1}, frame, None)
    sorties = build_sorties(moved_planned, schedule, frame)
    makespan = schedule.makespan_s
    ends = {d: max(s.start_s + s.duration_s for s in sorties if s.drone_id == d) for d in ("uav-0-0", "uav-1-0")}
    assert makespan == pytest.approx(max(ends.values()))
    assert makespan < 0.6 * before  # two drones share what one flew
    cycle = alone.sorties[0].duration_s * (1 + 32.0 * 60 / SPEC.flight_budget_s)
    assert abs(ends["uav-0-0"] - ends["uav-1-0"]) < cycle  # they land within one flight + recharge of each other
    # nothing is lost or flown twice: the same photos, still covering the zone, each sortie in budget
    assert sum(s.photo_count for s in sorties) == sum(s.photo_count for s in alone.sorties)
    moved = Plan(alone.name, alone.epsg, docks, sorties, alone.zones, 0, 0, 0, 0)
    assert coverage(moved, [z])["shared"] >= 0.995
    assert all(s.duration_s <= SPEC.flight_budget_s for s in sorties)
    assert {s.dock_id for s in sorties} == {"dock-0", "dock-1"}


def test_border_moves_from_the_busier_dock_until_both_are_about_as_busy():
    # two docks 4 km apart split an 8 × 5 km zone at x = +1 km: dock 0 has 5/8 of it
    z = zone(box(-4000, -2500, 4000, 2500), "split")
    survey = survey_for(z, CAMERA, SPEC)
    xy = [(X0 - 2000.0, Y0), (X0 + 2000.0, Y0)]
    area = affinity.translate(box(-4000, -2500, 4000, 2500), X0, Y0)

    def repack(i: int, share: list) -> Packing:
        flight = Flight(SPEC, xy[i], z.altitude_agl_m)
        change_s = flight.change_s(survey.spacing_m)
        pace = Pace(flight.speed, flight.transit, change_s, SPEC.flight_budget_s, flight.vertical_s)
        strips = strips_for_area(share[0], xy[i], survey, flight.speed, change_s, None, 0.0, pace)
        packed = pack(strips, flight, f"dock {i}")
        return Packing(share, sum(p.duration_s for p in packed), packed)

    line = X0 + 1000.0
    before = [repack(0, [area.intersection(box(X0 - 5000, Y0 - 3000, line, Y0 + 3000))]),
              repack(1, [area.intersection(box(line, Y0 - 3000, X0 + 5000, Y0 + 3000))])]
    assert before[0].busy_s > before[1].busy_s + 3 * SPEC.flight_budget_s
    after = even_borders(before, xy, repack)
    assert max(p.busy_s for p in after) < before[0].busy_s - 2 * SPEC.flight_budget_s
    assert abs(after[0].busy_s - after[1].busy_s) < SPEC.flight_budget_s / 4  # a slab is any size: not a whole sortie
    a, b = after[0].share[0], after[1].share[0]
    assert a.intersection(b).area < 1.0  # nothing flown twice ...
    assert shapely.symmetric_difference(a.union(b), area).area < 1.0  # ... and nothing dropped
    assert a.area < before[0].share[0].area and a.bounds[2] < line  # the slab went from dock 0 to dock 1


def test_zone_inside_no_fly_airspace_is_refused_by_name():
    z = zone(box(0, 0, 500, 500), "walled-in")
    wall = NoFlyZone("base", "base", lonlat(box(-100, -100, 600, 600)))
    with pytest.raises(PlanningError, match="walled-in.*inside no-fly airspace \\(base\\)"):
        plan_patrol([z], [wall], docks_at((0, 0)))


def test_tiny_zone_plan_is_no_faster_than_its_lower_bound():
    plan = plan_patrol([zone(box(100, 100, 150, 150), "tiny")], [], docks_at((0, 0)))
    assert plan.zones[0].coverage >= 0.995
    assert plan.lower_bound_s <= plan.makespan_s


def test_zone_out_of_reach_is_refused_by_name():
    z = zone(box(30000, 0, 32000, 2000), "far-away")
    with pytest.raises(PlanningError, match="far-away.*no dock in range"):
        plan_patrol([z], [], docks_at((0, 0)))


@pytest.mark.parametrize("field, kwargs", [
    ("altitude_agl_m", {"altitude": 150.0}),
    ("side_overlap", {"side": 0.0}),
    ("front_overlap", {"front": -0.1}),
])
def test_bad_zone_settings_are_refused_by_field(field, kwargs):
    z = zone(box(0, 0, 1000, 1000), "bad-zone", **kwargs)
    with pytest.raises(PlanningError, match=f"bad-zone.*{field}"):
        plan_patrol([z], [], docks_at((0, 0)))


def test_plan_json_round_trip_and_exports(u_plan, tmp_path):
    z, plan = u_plan
    no_fly = [NoFlyZone("nf", "tower", lonlat(box(5000, 5000, 5500, 5500)))]
    files = write_exports(plan, tmp_path, [z], no_fly)
    assert Plan.load(tmp_path) == plan
    s = plan.sorties[0]
    doc = json.loads((tmp_path / "qgc" / f"{s.id}.plan").read_text())
    assert doc["fileType"] == "Plan" and len(doc["mission"]["items"]) == len(s.items) - 1
    assert [i["command"] for i in doc["mission"]["items"]] == [i.command for i in s.items[1:]]
    speeds = [i["params"][1] for i in doc["mission"]["items"] if i["command"] == MAV.MAV_CMD_DO_CHANGE_SPEED]
    assert set(speeds) == {SPEC.cruise_speed_m_s, SPEC.transit_speed_m_s}
    assert doc["geoFence"]["polygons"][0]["inclusion"] is False
    lines = (tmp_path / "wpl" / f"{s.id}.waypoints").read_text().splitlines()
    assert lines[0] == "QGC WPL 110" and len(lines) == len(s.items) + 1
    assert lines[1].split("\t")[:4] == ["0", "1", str(MAV.MAV_FRAME_GLOBAL), str(MAV.MAV_CMD_NAV_WAYPOINT)]
    assert lines[3].split("\t")[:6] == ["2", "0", str(MAV.MAV_FRAME_MISSION), str(MAV.MAV_CMD_DO_CHANGE_SPEED),
                                         "1.000000", f"{SPEC.transit_speed_m_s:.6f}"]
    gj = json.loads((tmp_path / "plan.geojson").read_text())
    kinds = [f["properties"]["kind"] for f in gj["features"]]
    assert kinds.count("zone") == 1 and kinds.count("sortie") == len(plan.sorties)
    assert kinds.count("footprint") == sum(x.photo_count for x in plan.sorties)
    assert len(files) == 2 * len(plan.sorties) + 2


def test_same_input_gives_the_same_plan_bytes(u_plan):
    z, plan = u_plan
    again = plan_patrol([z], [], docks_at((0, -1.8), (0, -1.7)))
    assert json.dumps(again.to_dict()) == json.dumps(plan.to_dict())
    assert wpl(again.sorties[3]) == wpl(plan.sorties[3])
    assert qgc_plan(again, again.sorties[3]) == qgc_plan(plan, plan.sorties[3])
    assert json.dumps(geojson(again, [z])) == json.dumps(geojson(plan, [z]))


def test_replan_flies_only_the_unflown_strips_on_the_drones_left(u_plan):
    z, plan = u_plan
    stopped = next(s for s in plan.sorties_of("uav-0-0")[1:] if len(s.lanes) > 3)
    k = stopped.lanes[2].end_item  # the drone photographed three strips, then went down
    flown_before = [s for s in plan.sorties if s.start_s < stopped.start_s]
    progress = {s.id: len(s.items) - 1 for s in flown_before} | {stopped.id: k}
    now = stopped.start_s + 600.0
    new = replan(plan, progress, {"uav-0-0"}, now)
    assert new.revision == 1
    assert all(s.drone_id == "uav-1-0" for s in new.sorties)
    assert all(s.start_s >= now for s in new.sorties)
    assert not any(s.id in progress for s in new.sorties)
    remainder = [s for s in new.sorties if s.replaces == stopped.id]
    assert sum(s.photo_count for s in remainder) == sum(l.photos for l in stopped.lanes[3:])
    frame = MetricFrame(plan.epsg)
    redo = {(round(l.start[0], 6), round(l.start[1], 6)) for s in remainder for l in s.lanes}
    done = {(round(l.start[0], 6), round(l.start[1], 6)) for l in stopped.lanes[:3]}
    assert not redo & done
    # what was flown plus what is left still covers the zone
    flown = [s for s in flown_before] + [_cut(stopped, 3)]
    both = Plan(plan.name, plan.epsg, plan.docks, flown + new.sorties, plan.zones, 0, 0, 0, 0)
    assert coverage(both, [z])["u-shape"] >= 0.995
    assert new.makespan_s >= new.lower_bound_s
    # a re-planned sortie that stops again is re-planned again, its remainder naming it
    again = remainder[0]
    newer = replan(new, {again.id: again.lanes[0].start_item}, {"uav-0-0"}, again.start_s + 300.0)
    assert newer.revision == 2
    assert sum(s.photo_count for s in newer.sorties if s.replaces == again.id) == again.photo_count > 0


def _cut(s, n):
    from dataclasses import replace

    return replace(s, lanes=s.lanes[:n])


def test_replan_keeps_sorties_still_in_the_air_and_waits_for_their_drones(u_plan):
    _, plan = u_plan
    flying = plan.sorties_of("uav-1-0")[0]
    stopped = plan.sorties_of("uav-0-0")[0]
    now = flying.start_s + 300.0
    new = replan(plan, {stopped.id: stopped.lanes[0].end_item}, set(), now, still_flying={flying.id})
    assert new.sortie(flying.id) == flying
    landed = flying.start_s + flying.duration_s
    later = [s for s in new.sorties if s.drone_id == "uav-1-0" and s.id != flying.id]
    assert later and min(s.start_s for s in later) >= landed
    # the stopped drone is not failed: it flies again after recharging what it used
    again = [s for s in new.sorties if s.drone_id == "uav-0-0"]
    assert again and min(s.start_s for s in again) > now
    assert not any(s.id == stopped.id for s in new.sorties)
