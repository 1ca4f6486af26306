"""MAVLink 2 framing over raw bytes: pymavlink's parser fed by our own sockets, with counters.

Links hand us whatever bytes arrived; we never let a malformed frame, an unknown message id or
noise escape as an exception — each is counted so operators can see a dirty link.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mavlink.signing import Signing

GCS_SYSTEM_ID = 255
GCS_COMPONENT_ID = 190


@dataclass
class LinkCounters:
    """What a link has seen: good messages, bytes, and everything we dropped and why."""

    bytes_in: int = 0
    messages_in: int = 0
    messages_out: int = 0
    bad_frames: int = 0
    unknown_ids: int = 0
    wrong_target: int = 0
    unknown_system: int = 0
    parser_errors: int = 0
    bad_signatures: int = 0  # unsigned, wrongly signed or replayed while signing is on
    send_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Codec:
    """Encoder and robust decoder for one link (MAVLink keeps sequence numbers per sender)."""

    system_id: int = GCS_SYSTEM_ID
    component_id: int = GCS_COMPONENT_ID
    counters: LinkCounters = field(default_factory=LinkCounters)
    signing: Signing | None = None

    def __post_init__(self) -> None:
        self._out = mavlink.MAVLink(None, srcSystem=self.system_id, srcComponent=self.component_id)
        self._out.WIRE_PROTOCOL_VERSION = "2.0"
        if self.signing is not None:
            self.signing.apply(self._out, sign_outgoing=True)
        self._in = self._parser()

    def _parser(self) -> mavlink.MAVLink:
        """A robust parser that verifies signatures when this link signs (a bad one comes back as BAD_DATA)."""
        parser = mavlink.MAVLink(None, srcSystem=self.system_id, srcComponent=self.component_id)
        parser.robust_parsing = True
        if self.signing is not None:
            self.signing.apply(parser, sign_outgoing=False)
        return parser

    @property
    def mav(self) -> mavlink.MAVLink:
        """The pymavlink object whose *_encode methods build messages."""
        return self._out

    def encode(self, msg: mavlink.MAVLink_message) -> bytes:
        self.counters.messages_out += 1
        return msg.pack(self._out)

    def decode(self, data: bytes, datagram: bool = False) -> list[mavlink.MAVLink_message]:
        """All complete, valid, known messages in `data`; everything else is counted and dropped.

        With `datagram=True` (UDP) a frame never spans packets, so a truncated tail is dropped
        instead of swallowing the start of the next datagram.
        """
        self.counters.bytes_in += len(data)
        try:
            parsed = self._in.parse_buffer(data) or []
        except Exception:  # pymavlink raises on some corrupt v2 payloads even in robust mode
            self.counters.parser_errors += 1
            self._in = self._parser()
            return []
        if datagram and self._in.buf_len() > 0:
            self.counters.bad_frames += 1
            self._in.buf = bytearray()
            self._in.buf_index = 0
            self._in.expected_length = mavlink.HEADER_LEN_V1 + 2
        good = []
        for msg in parsed:
            kind = msg.get_type()
            if kind == "BAD_DATA" and msg.reason == "Invalid signature":
                self.counters.bad_signatures += 1
            elif kind == "BAD_DATA":
                self.counters.bad_frames += 1
            elif kind == "UNKNOWN" or isinstance(msg, mavlink.MAVLink_unknown):
                self.counters.unknown_ids += 1
            else:
                good.append(msg)
        self.counters.messages_in += len(good)
        return good


def addressed_elsewhere(msg: mavlink.MAVLink_message, system_id: int) -> bool:
    """True when `msg` names a target system that is neither us nor broadcast (0)."""
    target = getattr(msg, "target_system", None)
    return target is not None and target not in (0, system_id)
