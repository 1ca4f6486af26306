"""Vehicle side of the mission protocol, as ArduCopter 4.7 behaves.

Asks for items with the legacy MISSION_REQUEST; re-requests after 1 s of silence and gives up
with OPERATION_CANCELLED after 7 re-requests (8 requests in 8 s, as ArduCopter 4.8 SITL does); answers out-of-order items with INVALID_SEQUENCE
and keeps going; rejects unknown commands (UNSUPPORTED) and local frames (UNSUPPORTED_FRAME).
Like ArduCopter 4.8 SITL, an upload is not atomic: MISSION_COUNT cuts the old mission to the new
count and each item is stored as it arrives, so a refused upload leaves a mix of new and old
items. Reads seq 0 back as home, and items without a position in frame 0 with zeros.
"""

from __future__ import annotations

from typing import Callable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mavlink.mission_wire import MISSION_TYPE, decode_item, encode_item
from flight.sim.copter import SUPPORTED_COMMANDS, SUPPORTED_FRAMES, Copter

Send = Callable[[object], None]


class MissionServer:
    request_timeout_s = 1.0
    max_rerequests = 7
    capacity = 724  # items ArduCopter fits in 16 KiB of storage (sim default)

    def __init__(self, copter: Copter, mav, send: Send) -> None:
        self.copter = copter
        self.mav = mav
        self.send = send
        self._incoming: int | None = None  # item count of the upload in progress
        self._expect = 0
        self._last_request_t = 0.0
        self._rerequests = 0
        self._gcs = (255, 190)
        self._done_count: int | None = None
        self.uploads_completed = 0

    def _ack(self, result: int) -> None:
        self.send(self.mav.mission_ack_encode(*self._gcs, result, MISSION_TYPE))

    def _request(self, seq: int) -> None:
        self._last_request_t = self.copter.t
        self.send(self.mav.mission_request_encode(*self._gcs, seq, MISSION_TYPE))

    def handle(self, msg) -> bool:
        """Consume a mission-protocol message; False if it was not one."""
        kind = msg.get_type()
        if getattr(msg, "mission_type", MISSION_TYPE) != MISSION_TYPE:
            if kind in ("MISSION_COUNT", "MISSION_REQUEST_LIST"):
                self._gcs = (msg.get_srcSystem(), msg.get_srcComponent())
                self._ack(mavlink.MAV_MISSION_UNSUPPORTED)
            return kind.startswith("MISSION_")
        if kind == "MISSION_COUNT":
            self._begin_upload(msg)
        elif kind in ("MISSION_ITEM_INT", "MISSION_ITEM"):
            self._item(msg)
        elif kind == "MISSION_REQUEST_LIST":
            self._gcs = (msg.get_srcSystem(), msg.get_srcComponent())
            self.send(self.mav.mission_count_encode(*self._gcs, len(self.copter.mission), MISSION_TYPE))
        elif kind in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            self._send_item(msg)
        elif kind == "MISSION_CLEAR_ALL":
            self.copter.store_mission([self.copter.home_item()])
            self._ack(mavlink.MAV_MISSION_ACCEPTED)
        elif kind == "MISSION_SET_CURRENT":
            if 0 < msg.seq < len(self.copter.mission):
                self.copter.current = msg.seq
        elif kind != "MISSION_ACK":
            return False
        return True

    def _begin_upload(self, msg) -> None:
        self._gcs = (msg.get_srcSystem(), msg.get_srcComponent())
        if msg.count > self.capacity:
            self._ack(mavlink.MAV_MISSION_NO_SPACE)
            return
        if msg.count == 0:
            self.copter.store_mission([self.copter.home_item()])
            self._ack(mavlink.MAV_MISSION_ACCEPTED)
            return
        self.copter.truncate_mission(msg.count)
        self._incoming = msg.count
        self._expect = 0
        self._rerequests = 0
        self._done_count = None
        self._request(0)

    def _item(self, msg) -> None:
        if self._incoming is None:
            if self._done_count is not None and msg.seq == self._done_count - 1:
                self._ack(mavlink.MAV_MISSION_ACCEPTED)  # our final ACK was lost; say it again
            return
        if msg.seq != self._expect:
            self._ack(mavlink.MAV_MISSION_INVALID_SEQUENCE)
            return
        if msg.command not in SUPPORTED_COMMANDS:
            return self._abort(mavlink.MAV_MISSION_UNSUPPORTED)
        if msg.frame not in SUPPORTED_FRAMES:
            return self._abort(mavlink.MAV_MISSION_UNSUPPORTED_FRAME)
        self.copter.write_item(msg.seq, decode_item(msg))
        self._expect += 1
        self._rerequests = 0
        if self._expect == self._incoming:
            self._done_count = self._incoming
            self._incoming = None
            self.uploads_completed += 1
            self._ack(mavlink.MAV_MISSION_ACCEPTED)
        else:
            self._request(self._expect)

    def _abort(self, result: int) -> None:
        self._incoming = None
        self._ack(result)

    def _send_item(self, msg) -> None:
        self._gcs = (msg.get_srcSystem(), msg.get_srcComponent())
        if not 0 <= msg.seq < len(self.copter.mission):
            self._ack(mavlink.MAV_MISSION_INVALID_SEQUENCE)
            return
        item = self.copter.mission[msg.seq]
        out = encode_item(self.mav, *self._gcs, msg.seq, item, current=int(msg.seq == self.copter.current))
        if msg.get_type() == "MISSION_REQUEST":
            out = self.mav.mission_item_encode(*self._gcs, msg.seq, item.frame, item.command, out.current,
                                               item.autocontinue, item.param1, item.param2, item.param3,
                                               item.param4, item.lat, item.lon, item.alt, MISSION_TYPE)
        self.send(out)

    def tick(self) -> None:
        """Re-request a stalled upload; cancel it after `max_rerequests` tries."""
        if self._incoming is None or self.copter.t - self._last_request_t < self.request_timeout_s:
            return
        if self._rerequests >= self.max_rerequests:
            self._abort(mavlink.MAV_MISSION_OPERATION_CANCELLED)
            return
        self._rerequests += 1
        self._request(self._expect)
