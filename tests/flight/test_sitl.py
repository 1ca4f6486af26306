"""The fleet controller against real ArduCopter SITL (../shared/sitl): what it does, on the real autopilot.

One module fixture starts three SITL vehicles at 10× speed-up on one dock: a and b fly normally
(b has ArduPilot's GCS failsafe on), c has a 1.5 Ah battery with ArduPilot's low-battery
failsafe set to RTL. Sorties come from flight.planner over small zones next to the dock, so the
whole module stays within a few minutes. Flight times are read on the vehicle's own boot clock
(GLOBAL_POSITION_INT.time_boot_ms), so a loaded machine that slows SITL does not skew them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from detector.camera import CameraModel
from detector.geo import MetricFrame
from flight.assets import Dock, Drone, DroneSpec, PatrolZone
from flight.fleet.api import run_fleet
from flight.fleet.hub import LinkHub
from flight.fleet.sortie import FleetSettings, launch, upload_verified
from flight.mavlink import mission_protocol as mp
from flight.mavlink.clock import ScaledClock
from flight.mavlink.codec import Codec
from flight.mavlink.errors import MavlinkError, MissionRejected
from flight.mavlink.mission_wire import differences, has_location
from flight.mavlink.params import read_param, set_param
from flight.mission import MissionItem
from flight.planner import plan_patrol
from flight.sim.sitl import Home, SitlMissing, sitl_binary, start_vehicles, stop_vehicles
from flight.sim.survey import square_zone

try:
    sitl_binary()
    MISSING = ""
except SitlMissing as exc:
    MISSING = str(exc)
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "SITL present")

LON, LAT, AMSL = 118.712939, 29.023102, 70.0
SPEED = 10.0
CAMERA = CameraModel(13.2, 8.8, 8.8, 5472, 3648)
SPEC = DroneSpec(cruise_speed_m_s=12, climb_rate_m_s=5, descent_rate_m_s=4, usable_flight_time_min=30, reserve_min=5,
                 transit_speed_m_s=15)
LOW_BATTERY = {"BATT_CAPACITY": 1500, "SIM_BATT_CAP_AH": 1.5, "BATT_LOW_MAH": 500, "BATT_FS_LOW_ACT": 2,
               "BATT_LOW_VOLT": 0, "BATT_CRT_VOLT": 0}
GCS_FAILSAFE = {"FS_GCS_ENABLE": 1, "FS_GCS_TIMEOUT": 3}
SETTINGS = FleetSettings(prearm_timeout_s=120.0)


def zone(dx_m: float, dy_m: float, size_m: float) -> PatrolZone:
    frame = MetricFrame.around(LON, LAT)
    x, y = (float(v) for v in frame.forward(LON, LAT))
    lon, lat = frame.inverse(x + dx_m, y + dy_m)
    return PatrolZone(f"z{int(dx_m)}_{int(dy_m)}", "测试区 test zone", square_zone(float(lon), float(lat), size_m),
                      altitude_agl_m=60.0, front_overlap=0.5, side_overlap=0.3)


@pytest.fixture(scope="module")
def sitl():
    vehicles = start_vehicles([Home(LAT, LON, AMSL)] * 3, [SPEC] * 3, speedup=SPEED,
                              extra_params=[{}, GCS_FAILSAFE, LOW_BATTERY])
    try:
        yield dict(zip("abc", vehicles))
    finally:
        stop_vehicles(vehicles)


def dock(sitl, names: str, endpoints: dict[str, str] | None = None) -> Dock:
    endpoints = endpoints or {}
    drones = tuple(Drone(n, SPEC, CAMERA, endpoint=endpoints.get(n, sitl[n].endpoint), system_id=sitl[n].system_id)
                   for n in names)
    return Dock("d1", LON, LAT, AMSL, charge_time_min=30.0, drones=drones)


class Recorder:
    """on_start hook: keeps, per drone, the vehicle's boot clock, arm/disarm times and every MISSION_CURRENT."""

    def __init__(self) -> None:
        self.boot_ms: dict[str, int] = {}
        self.armed: dict[str, bool] = {}
        self.flights: dict[str, list[list[float]]] = {}
        self.current: dict[str, list[int]] = {}
        self.texts: dict[str, list[str]] = {}

    def __call__(self, controller) -> None:
        controller.hub.listeners.append(self.on_message)

    def on_message(self, dl, msg) -> None:
        drone, kind = dl.drone.id, msg.get_type()
        if kind == "GLOBAL_POSITION_INT":
            self.boot_ms[drone] = msg.time_boot_ms
        elif kind == "HEARTBEAT" and msg.get_srcComponent() == 1 and drone in self.boot_ms:
            armed = bool(msg.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
            t = self.boot_ms[drone] / 1000.0
            if armed and not self.armed.get(drone):
                self.flights.setdefault(drone, []).append([t, math.nan])
            elif not armed and self.armed.get(drone):
                self.flights[drone][-1][1] = t
            self.armed[drone] = armed
        elif kind == "MISSION_CURRENT":
            self.current.setdefault(drone, []).append(msg.seq)
        elif kind == "STATUSTEXT":
            self.texts.setdefault(drone, []).append(msg.text)


def fly(plan, docks, recorder: Recorder | None = None, settings: FleetSettings = SETTINGS):
    return asyncio.run(run_fleet(plan, docks, clock=ScaledClock(SPEED), settings=settings, on_start=recorder))


def photos_per_lane(sortie, captures) -> list[list]:
    """Each capture put on the strip nearest to it (strips lie tens of metres apart)."""
    frame = MetricFrame.around(LON, LAT)
    lanes = [(frame.forward(*lane.start), frame.forward(*lane.end)) for lane in sortie.lanes]
    groups: list[list] = [[] for _ in lanes]

    def dist(p, a, b) -> float:
        (ax, ay), (bx, by), (px, py) = a, b, p
        vx, vy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((px - ax) * vx + (py - ay) * vy) / max(vx * vx + vy * vy, 1e-9)))
        return math.hypot(px - ax - t * vx, py - ay - t * vy)

    for cap in captures:
        p = frame.forward(cap.pose.lon, cap.pose.lat)
        d = [dist(p, a, b) for a, b in lanes]
        nearest = min(range(len(d)), key=d.__getitem__)
        assert d[nearest] < 5.0, f"photo {cap.seq} {d[nearest]:.1f} m off every strip"
        groups[nearest].append(cap)
    return groups


