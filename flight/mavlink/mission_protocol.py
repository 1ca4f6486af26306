"""GCS side of the MAVLink mission protocol (upload and download), per mavlink.io.

Timeouts and retries follow the spec's defaults (1.5 s, 5 retries). The vehicle drives an upload
by requesting items, in any order and as often as it likes (ArduPilot uses the legacy
MISSION_REQUEST, PX4 MISSION_REQUEST_INT; both get MISSION_ITEM_INT). Any MISSION_ACK other than
ACCEPTED ends the transfer with `MissionRejected` — except INVALID_SEQUENCE, which ArduPilot
sends for a duplicate item while the transfer carries on.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mavlink.channel import Channel
from flight.mavlink.errors import MavlinkError, MissionRejected, ProtocolTimeout
from flight.mavlink.mission_wire import MISSION_TYPE, decode_item, encode_item
from flight.mission import MissionItem

_REQUESTS = ("MISSION_REQUEST_INT", "MISSION_REQUEST")
_ITEMS = ("MISSION_ITEM_INT", "MISSION_ITEM")


@dataclass(frozen=True)
class Timing:
    timeout_s: float = 1.5
    retries: int = 5


@dataclass
class UploadReport:
    items: int
    requests: int = 0
    resends: int = 0
    ack_seen: bool = True


def _ours(msg) -> bool:
    return getattr(msg, "mission_type", MISSION_TYPE) == MISSION_TYPE


async def upload(ch: Channel, items: list[MissionItem], timing: Timing = Timing()) -> UploadReport:
    """Send `items` (already including ArduPilot's home slot if needed). Raises MissionRejected or
    ProtocolTimeout. If the final ACK is lost the report says `ack_seen=False`; read back to confirm."""
    count = len(items)
    report = UploadReport(items=count)
    ch.begin()
    ch.send(ch.mav.mission_count_encode(ch.system_id, ch.component_id, count, MISSION_TYPE))
    last_sent: int | None = None
    misses = 0
    replies_left = (timing.retries + 1) * (count + 1)  # each item asked for retries+1 times at most: beyond is a loop
    while True:
        msg = await ch.expect(_REQUESTS + ("MISSION_ACK",), timing.timeout_s, _ours)
        if msg is not None:
            replies_left -= 1
            if replies_left < 0:
                raise MavlinkError(f"mission upload: system {ch.system_id} sent {(timing.retries + 1) * (count + 1)} "
                                   f"requests and acks for {count} items without accepting; giving up")
        if msg is None:
            misses += 1
            if misses > timing.retries:
                if last_sent == count - 1:
                    report.ack_seen = False
                    return report
                raise ProtocolTimeout(f"mission upload: no reply from system {ch.system_id} after "
                                      f"{timing.retries} retries (last item sent: {last_sent})")
            report.resends += 1
            if last_sent is None:
                ch.send(ch.mav.mission_count_encode(ch.system_id, ch.component_id, count, MISSION_TYPE))
            else:
                ch.send(encode_item(ch.mav, ch.system_id, ch.component_id, last_sent, items[last_sent]))
            continue
        misses = 0
        if msg.get_type() == "MISSION_ACK":
            if msg.type == mavlink.MAV_MISSION_ACCEPTED and (count == 0 or last_sent is not None):
                return report
            if msg.type in (mavlink.MAV_MISSION_INVALID_SEQUENCE, mavlink.MAV_MISSION_ACCEPTED):
                continue  # a nag about a duplicate, or an ack left over from an earlier transfer
            raise MissionRejected(msg.type, "upload")
        if not 0 <= msg.seq < count:
            continue
        report.requests += 1
        last_sent = msg.seq
        ch.send(encode_item(ch.mav, ch.system_id, ch.component_id, msg.seq, items[msg.seq]))


async def download(ch: Channel, timing: Timing = Timing()) -> list[MissionItem]:
    """Read the whole mission back, item by item, and acknowledge it."""
    count_msg = None
    ch.begin()
    for _ in range(timing.retries + 1):
        ch.send(ch.mav.mission_request_list_encode(ch.system_id, ch.component_id, MISSION_TYPE))
        count_msg = await ch.expect(("MISSION_COUNT",), timing.timeout_s, _ours)
        if count_msg is not None:
            break
    if count_msg is None:
        raise ProtocolTimeout(f"mission download: system {ch.system_id} sent no MISSION_COUNT")
    items: list[MissionItem] = []
    for seq in range(count_msg.count):
        for _ in range(timing.retries + 1):
            ch.send(ch.mav.mission_request_int_encode(ch.system_id, ch.component_id, seq, MISSION_TYPE))
            got = await ch.expect(_ITEMS + ("MISSION_ACK",), timing.timeout_s,
                                  lambda m, s=seq: m.get_type() == "MISSION_ACK" or (m.seq == s and _ours(m)))
            if got is None:
                continue
            if got.get_type() == "MISSION_ACK":
                if got.type == mavlink.MAV_MISSION_ACCEPTED:
                    continue
                raise MissionRejected(got.type, "download")
            items.append(decode_item(got))
            break
        else:
            raise ProtocolTimeout(f"mission download: item {seq} of {count_msg.count} never arrived")
    ch.send(ch.mav.mission_ack_encode(ch.system_id, ch.component_id, mavlink.MAV_MISSION_ACCEPTED, MISSION_TYPE))
    return items
