"""Intake and bad input on the ops API: Open311, alarm webhook, CAP 1.2; each refusal names the field.

The service here holds a controller whose links lead to no vehicle: nothing flies, tasks queue.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from flight.fleet.controller import FleetController
from flight.mavlink.clock import ScaledClock
from flight.ops.app import make_app
from flight.ops.cron import Cron, CronError
from flight.ops.service import OpsService, OpsSettings
from flight.ops.store import TaskStore
from flight.ops.world import World
from tests.flight.ops_world import CODES, KEEP_IN, LAT, LON, NO_FLY, SERVICES, START, ZONE, docks, flood_points, point

CAP = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>QZ-MET-2026-0620-001</identifier>
  <sender>衢州市气象台 Quzhou Meteorological Observatory</sender>
  <sent>2026-06-20T08:05:00+08:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>{event}</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>2026-06-20T20:00:00+08:00</expires>
    <area>
      <areaDesc>衢州市区 Quzhou urban core</areaDesc>
      <polygon>{polygon}</polygon>
    </area>
  </info>
</alert>"""


def cap_polygon(d: float = 0.0045) -> str:
    ring = [(LAT - d, LON - d), (LAT - d, LON + d), (LAT + d, LON + d), (LAT + d, LON - d), (LAT - d, LON - d)]
    return " ".join(f"{lat},{lon}" for lat, lon in ring)


def call(tmp_path, requests, store_path=None):
    """Run (method, url, kwargs) requests against a fresh service; responses and the service back."""
    async def go():
        clock = ScaledClock(1.0, start_utc=START)
        dock_set = docks()
        drones = [d for dock in dock_set for d in dock.drones]
        controller = FleetController([replace(d, endpoint="udpin:127.0.0.1:0", system_id=i + 1)
                                      for i, d in enumerate(drones)], clock)
        await controller.start()  # links open on 127.0.0.1; no vehicle behind them
        world = World(dock_set, (ZONE,), (NO_FLY,), keep_in=KEEP_IN)
        store = TaskStore(store_path or tmp_path / "ops.sqlite")
        service = OpsService(world, controller, store, clock, OpsSettings(type_codes=CODES),
                             flood_points=flood_points())
        transport = httpx.ASGITransport(app=make_app(service, SERVICES))
        async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
            out = [await client.request(m, u, **kw) for m, u, kw in requests]
        controller.close()
        store.close()
        return out, service
    return asyncio.run(go())


def fields(response) -> list[str]:
    return [".".join(str(p) for p in d["loc"][1:]) for d in response.json()["detail"]]


def test_bad_tasks_get_a_4xx_naming_the_field(tmp_path):
    past = (START - timedelta(hours=1)).isoformat()
    far = {"type": "Point", "coordinates": [LON + 0.15, LAT + 0.15]}  # in the city, 20 km from every dock
    outside = {"type": "Point", "coordinates": [LON + 0.3, LAT]}
    nofly = {"type": "Point", "coordinates": NO_FLY.area.centroid.coords[0]}
    (reach, keep_in, no_fly, code, when, cron, geo, kind), _ = call(tmp_path, [
        ("POST", "/v1/tasks", {"json": {"where": far}}),
        ("POST", "/v1/tasks", {"json": {"where": outside}}),
        ("POST", "/v1/tasks", {"json": {"where": nofly}}),
        ("POST", "/v1/tasks", {"json": {"where": point(0, 0), "type_code": "ufo"}}),
        ("POST", "/v1/tasks", {"json": {"where": point(0, 0), "kind": "timed", "at": past}}),
        ("POST", "/v1/tasks", {"json": {"where": point(0, 0), "kind": "timed", "cron": "61 * * * *"}}),
        ("POST", "/v1/tasks", {"json": {"where": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}}),
        ("POST", "/v1/tasks", {"json": {"where": point(0, 0), "kind": "someday"}}),
    ])
    assert reach.status_code == 422 and fields(reach) == ["where"] and "reach" in reach.text
    assert keep_in.status_code == 422 and "city boundary" in keep_in.text
    assert no_fly.status_code == 422 and "no-fly" in no_fly.text and "nf1" in no_fly.text
    assert code.status_code == 422 and fields(code) == ["type_code"] and "ufo" in code.text
    assert when.status_code == 422 and fields(when) == ["at"] and "past" in when.text
    assert cron.status_code == 422 and fields(cron) == ["cron"] and "minute" in cron.text
    assert geo.status_code == 422 and fields(geo) == ["where"]
    assert kind.status_code == 422 and fields(kind) == ["kind"]