@contextlib.asynccontextmanager
async def hub_for(sitl, name: str):
    hub = LinkHub([dock(sitl, name).drones[0]], ScaledClock(SPEED))
    await hub.open()
    dl = hub.drones[name]
    try:
        for _ in range(200):
            if dl.state.last_heartbeat is not None:
                break
            await asyncio.sleep(0.05)
        assert dl.state.last_heartbeat is not None, sitl[name].log_tail()
        yield dl
    finally:
        hub.close()


def test_sitl_planned_sortie_uploads_and_reads_back_and_differences_are_in_words(sitl):
    plan = plan_patrol([zone(150, 100, 200)], [], [dock(sitl, "a")])
    sortie = plan.sorties[0]

    async def go():
        async with hub_for(sitl, "a") as dl:
            sent = await upload_verified(dl, sortie, SETTINGS)
            got = await mp.download(dl.channel, SETTINGS.timing)
            moved = list(sent)
            wp = next(i for i, it in enumerate(sent) if i > 1 and it.command == mavlink.MAV_CMD_NAV_WAYPOINT)
            moved[wp] = MissionItem(**{**sent[wp].to_dict(), "alt": sent[wp].alt + 5.0})
            bad = list(sent[:6]) + [MissionItem(command=31999, frame=sent[3].frame, lat=LAT, lon=LON, alt=40.0)]
            with pytest.raises(MissionRejected) as refused:
                await mp.upload(dl.channel, bad, SETTINGS.timing)
            kept = await mp.download(dl.channel, SETTINGS.timing)
            return sent, got, moved, wp, bad, refused.value, kept
    sent, got, moved, wp, bad, refused, kept = asyncio.run(go())
    assert differences(sent, got, skip_first=True) == []
    # what ArduPilot really does with what we send: seq 0 is home (zeros until home is set), items without a position come
    # back in frame 0 with zeros, altitudes in centimetres
    assert got[0].command == mavlink.MAV_CMD_NAV_WAYPOINT and (got[0].lat, got[0].lon) != (sent[0].lat, sent[0].lon)
    no_position = [g for g in got if not has_location(g.command)]
    assert no_position and all(g.frame == 0 and g.lat == 0 and g.lon == 0 for g in no_position)
    assert any(s.frame != 0 for s, g in zip(sent, got) if not has_location(s.command))
    assert differences(moved, got, skip_first=True) == [
        f"seq {wp} (NAV_WAYPOINT): altitude {moved[wp].alt:.2f} m sent, vehicle holds {got[wp].alt:.2f} m"]
    assert refused.result == mavlink.MAV_MISSION_UNSUPPORTED and "MAV_MISSION_UNSUPPORTED" in str(refused)
    # uploads to ArduPilot are not atomic: MISSION_COUNT truncated the old mission to the new count and
    # the items before the refused one were stored, the old item stays in the refused slot
    assert len(kept) == len(bad)
    assert differences(bad[:6], kept[:6], skip_first=True) == [] and differences([sent[6]], [kept[6]], False) == []


