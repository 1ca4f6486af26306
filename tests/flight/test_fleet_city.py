"""The city rehearsal scaled down: a planned patrol over two docks, one drone lost mid-sortie.

`patrol fly plan/ --sim 23` on the Quzhou plan, in small: the plan from `plan_patrol`, simulated
vehicles in a process of their own, re-plans through the planner in its worker process. Every
sortie must be flown to the end (none cut short by the battery: plan and controller share one
battery model), the lost drone's coverage flown by the others, nothing left unflown, and the
photos' footprints must cover the plan's; the links must be served while the planner works.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from detector.camera import CameraModel
from detector.geo import MetricFrame
from flight.assets import Dock, Drone, DroneSpec, PatrolZone
from flight.fleet.api import run_fleet
from flight.fleet.hub import LinkHub
from flight.fleet.recovery import Stop
from flight.fleet.replanning import PlanReplanner
from flight.mavlink.clock import ScaledClock
from flight.planner import plan_patrol, replan
from flight.sim.faults import Faults
from flight.sim.survey import square_zone
from flight.sim.swarm import SimSetup
from patrol.rehearsal import SimulatedFleet

LON, LAT = 118.87, 28.95
CAMERA = CameraModel(13.2, 8.8, 8.8, 5472, 3648)
# 12-minute flights (2 in reserve): a 1 km² zone takes two sorties from each dock
SPEC = DroneSpec(12, 6, 5, 12, 2, transit_speed_m_s=18)
ZONE = PatrolZone("z1", "测试区 test zone", square_zone(LON, LAT, 1000.0), 60.0, 0.5, 0.3)
DOCKS = [Dock(f"d{k}", LON + dx, LAT + dy, 80.0, 10.0, tuple(Drone(f"uav-{k}{j}", SPEC, CAMERA) for j in range(2)))
         for k, (dx, dy) in enumerate(((-0.004, -0.004), (0.004, 0.004)))]
LOST = "uav-00"


@pytest.fixture(scope="module")
def rehearsal():
    plan = plan_patrol([ZONE], [], DOCKS)
    vehicles = SimulatedFleet(SimSetup(speed=60.0, ekf_ready_s=4.0, faults={LOST: Faults(motor_failure_at_s=150.0)}),
                              processes=1)
    settings = vehicles.settings()
    result = asyncio.run(run_fleet(plan, plan.docks, vehicles=vehicles, settings=settings))
    return plan, result, settings


def test_every_sortie_flown_to_the_end_and_the_lost_drones_coverage_reflown(rehearsal):
    plan, result, _ = rehearsal
    assert len(plan.sorties) >= 4
    assert result.failed_drones == [LOST] and result.unflown == []
    lost = [o for o in result.outcomes if o.state == "failed"]
    assert [o.drone_id for o in lost] == [LOST] and lost[0].reason.startswith("crash")
    others = [o for o in result.outcomes if o.drone_id != LOST]
    # one battery model: nothing was turned home early or hit the vehicle's failsafe, stand-ins included
    assert all(o.state == "landed" and not o.interrupted for o in others), [(o.sortie_id, o.interrupted) for o in others]
    [replan] = result.replans
    assert replan.new_sorties and set(replan.new_sorties) <= {o.sortie_id for o in others}


def test_photo_footprints_cover_the_plan(rehearsal):
    plan, result, _ = rehearsal
    assert result.footprint_coverage(plan.sorties, MetricFrame(plan.epsg)) >= 0.995


def test_links_are_served_while_the_planner_works(rehearsal):
    _, result, settings = rehearsal
    [replan] = result.replans
    assert replan.done_s > replan.at_s
    assert result.heartbeat_gap_while_replanning_s < settings.failed_after_s


def test_heartbeats_keep_coming_while_a_city_sized_replan_runs():
    """The planner's work, timed against the vehicles' heartbeats: in the worker process they keep
    arriving; the same re-plan called inline takes no message in until it returns."""
    zone = replace(ZONE, area=square_zone(LON, LAT, 2000.0))
    docks = [replace(d, lon=LON + 2 * (d.lon - LON), lat=LAT + 2 * (d.lat - LAT)) for d in DOCKS]
    plan = plan_patrol([zone], [], docks)
    stopped = plan.sorties[0]

    async def measure():
        clock = ScaledClock(200.0)  # heartbeats every 5 ms of real time: many fall in a re-plan of ~0.1 s
        vehicles = SimulatedFleet(SimSetup(speed=200.0, ekf_ready_s=1.0))
        hub = LinkHub(vehicles.drones(plan.docks), clock)
        beats: list[float] = []
        hub.listeners.append(lambda dl, msg: beats.append(clock.now()) if msg.get_type() == "HEARTBEAT" else None)
        await hub.open()
        await vehicles.start(hub, clock)
        replanner = PlanReplanner(plan)
        try:
            lost = frozenset(r.id for r in plan.docks[0].drones)  # a dock's drones lost: its queue re-planned
            stop = Stop(stopped, stopped.lanes[0].end_item, None, "lost", clock.now(), lost,
                        tuple(s for s in plan.sorties if s.drone_id in lost), frozenset(), {})
            t0 = clock.now()
            fresh = await replanner(stop)
            t1 = clock.now()
            before = len(beats)
            replan(plan, {stopped.id: stop.last_item}, stop.failed, clock.now())
            inline = len(beats) - before
        finally:
            replanner.close()
            await vehicles.stop()
            hub.close()
        return fresh, [t for t in beats if t0 < t < t1], t1 - t0, inline

    fresh, during, took_s, inline = asyncio.run(measure())
    assert fresh and {s.dock_id for s in fresh} == {plan.docks[1].id}  # flown from the dock that has drones
    assert took_s > 0 and len(during) > 0 and inline == 0
