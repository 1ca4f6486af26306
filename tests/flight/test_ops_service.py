"""The ops service over real UDP with simulated ArduCopters: tasks in through the HTTP API,
dispatched with reasons, flown, and the patrol cycle carried on around them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from detector.geo import MetricFrame
from flight.fleet.sortie import SortieState
from flight.ops.tasks import Status
from flight.ops.weather import Weather, WeatherFeed
from flight.planner import plan_patrol
from flight.sim.swarm import SimSetup
from tests.flight.ops_world import (LAT, LON, SPEED, START, ZONE, docks, flood_points, patrol_plan, point, running,
                                    uncovered)
from tests.flight.test_ops_intake import CAP, cap_polygon


def test_complaint_preempts_the_flying_drone_at_a_strip_boundary_and_its_strips_are_flown_later(tmp_path):
    dock_set = docks(d1=("a", "b"), d2=(), charge_min=60.0)
    plan = patrol_plan(dock_set, "a")
    sim = SimSetup(speed=SPEED, ekf_ready_s=4.0, initial_soc={"b": 0.1})  # b must charge first: a is sooner

    async def go():
        async with running(tmp_path, dock_set=dock_set, plan=plan, sim=sim) as ops:
            controller = ops.service.controller
            await ops.until(lambda: (r := controller.active.get("a")) and r.state == SortieState.SURVEYING
                            and r.captures >= 6, what="a surveying")
            got = await ops.client.post("/requests.json", data={
                "service_code": "exposed_garbage", "lat": point(0.001, 0.0015)["coordinates"][1],
                "long": point(0.001, 0.0015)["coordinates"][0], "description": "路边垃圾堆 rubbish by the road"})
            assert got.status_code == 201, got.text
            task_id = got.json()[0]["service_request_id"]
            await ops.until(lambda: ops.task(task_id).status == Status.DONE, 90.0, "complaint flown")
            await ops.until(lambda: ops.service.patrol_progress()["status"] == "done", 120.0, "patrol finished")
            task = (await ops.client.get(f"/v1/tasks/{task_id}")).json()
            return task, ops.service.patrol_progress(), list(controller.runs), list(ops.captures)

    task, progress, runs, captures = asyncio.run(go())
    [dispatched] = [e for e in task["history"] if e["status"] == "dispatched"]
    why = dispatched["why"]
    assert why["chosen"] == "a" and why["airborne"] is True
    by_drone = {c["drone_id"]: c for c in why["candidates"]}
    assert by_drone["b"]["ok"] and "charging" in by_drone["b"]["note"]
    assert by_drone["a"]["eta_s"] < by_drone["b"]["eta_s"] and by_drone["a"]["margin_pct"] > 0
    left = next(r for r in runs if r.sortie.id in {s.id for s in plan.sorties} and r.state == SortieState.HANDED_OVER)
    assert not any(lane.start_item <= left.last_item < lane.end_item for lane in left.sortie.lanes)
    task_id = task["id"]
    flown_task = [r for r in runs if r.sortie.id.startswith(task_id)]
    assert flown_task and all(r.drone_id == "a" and r.complete for r in flown_task)
    assert task["photos"] >= 4 and task["source"] == "open311" and task["type_code"] == "exposed_garbage"
    assert progress["stopped_short"] >= 1 and progress["replans"] >= 1 and progress["open"] == 0
    assert uncovered(ZONE.area, [c for c in captures if not c.sortie_id.startswith(task_id)]) < 0.005


def test_timed_task_starts_at_its_time_on_the_injected_clock(tmp_path):
    at = START + timedelta(minutes=6)

    async def go():
        async with running(tmp_path) as ops:
            got = await ops.client.post("/v1/tasks", json={"kind": "timed", "where": point(0.002, 0.001),
                                                           "at": at.isoformat()})
            assert got.status_code == 201, got.text
            task_id = got.json()["id"]
            assert got.json()["status"] == "waiting"
            await ops.until(lambda: ops.task(task_id).status == Status.DONE, 90.0, "timed task flown")
            runs = [r for r in ops.service.controller.runs if r.sortie.id.startswith(task_id)]
            return ops.task(task_id), runs

    task, runs = asyncio.run(go())
    queued = next(e.time for e in task.history if e.status == Status.QUEUED)
    assert at <= queued <= at + timedelta(seconds=30)
    assert all(r.started >= at for r in runs) and runs[0].complete


def test_conditional_task_waits_for_battery_and_weather_and_the_weather_hold_lifts(tmp_path):
    windy_until = 240.0
    weather = WeatherFeed([(0.0, {"*": Weather(wind_m_s=15.0, gust_m_s=18.0)}),
                           (windy_until, {"*": Weather(wind_m_s=4.0)})])
    sim = SimSetup(speed=SPEED, ekf_ready_s=4.0, initial_soc={"a": 0.4, "b": 0.4, "c": 0.4})

    async def go():
        async with running(tmp_path, sim=sim, weather=weather) as ops:
            await ops.until(lambda: all(d.status.value == "weather_hold" for d in ops.service.drones()),
                            what="weather hold")
            held = (await ops.client.get("/v1/drones")).json()["drones"]
            got = await ops.client.post("/v1/tasks", json={"kind": "conditional", "where": point(-0.001, 0.001),
                                                           "conditions": {"min_battery_pct": 70,
                                                                          "fair_weather": True}})
            task_id = got.json()["id"]
            await ops.until(lambda: ops.task(task_id).status == Status.DISPATCHED, 90.0, "conditions met")
            started = ops.clock.now()
            battery = {d.id: d.battery_pct for d in ops.service.drones()}
            await ops.until(lambda: ops.task(task_id).status == Status.DONE, 90.0, "conditional flown")
            return held, ops.task(task_id), started, battery

    held, task, started, battery = asyncio.run(go())
    assert all("wind 18.0 m/s > limit 12 m/s" in d["reason"] for d in held)
    assert started >= windy_until
    [dispatched] = [e for e in task.history if e.status == Status.DISPATCHED]
    chosen = dispatched.why["chosen"]
    assert battery[chosen] >= 70
    notes = [e.note for e in task.history if e.status == Status.WAITING]
    assert any("no drone can fly it yet" in n for n in notes)
    waiting_why = next(e.why for e in task.history if e.note == "no drone can fly it yet")
    assert all(not c["ok"] for c in waiting_why["candidates"])


def test_cap_rain_alert_sweeps_the_flood_points_inside_it_with_drones_joining_from_their_patrol(tmp_path):
    dock_set = docks(d1=("a", "b"), d2=("c",))
    plan = patrol_plan(dock_set, "a")
    points = flood_points()

    async def go():
        async with running(tmp_path, dock_set=dock_set, plan=plan, points=points) as ops:
            controller = ops.service.controller
            await ops.until(lambda: (r := controller.active.get("a")) and r.state == SortieState.SURVEYING
                            and r.captures >= 4, what="a surveying")
            got = await ops.client.post("/v1/cap", content=CAP.format(event="暴雨红色预警 rainstorm red warning",
                                                                      polygon=cap_polygon(0.0045)),
                                        headers={"content-type": "application/cap+xml"})
            assert got.status_code == 201, got.text
            task_id = got.json()["id"]
            await ops.until(lambda: ops.task(task_id).status == Status.DONE, 120.0, "sweep done")
            return ops.task(task_id), ops.service.sweeps[task_id], list(ops.captures)

    task, plan_made, captures = asyncio.run(go())
    inside = {p.id for p in points if abs(p.lon - LON) <= 0.0045 and abs(p.lat - LAT) <= 0.0045}
    assert set(plan_made.photo_s) == inside and len(inside) == 4
    assert {r.drone_id for r in plan_made.routes} >= {"b", "c"}
    assert any(r.airborne and r.drone_id == "a" for r in plan_made.routes)  # a joins from its patrol
    frame = MetricFrame.for_geometry(ZONE.area)
    sweep_shots = [c for c in captures if c.sortie_id.startswith(task.id)]
    for p in points:
        x, y = frame.forward(p.lon, p.lat)
        near = [c for c in sweep_shots if ((frame.forward(c.pose.lon, c.pose.lat)[0] - x) ** 2
                                           + (frame.forward(c.pose.lon, c.pose.lat)[1] - y) ** 2) ** 0.5 < 5.0]
        assert bool(near) == (p.id in inside), p.id
    assert task.photos == len(inside)
    assert plan_made.last_photo_s >= plan_made.bound_s


def test_patrol_cycle_is_flown_again_when_its_revisit_period_comes_round(tmp_path):
    dock_set = docks(d1=("a",), d2=())
    quick = replace(ZONE, revisit_period_h=0.15)  # every 9 minutes
    plan = plan_patrol([quick], [], dock_set[:1], name="cycle")

    async def go():
        async with running(tmp_path, dock_set=dock_set, plan=plan) as ops:
            patrols = lambda: [t for t in ops.service.tasks.values() if t.kind.value == "patrol"]  # noqa: E731
            await ops.until(lambda: len(patrols()) == 2, 90.0, "second cycle")
            first, second = (t.model_copy(deep=True) for t in patrols())  # as they stand now
            return first, second, (await ops.client.get("/v1/patrol")).json()

    first, second, progress = asyncio.run(go())
    assert first.status == Status.DONE and first.photos > 20
    assert second.created >= first.created + timedelta(hours=0.15)
    assert second.status == Status.DISPATCHED and all(s.endswith("@2") for s in second.sorties)
    assert progress["task"] == second.id and progress["sorties"] == len(plan.sorties)