def test_open311_request_becomes_an_immediate_task_and_bad_ones_name_the_field(tmp_path):
    good = {"service_code": "exposed_garbage", "lat": str(LAT + 0.001), "long": str(LON + 0.001),
            "description": "垃圾 rubbish"}
    (services, created, no_code, unknown, no_lat, bad_long, not_form), service = call(tmp_path, [
        ("GET", "/services.json", {}),
        ("POST", "/requests.json", {"data": good}),
        ("POST", "/requests.json", {"data": {**good, "service_code": ""}}),
        ("POST", "/requests.json", {"data": {**good, "service_code": "ufo"}}),
        ("POST", "/requests.json", {"data": {k: v for k, v in good.items() if k != "lat"}}),
        ("POST", "/requests.json", {"data": {**good, "long": "east"}}),
        ("POST", "/requests.json", {"content": b"\xff\xfe", "headers": {"content-type": "application/x-www-form-urlencoded"}}),
    ])
    assert {s["service_code"] for s in services.json()} == CODES
    assert created.status_code == 201
    [receipt] = created.json()
    task = service.tasks[receipt["service_request_id"]]
    assert task.kind.value == "immediate" and task.source.value == "open311" and task.type_code == "exposed_garbage"
    assert task.where["coordinates"] == [LON + 0.001, LAT + 0.001]
    for response, name in ((no_code, "service_code"), (unknown, "service_code"), (no_lat, "lat"), (bad_long, "long"),
                           (not_form, "body")):
        assert response.status_code == 400 and response.json()[0]["code"] == 400
        assert response.json()[0]["description"].startswith(name), response.text


def test_alarm_webhook_and_cap_alert(tmp_path):
    alarm = {"id": "cam-17-0001", "type": "burning_smoke", "priority": 1, "geometry": point(0.001, 0.0)}
    (bad_type, good_alarm, cap, cap_bad_poly, cap_not_xml, cap_no_id, cap_wind, missing), service = call(tmp_path, [
        ("POST", "/v1/alarms", {"json": alarm}),
        ("POST", "/v1/alarms", {"json": {**alarm, "type": "illegal_structure"}}),
        ("POST", "/v1/cap", {"content": CAP.format(event="暴雨红色预警 Rainstorm red warning", polygon=cap_polygon()),
                             "headers": {"content-type": "application/cap+xml"}}),
        ("POST", "/v1/cap", {"content": CAP.format(event="暴雨 rainstorm", polygon="28.9,118.8 28.95,118.9")}),
        ("POST", "/v1/cap", {"content": b"<alert><unclosed>"}),
        ("POST", "/v1/cap", {"content": CAP.format(event="暴雨", polygon=cap_polygon()).replace(
            "<identifier>QZ-MET-2026-0620-001</identifier>", "")}),
        ("POST", "/v1/cap", {"content": CAP.format(event="大风蓝色预警 gale warning", polygon=cap_polygon())}),
        ("GET", "/v1/tasks/T99999", {}),
    ])
    assert bad_type.status_code == 422 and fields(bad_type) == ["type"]
    assert good_alarm.status_code == 201 and good_alarm.json()["source"] == "alarm"
    assert good_alarm.json()["priority"] == 1 and good_alarm.json()["ref"] == "cam-17-0001"
    assert cap.status_code == 201, cap.text
    sweep = cap.json()
    assert sweep["kind"] == "sweep" and sweep["source"] == "cap" and sweep["ref"] == "QZ-MET-2026-0620-001"
    assert sweep["priority"] == 1 and sweep["status"] == "queued"
    assert cap_bad_poly.status_code == 422 and fields(cap_bad_poly) == ["info.area.polygon[0]"]
    assert cap_not_xml.status_code == 422 and fields(cap_not_xml) == ["body"]
    assert cap_no_id.status_code == 422 and fields(cap_no_id) == ["alert.identifier"]
    assert cap_wind.status_code == 422 and fields(cap_wind) == ["info.event"]
    assert missing.status_code == 404


