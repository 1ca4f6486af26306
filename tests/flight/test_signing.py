"""MAVLink 2 signing per drone link: signed controller and vehicle fly; a wrong key or unsigned
traffic is dropped by the vehicle (as ArduPilot does) and the controller says why it hears nothing.
The last test installs a key in real ArduCopter SITL with SETUP_SIGNING and reads a parameter signed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.assets import Drone
from flight.fleet.hub import LinkHub
from flight.mavlink import commands
from flight.mavlink import mission_protocol as mp
from flight.mavlink.clock import ScaledClock
from flight.mavlink.errors import ProtocolTimeout
from flight.mavlink.flavours import ARDUPILOT
from flight.mavlink.params import read_param
from flight.mavlink.signing import Signing, timestamp_now
from flight.sim.sitl import Home, SitlMissing, sitl_binary, start_vehicles, stop_vehicles
from flight.sim.vehicle import SimConfig, SimVehicle
from tests.flight.test_mavlink_mission import HOME_AMSL, LAT, LON
from tests.flight.test_sim_vehicle import armed_in_guided, hop
from tests.flight.test_sitl import CAMERA, SPEC

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))


@contextlib.asynccontextmanager
async def hub_and_sim(controller: Signing | None, vehicle: Signing | None, speed: float = 40.0):
    """A sim vehicle on UDP and a LinkHub that dials it (udpout), so the vehicle hears it even when
    the hub can verify nothing the vehicle sends (a listening hub learns a peer only from good packets)."""
    clock = ScaledClock(speed)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        nobody = s.getsockname()[1]  # where the sim talks until the hub speaks to it
    sim = SimVehicle(SimConfig(1, LAT, LON, HOME_AMSL, gcs_port=nobody, ekf_ready_s=2.0, signing=vehicle), clock)
    await sim.start()
    hub = LinkHub([Drone("uav", SPEC, CAMERA, f"udpout:127.0.0.1:{sim.port}", 1, controller)], clock)
    try:
        await hub.open()
        yield hub, hub.drones["uav"], sim
    finally:
        hub.close()
        await sim.stop()


async def heard(dl, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while dl.state.last_heartbeat is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return dl.state.last_heartbeat is not None


def test_signed_controller_and_signed_sim_fly_a_mission():
    async def go():
        async with hub_and_sim(Signing(KEY, 1), Signing(KEY, 0)) as (hub, dl, sim):
            assert await heard(dl, 10.0)
            await mp.upload(dl.channel, hop(0.001))
            await armed_in_guided(dl.channel, sim)
            await commands.mission_start(dl.channel)
            reached = []
            while len(reached) < 2:
                msg = await dl.channel.expect(["MISSION_ITEM_REACHED"], 60.0)
                assert msg is not None
                reached.append(msg.seq)
            return next(iter(hub.counters().values())), sim.codec.counters, reached

    link, vehicle, reached = asyncio.run(go())
    assert reached == [1, 2]
    # Both ends refuse unsigned packets, so every message taken was signed with the shared key.
    assert link["messages_in"] > 20 and link["bad_signatures"] == 0
    assert vehicle.messages_in > 5 and vehicle.bad_signatures == 0


@pytest.mark.parametrize("controller", [Signing(OTHER_KEY, 1), None], ids=["wrong key", "unsigned"])
def test_vehicle_ignores_commands_without_its_key_and_the_controller_says_why(controller):
    async def go():
        async with hub_and_sim(controller, Signing(KEY, 0)) as (hub, dl, sim):
            await asyncio.sleep(0.5)
            with pytest.raises(ProtocolTimeout):
                await commands.command(dl.channel, mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1.0, timeout_s=0.5,
                                       retries=1)
            return sim.codec.counters, sim.copter.armed, dl.state.last_heartbeat, hub.silence_reason("uav")
    vehicle, armed, last_heartbeat, reason = asyncio.run(go())
    assert not armed and vehicle.messages_in == 0 and vehicle.bad_signatures >= 2
    if controller is None:  # an unsigned controller takes signed packets as they come (no key to check)
        assert last_heartbeat is not None and reason is None
    else:
        assert last_heartbeat is None
        assert "failed MAVLink signature verification" in reason and "drones[].signing" in reason


def test_accepting_unsigned_is_a_choice_of_the_vehicle():
    async def go():
        async with hub_and_sim(None, Signing(KEY, 0, refuse_unsigned=False)) as (hub, dl, sim):
            assert await heard(dl, 10.0)
            return await commands.set_mode(dl.channel, ARDUPILOT, "GUIDED"), sim.copter.mode
    result, mode = asyncio.run(go())
    assert result == mavlink.MAV_RESULT_ACCEPTED and mode == "GUIDED"


try:
    sitl_binary()
    MISSING = ""
except SitlMissing as exc:
    MISSING = str(exc)


@pytest.mark.skipif(bool(MISSING), reason=MISSING or "SITL present")
def test_sitl_takes_a_key_by_setup_signing_and_answers_signed():
    (vehicle,) = start_vehicles([Home(LAT, LON, HOME_AMSL)], [SPEC], speedup=10.0)

    async def with_link(signing: Signing | None, job):
        hub = LinkHub([Drone("sitl", SPEC, CAMERA, vehicle.endpoint, vehicle.system_id, signing)], ScaledClock(1.0))
        await hub.open()
        try:
            return await job(hub, hub.drones["sitl"])
        finally:
            hub.close()
            await asyncio.sleep(0.3)  # SITL's serial0 takes one client: let it see this one go

    async def install(hub, dl):
        assert await heard(dl, 15.0)
        ch = dl.channel
        ch.send(ch.mav.setup_signing_encode(vehicle.system_id, 1, list(KEY), timestamp_now()))
        await asyncio.sleep(1.0)

    async def read_sysid(hub, dl):
        try:
            value = await read_param(dl.channel, "MAV_SYSID")
        except ProtocolTimeout:
            value = None
        return value, next(iter(hub.counters().values())), hub.silence_reason("sitl")

    async def go():
        await with_link(None, install)
        return (await with_link(Signing(KEY, 1), read_sysid), await with_link(Signing(OTHER_KEY, 1), read_sysid))
    try:
        (value, link, reason), (wrong_value, wrong_link, wrong_reason) = asyncio.run(go())
    finally:
        stop_vehicles([vehicle])
    # Unsigned packets refused on our side: the answer came signed with the key SETUP_SIGNING installed.
    assert value == vehicle.system_id and link["messages_in"] > 0 and link["bad_signatures"] == 0 and reason is None
    assert wrong_value is None and wrong_link["messages_in"] == 0 and wrong_link["bad_signatures"] > 0
    assert "failed MAVLink signature verification" in wrong_reason