def test_sitl_two_vehicles_fly_planned_sorties_every_photo_every_waypoint_on_time(sitl):
    d = dock(sitl, "ab")
    plan = plan_patrol([zone(250, 150, 400), zone(-250, -150, 400)], [], [d])
    assert {s.drone_id for s in plan.sorties} == {"a", "b"}
    rec = Recorder()
    result = fly(plan, [d], rec)
    assert result.unflown == [] and result.failed_drones == []
    by_id = {o.sortie_id: o for o in result.outcomes}
    for s in plan.sorties:
        out = by_id[s.id]
        assert out.state == "landed" and not out.interrupted and out.last_item == len(s.items) - 1, out
        nav = [i for i, it in enumerate(s.items) if i > 0 and has_location(it.command)]
        assert set(nav) <= set(rec.current[out.drone_id]), "a NAV item was never the current item"
        mine = [c for c in result.captures if c.sortie_id == s.id]
        groups = photos_per_lane(s, mine)
        assert [len(g) for g in groups] == [lane.photos for lane in s.lanes]
        assert len(mine) == s.photo_count
        # capture times are the vehicle's own (GPS) stamps: photos one spacing apart at survey speed,
        # however far the controller's clock has drifted from SITL's on a loaded machine
        for lane, group in zip(s.lanes, groups):
            stamps = sorted(c.time.timestamp() for c in group)
            gap = statistics.median(b - a for a, b in zip(stamps, stamps[1:]))
            assert abs(gap - lane.spacing_m / SPEC.cruise_speed_m_s) <= 0.1 * lane.spacing_m / SPEC.cruise_speed_m_s
    for drone in "ab":
        [(armed, disarmed)] = rec.flights[drone]
        planned = sum(s.duration_s for s in plan.sorties if by_id[s.id].drone_id == drone)
        assert abs((disarmed - armed) - planned) <= 0.15 * planned, (drone, disarmed - armed, planned)


def covered_share(result, area) -> float:
    frame = MetricFrame.around(LON, LAT)
    area_m = frame.to_metric(area)
    return 1.0 - area_m.difference(result.covered(frame)).area / area_m.area


def test_sitl_battery_failsafe_rest_replanned_to_another_sitl_drone(sitl):
    d, z = dock(sitl, "ca"), zone(300, 200, 450)
    plan = plan_patrol([z], [], [d])
    for s in plan.sorties:
        s.drone_id = "c"  # c's 1.5 Ah battery cannot finish; ArduPilot's own failsafe sends it home
    result = fly(plan, [d], settings=SETTINGS)
    [replan, *_] = result.replans
    assert replan.drone_id == "c" and "Battery" in replan.reason, replan
    by_id = {o.sortie_id: o for o in result.outcomes}
    assert by_id[replan.from_sortie].state == "landed" and by_id[replan.from_sortie].interrupted
    flown_by_a = [o for o in result.outcomes if o.drone_id == "a"]
    assert flown_by_a and all(o.state == "landed" and not o.interrupted for o in flown_by_a)
    assert result.unflown == [] and result.failed_drones == []
    assert covered_share(result, z.area) > 0.995


def test_sitl_prearm_failure_reaches_the_operator_in_the_vehicles_words(sitl):
    sortie = plan_patrol([zone(150, 100, 200)], [], [dock(sitl, "a")]).sorties[0]

    async def go():
        async with hub_for(sitl, "a") as dl:
            old = await read_param(dl.channel, "BATT_ARM_VOLT")
            await set_param(dl.channel, "BATT_ARM_VOLT", 60.0)  # SITL's pack is ~12.6 V
            try:
                await upload_verified(dl, sortie, SETTINGS)
                with pytest.raises(MavlinkError) as refused:
                    await launch(dl, dl.channel.clock, FleetSettings(prearm_timeout_s=45.0))
            finally:
                await set_param(dl.channel, "BATT_ARM_VOLT", old)
            return refused.value, dl.state.armed
    refused, armed = asyncio.run(go())
    assert not armed
    assert "PreArm" in str(refused) and "Battery" in str(refused), str(refused)


