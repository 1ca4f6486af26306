"""Flying flight.planner output: the home slot on both autopilots, and re-planning through the planner."""

from __future__ import annotations

import asyncio

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from detector.camera import CameraModel
from detector.geo import MetricFrame
from flight.assets import Dock, Drone, DroneSpec, PatrolZone
from flight.fleet.api import run_fleet
from flight.fleet.hub import DroneLink
from flight.fleet.sortie import FleetSettings, wire_items
from flight.fleet.telemetry import VehicleState
from flight.mavlink.flavours import ARDUPILOT, PX4
from flight.planner import plan_patrol
from flight.sim.survey import lawnmower_sortie, square_zone
from flight.sim.swarm import SimSetup
from patrol.rehearsal import SimulatedFleet

LON, LAT = 118.87, 28.95
CAMERA = CameraModel(13.2, 8.8, 8.8, 5472, 3648)
SPEC = DroneSpec(cruise_speed_m_s=12, climb_rate_m_s=5, descent_rate_m_s=4, usable_flight_time_min=30, reserve_min=5,
                 transit_speed_m_s=18)
ZONE = PatrolZone("z1", "测试区 test zone", square_zone(LON, LAT, 400.0), altitude_agl_m=60.0, front_overlap=0.5,
                  side_overlap=0.3)
DOCKS = [Dock("d1", LON - 0.003, LAT - 0.001, 80.0, 30.0, (Drone("a", SPEC, CAMERA), Drone("b", SPEC, CAMERA)))]


def _link(flavour, home=None) -> DroneLink:
    return DroneLink(DOCKS[0].drones[0], channel=None, state=VehicleState("a", 1, flavour=flavour, home=home))


def test_home_slot_is_kept_for_ardupilot_and_dropped_for_px4():
    planned = plan_patrol([ZONE], [], DOCKS).sorties[0]
    assert wire_items(_link(ARDUPILOT), planned) == planned.items
    assert wire_items(_link(PX4), planned) == planned.items[1:]
    assert wire_items(_link(PX4), planned)[0].command == mavlink.MAV_CMD_NAV_TAKEOFF
    bare = lawnmower_sortie("s", ZONE.area, CAMERA, 60.0)  # no home slot: ArduPilot gets one in front
    ardu = wire_items(_link(ARDUPILOT, home=(LAT, LON, 80.0)), bare)
    assert ardu[1:] == bare.items and (ardu[0].lat, ardu[0].lon, ardu[0].alt) == (LAT, LON, 80.0)
    assert wire_items(_link(PX4), bare) == bare.items


def test_planned_patrol_low_battery_replanned_by_planner_and_zone_covered():
    plan = plan_patrol([ZONE], [], DOCKS)
    setup = SimSetup(speed=60.0, ekf_ready_s=4.0, initial_soc={"a": 0.45}, endurance_s={"a": 600.0})
    result = asyncio.run(run_fleet(plan, plan.docks, vehicles=SimulatedFleet(setup)))
    by_id = {o.sortie_id: o for o in result.outcomes}
    [replan] = result.replans
    stopped = by_id[replan.from_sortie]
    assert stopped.drone_id == "a" and "below return threshold" in stopped.interrupted
    flown = [t for t, *_ in result.tracks["a"]]
    assert flown[0] < replan.at_s < flown[-1]  # re-planned while drone a was out, on the fleet's clock
    assert replan.done_s > replan.at_s
    assert replan.new_sorties and all("~r1" in s for s in replan.new_sorties)  # the planner's revision 1
    for new in replan.new_sorties:
        assert by_id[new].state == "landed" and by_id[new].drone_id == "b"
    assert result.unflown == [] and result.failed_drones == []
    frame = MetricFrame.for_geometry(ZONE.area)
    zone_m = frame.to_metric(ZONE.area)
    assert zone_m.difference(result.covered(frame)).area / zone_m.area < 0.001
