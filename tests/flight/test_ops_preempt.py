"""The controller's preempt: an airborne drone leaves its sortie at a strip boundary for another one.

Simulated ArduCopters over real UDP, 60× clock: drone a surveys a planned 400 × 400 m zone; an
immediate sortie over a small square elsewhere preempts it; the unflown strips are re-planned
and flown by drone b, and nothing of the zone is left unphotographed.
"""

from __future__ import annotations

import asyncio

from detector.geo import MetricFrame
from flight.assets import Dock, Drone, PatrolZone
from flight.fleet.api import run_fleet
from flight.fleet.sortie import SortieState
from flight.planner import plan_patrol
from flight.sim.survey import square_zone
from flight.sim.swarm import SimSetup
from patrol.rehearsal import SimulatedFleet
from tests.flight.ops_world import CAMERA, LAT, LON, SPEC, ZONE

TASK = PatrolZone("t1", "投诉点 complaint", square_zone(LON + 0.004, LAT + 0.003, 80.0), altitude_agl_m=60.0,
                  front_overlap=0.5, side_overlap=0.3)
DOCKS = [Dock("d1", LON - 0.003, LAT - 0.001, 80.0, 30.0, (Drone("a", SPEC, CAMERA), Drone("b", SPEC, CAMERA)))]


def uncovered(area, result) -> float:
    frame = MetricFrame.for_geometry(area)
    area_m = frame.to_metric(area)
    return area_m.difference(result.covered(frame)).area / area_m.area


def test_preempted_at_strip_boundary_task_flown_and_unflown_strips_flown_by_another_drone():
    plan = plan_patrol([ZONE], [], DOCKS)
    [patrol] = plan.sorties
    patrol.drone_id = "a"
    [task] = plan_patrol([TASK], [], DOCKS).sorties
    task.id = "task-1"
    asked = {}

    def on_start(controller):
        async def preempt_when_surveying():
            for _ in range(2000):
                run = controller.active.get("a")
                if run is not None and run.state == SortieState.SURVEYING and run.captures >= 5:
                    asked["at_item"] = run.last_item
                    controller.preempt("a", task, "complaint 投诉")
                    return
                await asyncio.sleep(0.01)
        asyncio.get_running_loop().create_task(preempt_when_surveying())

    result = asyncio.run(run_fleet(plan, plan.docks, vehicles=SimulatedFleet(SimSetup(speed=60.0, ekf_ready_s=4.0)),
                                   on_start=on_start))
    by_id = {o.sortie_id: o for o in result.outcomes}
    left = by_id[patrol.id]
    assert left.state == "handed_over" and left.interrupted == "complaint 投诉"
    assert not any(lane.start_item <= left.last_item < lane.end_item for lane in patrol.lanes)  # at a boundary
    assert 0 < len(patrol.unflown_lanes(left.last_item)) < len(patrol.lanes)
    assert by_id["task-1"].drone_id == "a" and by_id["task-1"].state == "landed" and by_id["task-1"].captures >= 4
    [replan] = result.replans
    assert replan.from_sortie == patrol.id and replan.new_sorties
    for new in replan.new_sorties:
        assert by_id[new].drone_id == "b" and by_id[new].state == "landed"
    assert uncovered(ZONE.area, result) < 0.005
    assert uncovered(TASK.area, result) < 0.005
    # a left no strip half done: the strips b flew are the unflown ones, so few photos are taken twice
    assert len(result.captures) <= patrol.photo_count + task.photo_count + 3
