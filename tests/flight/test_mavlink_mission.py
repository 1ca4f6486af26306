"""Mission and command protocols against the simulated ArduCopter over real UDP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mavlink import commands
from flight.mavlink import mission_protocol as mp
from flight.mavlink.channel import Channel
from flight.mavlink.clock import ScaledClock
from flight.mavlink.errors import CommandFailed, MissionRejected
from flight.mavlink.codec import Codec
from flight.mavlink.links import EndpointError, TcpLink, UdpLink, parse_endpoint
from flight.mavlink.mission_wire import differences, home_item
from flight.mission import MissionItem
from flight.sim.faults import Faults
from flight.sim.vehicle import SimConfig, SimVehicle

LAT, LON, HOME_AMSL = 28.95, 118.87, 70.0
REL = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT


@contextlib.asynccontextmanager
async def one_vehicle(speed: float = 10.0, **cfg):
    """A sim on a UDP socket talking to a listening link; yields (channel, sim, link)."""
    clock = ScaledClock(speed)
    channels: dict[int, Channel] = {}
    link = UdpLink(parse_endpoint("udpin:127.0.0.1:0"), lambda lk, msg: channels[1].feed(msg)
                   if msg.get_srcSystem() == 1 else None)
    await link.open()
    sim = SimVehicle(SimConfig(1, LAT, LON, HOME_AMSL, gcs_port=link.local_port, **cfg), clock)
    channels[1] = Channel(link, 1, 1, clock)
    await sim.start()
    try:
        assert await channels[1].expect(["HEARTBEAT"], 10.0) is not None
        yield channels[1], sim, link
    finally:
        await sim.stop()
        link.close()


def survey_items(n: int) -> list[MissionItem]:
    """Home slot + takeoff + n-2 waypoints a few metres apart, as ArduPilot wants them."""
    body = [MissionItem(command=mavlink.MAV_CMD_NAV_TAKEOFF, frame=REL, alt=50.0)]
    body += [MissionItem(command=mavlink.MAV_CMD_NAV_WAYPOINT, frame=REL, lat=LAT + i * 2e-5, lon=LON + (i % 7) * 1e-5,
                         alt=50.0 + i % 5, param1=float(i % 3)) for i in range(n - 2)]
    return [home_item(LAT, LON, HOME_AMSL)] + body


def test_500_item_round_trip_matches_and_seq0_reads_back_as_home():
    async def go():
        async with one_vehicle() as (ch, sim, _):
            sent = survey_items(500)
            sent[0] = home_item(1.0, 2.0, 3.0)  # ArduPilot overwrites whatever we put in slot 0
            report = await mp.upload(ch, sent)
            got = await mp.download(ch)
            return report, sent, got
    report, sent, got = asyncio.run(go())
    assert report.ack_seen and report.requests >= 500
    assert len(got) == 500
    assert differences(sent, got, skip_first=True) == []
    assert (got[0].lat, got[0].lon, got[0].alt, got[0].frame) == (LAT, LON, HOME_AMSL, mavlink.MAV_FRAME_GLOBAL)
    assert differences(sent, got, skip_first=False)  # slot 0 really was replaced


def test_upload_completes_with_20_percent_loss_both_ways():
    async def go():
        async with one_vehicle(speed=10.0, faults=Faults(loss_pct=20.0, seed=7)) as (ch, sim, _):
            sent = survey_items(60)
            for _ in range(3):  # the whole-transfer retry the controller does on OPERATION_CANCELLED
                try:
                    await mp.upload(ch, sent)
                    break
                except MissionRejected as exc:
                    assert exc.result == mavlink.MAV_MISSION_OPERATION_CANCELLED
            sim.cfg.faults = Faults()  # read back over a clean link: we check what the upload stored
            return sent, await mp.download(ch), sim
    sent, got, sim = asyncio.run(go())
    assert sim.dropped_in > 0 and sim.dropped_out > 0
    assert differences(sent, got, skip_first=True) == []


@pytest.mark.parametrize("bad, result", [
    (MissionItem(command=31999, frame=REL, lat=LAT, lon=LON, alt=40.0), mavlink.MAV_MISSION_UNSUPPORTED),
    (MissionItem(command=mavlink.MAV_CMD_NAV_WAYPOINT, frame=mavlink.MAV_FRAME_LOCAL_NED, lat=5, lon=5, alt=40.0),
     mavlink.MAV_MISSION_UNSUPPORTED_FRAME),
])
def test_error_ack_aborts_with_named_result_and_leaves_a_partial_mission_like_arducopter(bad, result):
    """ArduCopter 4.8 SITL: MISSION_COUNT cuts the old mission to the new count, items are stored as
    they arrive, and the refused one leaves the old item in its slot (tests/flight/test_sitl.py)."""
    async def go():
        async with one_vehicle() as (ch, sim, _):
            old = survey_items(12)
            await mp.upload(ch, old)
            new = [MissionItem(**{**it.to_dict(), "alt": it.alt + 1.0}) for it in survey_items(20)]
            new[9] = bad
            with pytest.raises(MissionRejected) as err:
                await mp.upload(ch, new)
            return old, new, await mp.download(ch), err.value
    old, new, got, err = asyncio.run(go())
    assert err.result == result
    assert mavlink.enums["MAV_MISSION_RESULT"][result].name in str(err)
    assert len(got) == len(old)
    assert differences(new[:9], got[:9], skip_first=True) == []
    assert differences(old[9:], got[9:], skip_first=False) == []


def test_silent_gcs_gets_eight_requests_then_operation_cancelled_like_arducopter():
    async def go():
        async with one_vehicle(speed=10.0) as (ch, sim, _):
            requests = []
            ch.send(ch.mav.mission_count_encode(1, 1, 5, 0))
            while True:
                msg = await ch.expect(["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], 5.0)
                assert msg is not None
                if msg.get_type() == "MISSION_ACK":
                    return requests, msg
                requests.append(msg)
    requests, ack = asyncio.run(go())
    assert [m.get_type() for m in requests] == ["MISSION_REQUEST"] * 8  # legacy request; 8 in all on SITL
    assert all(m.seq == 0 for m in requests)
    assert ack.type == mavlink.MAV_MISSION_OPERATION_CANCELLED


def test_streams_start_only_after_set_message_interval():
    async def go():
        async with one_vehicle() as (ch, sim, _):
            before = await ch.expect(["GLOBAL_POSITION_INT", "SYS_STATUS"], 3.0)
            await commands.set_message_interval(ch, mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, 4.0)
            after = await ch.expect(["GLOBAL_POSITION_INT"], 3.0)
            return before, after
    before, after = asyncio.run(go())
    assert before is None
    assert after is not None and abs(after.lat / 1e7 - LAT) < 1e-6


def test_arming_fails_until_ekf_ready_then_guided_idle_disarms():
    async def go():
        async with one_vehicle(speed=10.0, ekf_ready_s=6.0) as (ch, sim, _):
            await commands.set_mode(ch, _ardupilot(), "GUIDED")
            texts = []
            ch.link.sink = lambda lk, msg: (texts.append(msg.text) if msg.get_type() == "STATUSTEXT" else None,
                                            ch.feed(msg))
            with pytest.raises(CommandFailed) as early:
                await commands.arm(ch, retries=0, detail=lambda: texts[-1] if texts else "")
            while not sim.ekf_ready:
                await asyncio.sleep(0.05)
            await commands.arm(ch)
            armed = sim.copter.armed
            await ch.clock.sleep(12.0)
            return early.value, armed, sim.copter.armed
    early, armed_after_ready, armed_later = asyncio.run(go())
    assert early.result == mavlink.MAV_RESULT_FAILED and "Need Position Estimate" in str(early)
    assert armed_after_ready and not armed_later


def _ardupilot():
    from flight.mavlink.flavours import ARDUPILOT
    return ARDUPILOT


def test_random_bytes_and_unknown_ids_are_counted_never_fatal():
    async def go():
        async with one_vehicle() as (ch, sim, link):
            rng = random.Random(3)
            for _ in range(300):
                link._deliver(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 280))), True, None)
            link._deliver(bytes(rng.getrandbits(8) for _ in range(5000)), False, None)  # as from a serial line
            unknown = bytearray(sim.codec.encode(sim.codec.mav.heartbeat_encode(2, 3, 0, 0, 0)))
            unknown[7:10] = (60000).to_bytes(3, "little")  # a message id no dialect knows
            ch.link.sink = lambda lk, msg: ch.feed(msg)
            link._deliver(bytes(unknown), True, None)
            # the link still carries a full conversation afterwards
            got = await commands.set_message_interval(ch, mavlink.MAVLINK_MSG_ID_SYS_STATUS, 2.0)
            return got, link.counters
    result, counters = asyncio.run(go())
    assert result == mavlink.MAV_RESULT_ACCEPTED
    assert counters.bad_frames > 50
    assert counters.unknown_ids >= 1


@pytest.mark.parametrize("text, kind", [("udp:127.0.0.1:14550", "udpin"), ("udpin:0.0.0.0:14560", "udpin"),
                                        ("udpout:10.0.0.5:14550", "udpout"), ("tcp:127.0.0.1:5760", "tcp"),
                                        ("serial:/dev/ttyUSB0:57600", "serial"), ("/dev/ttyACM0:115200", "serial")])
def test_endpoint_strings_parse(text, kind):
    assert parse_endpoint(text).kind == kind


@pytest.mark.parametrize("text, needle", [("ftp:1.2.3.4:21", "scheme 'ftp'"), ("udp:127.0.0.1:99999", "'99999'"),
                                          ("tcp:host:", "port ''"), ("serial:/dev/ttyUSB0:fast", "DEVICE:BAUD")])
def test_bad_endpoint_names_the_value(text, needle):
    with pytest.raises(EndpointError) as err:
        parse_endpoint(text)
    assert needle in str(err.value) and text in str(err.value)


def test_tcp_link_decodes_a_stream_and_reconnects_after_the_vehicle_drops_it():
    async def go():
        sender = Codec(7, 1)
        connections = []

        async def vehicle(reader, writer):
            connections.append(writer)
            frame = sender.encode(sender.mav.heartbeat_encode(2, 3, 0, 0, 0))
            writer.write(frame[:5])  # a frame split across TCP segments
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(frame[5:] + frame)
            await writer.drain()
            if len(connections) == 1:
                writer.close()  # drop the first connection; the link must come back by itself

        server = await asyncio.start_server(vehicle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        got = []
        link = TcpLink(parse_endpoint(f"tcp:127.0.0.1:{port}"), lambda lk, msg: got.append(msg))
        link.reconnect_s = 0.05
        await link.open()
        for _ in range(200):
            if len(connections) >= 2 and len(got) >= 4:
                break
            await asyncio.sleep(0.02)
        link.close()
        server.close()
        return got, connections
    got, connections = asyncio.run(go())
    assert len(connections) >= 2
    assert len(got) >= 4 and all(m.get_type() == "HEARTBEAT" and m.get_srcSystem() == 7 for m in got)


def test_read_back_compares_what_arducopter_stores_and_says_what_differs_in_words():
    trig = MissionItem(command=mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST, frame=mavlink.MAV_FRAME_MISSION, param1=29.76,
                       param3=1.0)
    wp = MissionItem(command=mavlink.MAV_CMD_NAV_WAYPOINT, frame=REL, lat=LAT, lon=LON, alt=40.123,
                     param4=float("nan"))
    sent = [home_item(LAT, LON, HOME_AMSL), wp, trig]
    # ArduPilot: home in seq 0, the trigger in frame 0 with zeros, cm altitude, float32 params, yaw NaN → 0
    held = [home_item(0.0, 0.0, 0.0), MissionItem(**{**wp.to_dict(), "frame": mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                                                      "alt": 40.12, "param4": 0.0}),
            MissionItem(command=trig.command, frame=mavlink.MAV_FRAME_GLOBAL, param1=29.760000228881836, param3=1.0)]
    assert differences(sent, held, skip_first=True) == []
    assert differences(sent, held, skip_first=False)  # seq 0 does differ
    moved = [held[0], MissionItem(**{**held[1].to_dict(), "alt": 60.0}), MissionItem(**{**held[2].to_dict(), "param1": 0.0})]
    assert differences(sent, moved, skip_first=True) == [
        "seq 1 (NAV_WAYPOINT): altitude 40.12 m sent, vehicle holds 60.00 m",
        "seq 2 (DO_SET_CAM_TRIGG_DIST): param1 29.76 sent, vehicle holds 0"]
    assert differences(sent, held[:2], skip_first=True) == ["3 items sent, vehicle holds 2"]