def test_tasks_survive_a_restart(tmp_path):
    db = tmp_path / "kept.sqlite"
    at = (START + timedelta(days=1)).isoformat()
    (timed, immediate), _ = call(tmp_path, [
        ("POST", "/v1/tasks", {"json": {"where": point(0.001, 0.001), "kind": "timed", "at": at}}),
        ("POST", "/v1/tasks", {"json": {"where": point(0.001, 0.001), "priority": 1}}),
    ], store_path=db)
    (listed, another), _ = call(tmp_path, [("GET", "/v1/tasks", {}),
                                           ("POST", "/v1/tasks", {"json": {"where": point(0.001, 0.0)}})],
                                store_path=db)
    got = {t["id"]: t for t in listed.json()["tasks"]}
    assert got[timed.json()["id"]]["status"] == "waiting"
    assert got[timed.json()["id"]]["due"] == timed.json()["due"]
    assert got[immediate.json()["id"]]["status"] == "queued" and got[immediate.json()["id"]]["priority"] == 1
    assert another.json()["id"] == "T00003"  # numbering carries on: no id is handed out twice


def test_cron_reads_asia_shanghai():
    daily_8 = Cron.parse("0 8 * * *")
    before = datetime(2026, 6, 20, 0, 30, tzinfo=timezone.utc)  # 08:30 in Quzhou: today's 08:00 is gone
    assert daily_8.next_after(before) == datetime(2026, 6, 21, 0, 0, tzinfo=timezone.utc)
    weekdays = Cron.parse("*/30 9-10 * * 1-5")
    saturday = datetime(2026, 6, 20, 3, 0, tzinfo=timezone.utc)  # Sat 11:00 CST → Mon 09:00 CST
    assert weekdays.next_after(saturday) == datetime(2026, 6, 22, 1, 0, tzinfo=timezone.utc)
    for bad in ("* * *", "0 25 * * *", "*/0 * * * *", "a b c d e"):
        with pytest.raises(CronError):
            Cron.parse(bad)


def test_drone_actions_and_openapi(tmp_path):
    (pause, listed, resume, ret, unknown, bad_action, docs), service = call(tmp_path, [
        ("POST", "/v1/drones/a/pause", {}),
        ("GET", "/v1/drones", {}),
        ("POST", "/v1/drones/a/resume", {}),
        ("POST", "/v1/drones/a/return", {}),
        ("POST", "/v1/drones/zz/pause", {}),
        ("POST", "/v1/drones/a/explode", {}),
        ("GET", "/openapi.json", {}),
    ])
    assert pause.status_code == 200 and pause.json()["status"] == "paused"
    assert {d["id"]: d["status"] for d in listed.json()["drones"]}["a"] == "paused"
    assert resume.status_code == 200 and resume.json()["status"] == "offline"  # never heard from: no links here
    assert ret.status_code == 409 and "not flying" in ret.text
    assert unknown.status_code == 404 and bad_action.status_code == 422
    assert docs.status_code == 200 and "/v1/drones/{drone_id}/{action}" in docs.json()["paths"]
