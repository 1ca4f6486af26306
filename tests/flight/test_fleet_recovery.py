"""The fleet controller flying simulated ArduCopters over real UDP: full sorties and recovery.

Clocks run 60× faster than real time; the zone is a 300 × 300 m square near Quzhou.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import urllib.request
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from detector.camera import CameraModel
from detector.geo import MetricFrame
from flight.assets import Dock, Drone, DroneSpec
from flight.fleet.api import run_fleet
from flight.fleet.recovery import remainder_sortie
from flight.fleet.sortie import FleetSettings
from flight.mavlink.clock import ScaledClock
from flight.mavlink.codec import Codec
from flight.mission import MissionItem, Sortie
from flight.sim.faults import Faults
from flight.sim.survey import lawnmower_sortie, square_zone
from flight.sim.swarm import SimSetup
from patrol.rehearsal import SimulatedFleet

LON, LAT = 118.87, 28.95
CAMERA = CameraModel(13.2, 8.8, 8.8, 5472, 3648)
SPEC = DroneSpec(cruise_speed_m_s=12, climb_rate_m_s=5, descent_rate_m_s=4, usable_flight_time_min=30, reserve_min=5)
ZONE = square_zone(LON, LAT, 300.0)
FRAME = MetricFrame.for_geometry(ZONE)
START = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
SPEED = 60.0


def docks(*drone_ids: str) -> list[Dock]:
    drones = tuple(Drone(d, SPEC, CAMERA) for d in drone_ids)
    return [Dock("dock-1", LON - 0.003, LAT - 0.001, 80.0, charge_time_min=60.0, drones=drones)]


def sortie(drone_id: str = "a"):
    return lawnmower_sortie("s1", ZONE, CAMERA, 60.0, drone_id=drone_id, dock_id="dock-1")


def uncovered_fraction(result) -> float:
    zone_m = FRAME.to_metric(ZONE)
    return zone_m.difference(result.covered(FRAME)).area / zone_m.area


def fly(drone_ids=("a",), settings=None, on_start=None, status_port=None, sorties=None, **sim):
    clock = ScaledClock(SPEED, start_utc=START)
    captures = []
    result = asyncio.run(run_fleet(sorties or [sortie()], docks(*drone_ids), clock=clock,
                                   vehicles=SimulatedFleet(SimSetup(speed=SPEED, ekf_ready_s=4.0, **sim)),
                                   settings=settings or FleetSettings(), on_capture=captures.append,
                                   on_start=on_start, status_port=status_port))
    return result, captures


def noise_and_status(seen: dict):
    """on_start hook: spray the controller's port with junk over real UDP, then ask /status."""
    def start(controller):
        async def go():
            link = next(iter(controller.hub.links.values()))
            rng = random.Random(11)
            sender = Codec(1, 1)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for _ in range(200):
                    sock.sendto(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 280))),
                                ("127.0.0.1", link.local_port))
                    seen["garbage"] += 1
                sock.sendto(sender.encode(sender.mav.command_ack_encode(400, 0, 0, 0, 42, 1)),
                            ("127.0.0.1", link.local_port))  # for a GCS with system id 42, not us
                stranger = Codec(77, 1)
                sock.sendto(stranger.encode(stranger.mav.heartbeat_encode(2, 3, 0, 0, 0)),
                            ("127.0.0.1", link.local_port))  # a vehicle nobody configured
            await asyncio.sleep(0.5)
            read = lambda: urllib.request.urlopen(controller.status_url, timeout=5).read()  # noqa: E731
            seen["status"] = json.loads(await asyncio.to_thread(read))
        asyncio.get_running_loop().create_task(go())
    return start


@pytest.fixture(scope="module")
def single_flight():
    seen = {"garbage": 0}
    result, captures = fly(on_start=noise_and_status(seen), status_port=0)
    return result, captures, seen


