"""PARAM_SET / PARAM_REQUEST_READ with their PARAM_VALUE answers (MAVLink parameter protocol).

Used to check or set what the autopilot flies with (speeds, failsafes) before a sortie. ArduPilot
answers a PARAM_SET with the value it now holds (float32); an unknown name gets no answer.
"""

from __future__ import annotations

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mavlink.channel import Channel
from flight.mavlink.errors import MavlinkError, ProtocolTimeout


def _name(msg) -> str:
    raw = msg.param_id
    return (raw if isinstance(raw, str) else raw.decode(errors="replace")).rstrip("\x00")


async def _ask(ch: Channel, request, name: str, timeout_s: float, retries: int):
    ch.begin()
    for _ in range(retries + 1):
        ch.send(request)
        got = await ch.expect(("PARAM_VALUE",), timeout_s, lambda m: _name(m) == name)
        if got is not None:
            return got
    raise ProtocolTimeout(f"parameter {name}: system {ch.system_id} did not answer (unknown name on this firmware?)")


async def read_param(ch: Channel, name: str, timeout_s: float = 1.5, retries: int = 3) -> float:
    """The value the vehicle holds for `name`; ProtocolTimeout names the parameter if it never answers."""
    request = ch.mav.param_request_read_encode(ch.system_id, ch.component_id, name.encode(), -1)
    return float((await _ask(ch, request, name, timeout_s, retries)).param_value)


async def set_param(ch: Channel, name: str, value: float, timeout_s: float = 1.5, retries: int = 3) -> float:
    """Set `name` and return the value the vehicle reports back; raises if it keeps another value."""
    request = ch.mav.param_set_encode(ch.system_id, ch.component_id, name.encode(), float(value),
                                      mavlink.MAV_PARAM_TYPE_REAL32)
    held = float((await _ask(ch, request, name, timeout_s, retries)).param_value)
    if abs(held - value) > 1e-4 * max(1.0, abs(value)):
        raise MavlinkError(f"parameter {name}: {value:g} sent, vehicle keeps {held:g}")
    return held
