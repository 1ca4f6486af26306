"""The simulated ArduCopter reproduces what ArduCopter 4.7 SITL does (facts listed in issue 4)."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mavlink import commands
from flight.mavlink import mission_protocol as mp
from flight.mavlink.flavours import ARDUPILOT
from flight.mavlink.mission_wire import home_item
from flight.mission import MissionItem
from flight.sim.copter import Copter, Performance
from flight.sim.faults import Faults
from tests.flight.test_mavlink_mission import HOME_AMSL, LAT, LON, REL, one_vehicle

TAKEOFF = MissionItem(command=mavlink.MAV_CMD_NAV_TAKEOFF, frame=REL, alt=30.0)
RTL = MissionItem(command=mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, frame=mavlink.MAV_FRAME_MISSION)


def hop(dlat: float) -> list[MissionItem]:
    wp = MissionItem(command=mavlink.MAV_CMD_NAV_WAYPOINT, frame=REL, lat=LAT + dlat, lon=LON, alt=30.0)
    return [home_item(LAT, LON, HOME_AMSL), TAKEOFF, wp, RTL]


async def armed_in_guided(ch, sim):
    while not sim.ekf_ready:
        await asyncio.sleep(0.02)
    await commands.set_mode(ch, ARDUPILOT, "GUIDED")
    await commands.arm(ch)


def test_mission_start_switches_to_auto_and_final_rtl_lands_inside_auto():
    async def go():
        async with one_vehicle(speed=40.0, ekf_ready_s=2.0) as (ch, sim, _):
            await commands.set_message_interval(ch, mavlink.MAVLINK_MSG_ID_EXTENDED_SYS_STATE, 2.0)
            await mp.upload(ch, hop(0.002))
            await armed_in_guided(ch, sim)
            await commands.mission_start(ch)
            modes, landed_states, reached = set(), set(), []
            while True:
                msg = await ch.expect(["HEARTBEAT", "EXTENDED_SYS_STATE", "MISSION_ITEM_REACHED"], 30.0)
                assert msg is not None
                kind = msg.get_type()
                if kind == "MISSION_ITEM_REACHED":
                    reached.append(msg.seq)
                elif kind == "EXTENDED_SYS_STATE":
                    landed_states.add(msg.landed_state)
                else:
                    modes.add(ARDUPILOT.mode_name(msg.custom_mode))
                    if reached and not msg.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED:
                        return modes, landed_states, reached, sim.copter
    modes, landed_states, reached, copter = asyncio.run(go())
    assert "AUTO" in modes and "RTL" not in modes  # the RTL item flies in AUTO
    assert reached == [1, 2, 3]
    assert mavlink.MAV_LANDED_STATE_IN_AIR in landed_states and mavlink.MAV_LANDED_STATE_LANDING in landed_states
    assert copter.alt == 0.0 and abs(copter.x - copter.home_x) < 1 and abs(copter.y - copter.home_y) < 1


def test_gcs_failsafe_rtl_does_not_return_to_auto_when_link_comes_back():
    async def go():
        async with one_vehicle(speed=40.0, ekf_ready_s=2.0, gcs_failsafe_s=5.0,
                               faults=Faults(outages=((20.0, 15.0),))) as (ch, sim, _):
            await mp.upload(ch, hop(0.02))
            await armed_in_guided(ch, sim)
            await commands.mission_start(ch)

            async def gcs_heartbeats():
                while True:
                    ch.send(ch.mav.heartbeat_encode(mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0))
                    await ch.clock.sleep(1.0)
            beat = asyncio.get_running_loop().create_task(gcs_heartbeats())
            modes = []
            while sim.copter.armed and sim.boot_s < 400:
                msg = await ch.expect(["HEARTBEAT"], 5.0)
                if msg is not None and (not modes or modes[-1] != ARDUPILOT.mode_name(msg.custom_mode)):
                    modes.append(ARDUPILOT.mode_name(msg.custom_mode))
            beat.cancel()
            return modes, sim.copter
    modes, copter = asyncio.run(go())
    # the failsafe STATUSTEXT went out while the link was down; the GCS sees the mode change after
    assert modes[-2:] == ["AUTO", "RTL"]
    assert not copter.armed and copter.alt == 0.0 and abs(copter.y - copter.home_y) < 1


def test_battery_failsafe_statustext_and_rtl_after_low_timer():
    async def go():
        async with one_vehicle(speed=40.0, ekf_ready_s=2.0, initial_soc=0.5,
                               faults=Faults(battery_sag=(10.0, 0.35))) as (ch, sim, _):
            await mp.upload(ch, hop(0.05))
            await armed_in_guided(ch, sim)
            await commands.mission_start(ch)
            texts = []
            sink = ch.link.sink
            ch.link.sink = lambda lk, msg: (texts.append((sim.copter.t, msg.text))
                                            if msg.get_type() == "STATUSTEXT" else None, sink(lk, msg))
            sag_at = None
            while sim.boot_s < 300 and not any(text == "Battery Failsafe" for _, text in texts):
                if sag_at is None and sim.copter.battery.percent < 20:
                    sag_at = sim.copter.t
                await asyncio.sleep(0.005)
            failsafe_at = next((t for t, text in texts if text == "Battery Failsafe"), None)
            return texts, sim.copter.mode, failsafe_at - sag_at
    texts, mode, delay = asyncio.run(go())
    assert any(text.startswith("Battery 1 is low") for _, text in texts)
    assert mode == "RTL"
    assert delay >= 9.0  # BATT_LOW_TIMER 10 s (up to one step early)


def test_upload_while_flying_with_motor_failure_ends_in_crash_and_silence():
    async def go():
        async with one_vehicle(speed=40.0, ekf_ready_s=2.0, faults=Faults(motor_failure_at_s=15.0)) as (ch, sim, _):
            await mp.upload(ch, hop(0.05))
            await armed_in_guided(ch, sim)
            await commands.mission_start(ch)
            crash = await ch.expect(["STATUSTEXT"], 60.0, lambda m: m.text.startswith("Crash"))
            after = await ch.expect(["HEARTBEAT"], 5.0)
            return crash, after, sim.copter
    crash, after, copter = asyncio.run(go())
    assert crash is not None and crash.severity == mavlink.MAV_SEVERITY_EMERGENCY
    assert after is None and copter.crashed and not copter.armed


def test_trigger_distance_with_trigger_once_fires_at_once_even_if_switched_off_next():
    """ArduPilot's DO_SET_CAM_TRIGG_DIST param3=1 shoots immediately: a one-photo strip
    (on, then off at the same waypoint) still gets its photo."""
    cam_on = MissionItem(command=mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, frame=mavlink.MAV_FRAME_MISSION,
                         param1=50.0, param3=1.0)
    cam_off = MissionItem(command=mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, frame=mavlink.MAV_FRAME_MISSION)
    home, takeoff, wp, rtl = hop(0.002)

    async def go():
        async with one_vehicle(speed=40.0, ekf_ready_s=2.0) as (ch, sim, _):
            await mp.upload(ch, [home, takeoff, wp, cam_on, cam_off, rtl])
            await armed_in_guided(ch, sim)
            await commands.mission_start(ch)
            while True:
                msg = await ch.expect(["HEARTBEAT"], 30.0)
                assert msg is not None
                if sim.copter.current >= 5 and not msg.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED:
                    return sim.copter.shots

    shots = asyncio.run(go())
    assert len(shots) == 1
    assert abs(shots[0].lat - (LAT + 0.002)) < 1e-6 and abs(shots[0].lon - LON) < 1e-6


def test_do_change_speed_sets_the_leg_speed_until_rtl_which_returns_at_the_default_speed():
    """A planned sortie flies its transit legs at DO_CHANGE_SPEED's speed; the RTL item does not
    keep it (ArduCopter returns at RTL_SPEED / WPNAV_SPEED), so the planner ends over the dock."""
    fast = MissionItem(command=mavlink.MAV_CMD_DO_CHANGE_SPEED, frame=mavlink.MAV_FRAME_MISSION,
                       param1=1.0, param2=20.0, param3=-1.0)
    home, takeoff, wp, rtl = hop(0.01)

    async def go():
        async with one_vehicle(speed=40.0, ekf_ready_s=2.0) as (ch, sim, _):
            await commands.set_message_interval(ch, mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, 0.5)
            await mp.upload(ch, [home, takeoff, fast, wp, rtl])
            await armed_in_guided(ch, sim)
            await commands.mission_start(ch)
            out, back = [], []
            while sim.copter.armed or not back:
                msg = await ch.expect(["GLOBAL_POSITION_INT"], 10.0)
                assert msg is not None
                speed = math.hypot(msg.vx, msg.vy) / 100.0
                (out if sim.copter.current == 3 else back if sim.copter.current == 4 else []).append(speed)
            return out, back
    out, back = asyncio.run(go())
    assert max(out) == pytest.approx(20.0, abs=0.1)
    assert max(back[1:]) == pytest.approx(Performance().cruise_m_s, abs=0.1)  # [0]: the step that reached the waypoint


def _fly_pure(copter: Copter, items: list[MissionItem], dt: float = 0.05, limit_s: float = 3600.0) -> Copter:
    """Fly `items` on the bare flight model (no MAVLink) until it lands; bounded by `limit_s`."""
    copter.store_mission(items)
    copter.set_mode("GUIDED")
    copter.arm()
    assert copter.start_mission()
    while copter.armed and copter.t < limit_s:
        copter.step(dt)
    assert not copter.armed, "still flying after the time limit"
    return copter


def test_waypoint_counts_reached_wp_radius_before_it_like_arducopter():
    home, takeoff, wp, rtl = hop(0.002)
    copter = Copter(LAT, LON, HOME_AMSL, perf=Performance(wp_radius_m=2.0))
    copter.store_mission([home, takeoff, wp, rtl])
    copter.set_mode("GUIDED")
    copter.arm()
    copter.start_mission()
    wx, wy, _ = copter.target_of(copter.mission[2])
    short = None
    for _ in range(20000):
        ev = copter.step(0.01)
        if 2 in ev.reached:
            short = math.hypot(wx - copter.x, wy - copter.y)
            break
    assert short is not None and 1.5 < short <= 2.0


def test_distance_trigger_fires_late_and_the_lateness_adds_up_like_arducopter_at_worst():
    cam = MissionItem(command=mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, frame=mavlink.MAV_FRAME_MISSION,
                      param1=30.0, param3=1.0)
    off = MissionItem(command=mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, frame=mavlink.MAV_FRAME_MISSION)
    home, takeoff, wp, rtl = hop(0.01)  # ~1.1 km north
    copter = _fly_pure(Copter(LAT, LON, HOME_AMSL), [home, takeoff, cam, wp, off, rtl])
    ys = [copter.frame.forward(s.lon, s.lat)[1] for s in copter.shots]
    gaps = np.diff(ys)
    late = Performance().cruise_m_s / Performance().trigger_check_hz
    # every photo the full 50 Hz check late (ArduPilot's worst case), measured from the last one
    assert len(ys) > 20 and np.allclose(gaps, 30.0 + late, atol=0.01)  # metres on the UTM grid


def test_planned_sortie_takes_exactly_its_photos_on_every_strip_despite_the_late_trigger():
    from flight.assets import Dock, Drone, DroneSpec, PatrolZone
    from flight.planner import plan_patrol
    from flight.sim.survey import square_zone
    from tests.flight.test_fleet_recovery import CAMERA

    spec = DroneSpec(cruise_speed_m_s=12, climb_rate_m_s=5, descent_rate_m_s=4, usable_flight_time_min=30,
                     reserve_min=5, transit_speed_m_s=15)
    zone = PatrolZone("z", "区 zone", square_zone(LON + 0.004, LAT, 600.0), altitude_agl_m=60.0,
                      front_overlap=0.5, side_overlap=0.3)
    dock = Dock("d", LON, LAT, HOME_AMSL, 30.0, (Drone("a", spec, CAMERA),))
    [sortie] = plan_patrol([zone], [], [dock]).sorties
    copter = _fly_pure(Copter(LAT, LON, HOME_AMSL, perf=Performance(cruise_m_s=15.0)), sortie.items)
    frame = copter.frame
    counts = []
    for lane in sortie.lanes:
        (ax, ay), (bx, by) = frame.forward(*lane.start), frame.forward(*lane.end)
        counts.append(sum(abs((bx - ax) * (ay - y) - (ax - x) * (by - ay)) / math.hypot(bx - ax, by - ay) < 3.0
                          for x, y in (frame.forward(s.lon, s.lat) for s in copter.shots)))
    assert counts == [lane.photos for lane in sortie.lanes] and len(copter.shots) == sortie.photo_count