def test_full_sortie_flown_to_landing_with_captures_covering_the_zone(single_flight):
    result, delivered, _ = single_flight
    [outcome] = result.outcomes
    assert outcome.state == "landed" and not outcome.interrupted and outcome.last_item == outcome.items - 1
    assert result.replans == [] and result.unflown == []
    assert len(delivered) == len(result.captures) == outcome.captures > 20
    cap = delivered[0]
    assert cap.image is None and cap.camera == CAMERA and cap.drone_id == "a" and cap.sortie_id == "s1"
    assert abs(cap.pose.alt_agl_m - 60.0) < 0.5 and cap.pose.pitch_deg == -90.0
    assert START < cap.time < START.replace(hour=3)  # UTC from the injected clock, not the wall
    assert sorted(c.seq for c in delivered) == list(range(len(delivered)))
    assert uncovered_fraction(result) < 0.001


def test_low_battery_rtl_then_rest_flown_by_another_drone_still_covers_zone(single_flight):
    single, _, _ = single_flight
    result, _ = fly(("a", "b"), initial_soc={"a": 0.45}, endurance_s={"a": 600.0})
    first, second = result.outcomes
    assert first.drone_id == "a" and first.state == "landed" and "below return threshold" in first.interrupted
    assert 0 < first.last_item < first.items - 1
    assert second.drone_id == "b" and second.state == "landed" and not second.interrupted
    assert [r.new_sorties for r in result.replans] == [[second.sortie_id]]
    assert uncovered_fraction(result) < 0.001
    by_drone = result.footprints(FRAME)
    assert by_drone["a"].area > 0 and by_drone["b"].area > 0
    # nothing flown twice on purpose: the hand-over costs at most a couple of extra photos
    assert len(result.captures) <= len(single.captures) + 4  # photos taken while RTL is being commanded


def test_vehicle_battery_failsafe_is_recognised_and_rest_reassigned():
    result, _ = fly(("a", "b"), initial_soc={"a": 0.45}, endurance_s={"a": 600.0}, batt_low_pct={"a": 30.0})
    first = result.outcomes[0]
    assert first.interrupted == "Battery Failsafe"
    assert result.outcomes[1].state == "landed"
    assert uncovered_fraction(result) < 0.001


def test_a_sortie_every_drone_refuses_is_tried_by_each_and_reported_unflown_with_reasons():
    good = sortie(drone_id=None)
    local = MissionItem(command=mavlink.MAV_CMD_NAV_WAYPOINT, frame=mavlink.MAV_FRAME_LOCAL_NED, lat=10.0, lon=10.0,
                        alt=50.0)  # a frame the vehicle does not take: MISSION_ACK UNSUPPORTED_FRAME
    bad = replace(sortie(drone_id="a"), id="s2", items=good.items[:3] + [local] + good.items[3:])
    result, _ = fly(("a", "b"), sorties=[bad, good])
    refused = [o for o in result.outcomes if o.sortie_id == "s2"]
    assert sorted(o.drone_id for o in refused) == ["a", "b"] and {o.state for o in refused} == {"aborted"}
    assert result.unflown == ["s2"]  # aborted, and still on the unflown list
    assert set(result.unflown_reasons["s2"]) == {"a", "b"}
    assert all(why.startswith("upload:") for why in result.unflown_reasons["s2"].values())
    [flown] = [o for o in result.outcomes if o.sortie_id == "s1"]
    assert flown.state == "landed" and uncovered_fraction(result) < 0.001


def test_30_second_link_outage_marks_stale_then_tracking_resumes():
    seen = {"stale": False}

    def watch(controller):
        async def poll():
            state = controller.hub.drones["a"].state
            while True:
                seen["stale"] |= state.stale
                await asyncio.sleep(0.01)
        asyncio.get_running_loop().create_task(poll())

    result, _ = fly(on_start=watch, faults={"a": Faults(outages=((60.0, 30.0),))})
    [outcome] = result.outcomes
    assert seen["stale"]
    assert outcome.state == "landed" and not outcome.interrupted and result.replans == []
    # photos fired while the link was down are fetched afterwards (CAMERA_IMAGE_CAPTURED)
    assert sorted(c.seq for c in result.captures) == list(range(len(result.captures)))
    assert uncovered_fraction(result) < 0.001
    track = result.tracks["a"]
    gaps = [b[0] - a[0] for a, b in zip(track, track[1:])]
    assert max(gaps) >= 25.0  # nothing tracked during the outage, tracking after it