class Relay:
    """A TCP relay on 127.0.0.1 in front of a SITL port that can black-hole traffic both ways."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.blackhole = False
        self.drop_items = 0  # chunks from the controller carrying a MISSION_ITEM_INT to drop
        self.dropped = 0
        self._server = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _client(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(reader, up_writer, True), self._pipe(up_reader, writer, False),
                             return_exceptions=True)

    def _drop_item(self, codec: Codec, data: bytes) -> bool:
        if self.drop_items > 0 and any(m.get_type() == "MISSION_ITEM_INT" for m in codec.decode(data)):
            self.drop_items -= 1
            return True
        return False

    async def _pipe(self, reader, writer, from_controller: bool) -> None:
        codec = Codec()
        try:
            while data := await reader.read(4096):
                if self.blackhole or (from_controller and self._drop_item(codec, data)):
                    self.dropped += len(data)
                else:
                    writer.write(data)
        finally:
            writer.close()

    def close(self) -> None:
        self._server.close()


def test_sitl_link_loss_gcs_failsafe_and_return_rest_flown_by_another_drone(sitl):
    z = zone(-250, 150, 400)

    async def go():
        relay = Relay(sitl["b"].port)
        port = await relay.start()
        d = dock(sitl, "ba", {"b": f"tcp:127.0.0.1:{port}"})
        plan = plan_patrol([z], [], [d])
        for s in plan.sorties:
            s.drone_id = "b"
        seen = {}

        async def cut(controller):
            clock = controller.clock
            while not (controller.active.get("b") and controller.active["b"].state.value == "surveying"
                       and controller.active["b"].captures >= 3):
                await clock.sleep(1.0)
            relay.blackhole = True
            await clock.sleep(15.0)  # past FS_GCS_TIMEOUT (3 s), short of the controller's failed_after_s
            seen["stale"] = controller.hub.drones["b"].state.stale
            seen["mode_during"] = controller.hub.drones["b"].state.mode
            relay.blackhole = False

        tasks = []
        try:
            result = await run_fleet(plan, [d], clock=ScaledClock(SPEED), settings=SETTINGS,
                                     on_start=lambda c: tasks.append(asyncio.ensure_future(cut(c))))
        finally:
            relay.close()
        return result, seen, relay.dropped, tasks[0]
    result, seen, dropped, cutter = asyncio.run(go())
    assert cutter.done() and cutter.exception() is None
    assert dropped > 0 and seen["stale"] and seen["mode_during"] == "AUTO"  # last word before the outage
    [replan, *_] = result.replans
    assert replan.drone_id == "b" and ("RTL" in replan.reason or "GCS" in replan.reason), replan
    assert result.failed_drones == [] and result.unflown == []
    assert all(o.state == "landed" for o in result.outcomes)
    assert any(o.drone_id == "a" for o in result.outcomes)
    assert covered_share(result, z.area) > 0.995


def test_sitl_mission_upload_survives_lost_items_and_a_silent_gcs_is_cancelled(sitl):
    sortie = plan_patrol([zone(150, 100, 200)], [], [dock(sitl, "a")]).sorties[0]

    async def go():
        relay = Relay(sitl["a"].port)
        port = await relay.start()
        hub = LinkHub([dock(sitl, "a", {"a": f"tcp:127.0.0.1:{port}"}).drones[0]], ScaledClock(SPEED))
        await hub.open()
        dl = hub.drones["a"]
        try:
            while dl.state.last_heartbeat is None:
                await asyncio.sleep(0.05)
            relay.drop_items = 3  # three of our items never arrive
            report = await mp.upload(dl.channel, sortie.items, SETTINGS.timing)
            got = await mp.download(dl.channel, SETTINGS.timing)
            ch = dl.channel
            ch.begin()
            ch.send(ch.mav.mission_count_encode(ch.system_id, ch.component_id, 5, 0))
            requests, ack = [], None
            while ack is None:
                msg = await ch.expect(["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], 30.0)
                assert msg is not None, "vehicle went quiet during an abandoned upload"
                if msg.get_type() == "MISSION_ACK":
                    ack = msg
                else:
                    requests.append(msg.seq)
            return report, got, requests, ack
        finally:
            hub.close()
            relay.close()
    report, got, requests, ack = asyncio.run(go())
    assert report.resends > 0 or report.requests > len(sortie.items)  # the vehicle asked again
    assert differences(sortie.items, got, skip_first=True) == []
    # ArduCopter asks for item 0 about once a second and gives up after 8 s (8 requests seen on 4.8)
    assert 7 <= len(requests) <= 9 and set(requests) == {0}, requests
    assert ack.type == mavlink.MAV_MISSION_OPERATION_CANCELLED