def test_drone_given_up_for_silence_rejoins_once_heard_again_on_the_ground():
    result, _ = fly(("a", "b"), faults={"a": Faults(outages=((60.0, 100.0),))})
    first = result.outcomes[0]
    assert first.drone_id == "a" and first.state == "failed" and first.reason.startswith("no heartbeat")
    assert result.rejoined == ["a"] and result.failed_drones == []  # it flew on and landed: back in the fleet
    assert result.unflown == [] and uncovered_fraction(result) < 0.001


def test_motor_failure_fails_drone_and_its_coverage_is_reassigned():
    result, _ = fly(("a", "b"), faults={"a": Faults(motor_failure_at_s=80.0)})
    first, second = result.outcomes
    assert first.state == "failed" and first.reason.startswith("crash")
    assert result.failed_drones == ["a"]
    assert second.drone_id == "b" and second.state == "landed"
    assert uncovered_fraction(result) < 0.001


def test_status_endpoint_serves_live_fleet_json(single_flight):
    got = single_flight[2]["status"]
    [drone] = got["drones"]
    assert drone["drone_id"] == "a" and drone["autopilot"] == "ardupilot" and drone["system_id"] == 1
    assert got["sorties"][0]["id"] == "s1"


def test_noise_on_the_link_is_counted_and_the_flight_carries_on(single_flight):
    result, _, seen = single_flight
    [counters] = result.link_counters.values()
    assert counters["bad_frames"] >= seen["garbage"] // 2
    assert counters["wrong_target"] >= 1 and counters["unknown_system"] >= 1
    assert result.outcomes[0].state == "landed"


def test_remainder_resumes_the_strip_at_survey_speed_and_drops_a_mere_way_home():
    rel, cmd = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, mavlink.MAV_FRAME_MISSION

    def wp(dlat: float) -> MissionItem:
        return MissionItem(command=mavlink.MAV_CMD_NAV_WAYPOINT, frame=rel, lat=28.95 + dlat, lon=118.87, alt=100.0)

    def speed(v: float) -> MissionItem:
        return MissionItem(command=mavlink.MAV_CMD_DO_CHANGE_SPEED, frame=cmd, param1=1.0, param2=v, param3=-1.0)

    def cam(d: float) -> MissionItem:
        return MissionItem(command=mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, frame=cmd, param1=d)

    items = [wp(0.0), MissionItem(command=mavlink.MAV_CMD_NAV_TAKEOFF, frame=rel, alt=30.0), speed(18.0),
             wp(0.01), speed(12.0), cam(50.0), wp(0.02), cam(0.0), speed(18.0), wp(0.0),
             MissionItem(command=mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, frame=cmd)]
    s = Sortie("s", "dock", "zone", items, 600.0)
    [mid_strip] = remainder_sortie(s, 5, (28.955, 118.87), "low battery")
    head = [(it.command, it.param1 or it.param2) for it in mid_strip.items[:6]]
    assert head == [(mavlink.MAV_CMD_NAV_TAKEOFF, 0.0), (mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, 0.0),
                    (mavlink.MAV_CMD_DO_CHANGE_SPEED, 1.0), (mavlink.MAV_CMD_NAV_WAYPOINT, 0.0),
                    (mavlink.MAV_CMD_DO_CHANGE_SPEED, 1.0), (mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, 50.0)]
    assert [it.param2 for it in mid_strip.items[:6] if it.command == mavlink.MAV_CMD_DO_CHANGE_SPEED] == [18.0, 12.0]
    assert remainder_sortie(s, 8, None, "low battery") == []
