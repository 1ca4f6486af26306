"""MissionItem ↔ MISSION_ITEM_INT, and the read-back comparison done before every launch."""

from __future__ import annotations

import math
import struct

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mavlink.errors import enum_text
from flight.mission import MissionItem

MISSION_TYPE = mavlink.MAV_MISSION_TYPE_MISSION

# A frame and its *_INT twin mean the same thing; autopilots may hand back either.
_FRAME_CLASS = {
    mavlink.MAV_FRAME_GLOBAL_INT: mavlink.MAV_FRAME_GLOBAL,
    mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT: mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
    mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT: mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT,
}


def frame_class(frame: int) -> int:
    return _FRAME_CLASS.get(frame, frame)


def is_global(frame: int) -> bool:
    return frame_class(frame) in (mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
                                  mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT)


def home_item(lat: float, lon: float, alt_amsl: float) -> MissionItem:
    """What ArduPilot keeps in seq 0: a waypoint at home, absolute altitude."""
    return MissionItem(command=mavlink.MAV_CMD_NAV_WAYPOINT, frame=mavlink.MAV_FRAME_GLOBAL,
                       lat=lat, lon=lon, alt=alt_amsl)


def encode_item(mav, target_system: int, target_component: int, seq: int, item: MissionItem, current: int = 0):
    scale = is_global(item.frame)
    x = int(round(item.lat * 1e7)) if scale else int(round(item.lat * 1e4))
    y = int(round(item.lon * 1e7)) if scale else int(round(item.lon * 1e4))
    return mav.mission_item_int_encode(
        target_system, target_component, seq, item.frame, item.command, current, item.autocontinue,
        item.param1, item.param2, item.param3, item.param4, x, y, item.alt, MISSION_TYPE)


def decode_item(msg) -> MissionItem:
    """MISSION_ITEM_INT (or legacy float MISSION_ITEM) → MissionItem."""
    if msg.get_type() == "MISSION_ITEM_INT":
        div = 1e7 if is_global(msg.frame) else 1e4
        lat, lon = msg.x / div, msg.y / div
    else:
        lat, lon = float(msg.x), float(msg.y)
    return MissionItem(command=msg.command, frame=msg.frame, param1=msg.param1, param2=msg.param2,
                       param3=msg.param3, param4=msg.param4, lat=lat, lon=lon, alt=msg.z,
                       autocontinue=msg.autocontinue)


def has_location(command: int) -> bool:
    """Whether the MAVLink spec gives `command` a position (its `hasLocation`); unknown commands do.

    For the others the frame and x/y/z carry nothing: ArduPilot hands them back in frame 0
    (MAV_FRAME_GLOBAL) with zeros, whatever was sent.
    """
    entry = mavlink.enums["MAV_CMD"].get(command)
    return True if entry is None else bool(getattr(entry, "has_location", True))


def command_name(command: int) -> str:
    entry = mavlink.enums["MAV_CMD"].get(command)
    return entry.name.removeprefix("MAV_CMD_") if entry is not None else f"command {command}"


def _meaningful_params(command: int) -> tuple[int, ...]:
    """Params 1-4 the spec describes (not "Empty" / "Reserved"): the ones an autopilot keeps."""
    entry = mavlink.enums["MAV_CMD"].get(command)
    if entry is None:
        return (1, 2, 3, 4)
    return tuple(i for i in (1, 2, 3, 4)
                 if not entry.param.get(i, "Empty").strip().lower().startswith(("empty", "reserved")))


def _f32(value: float) -> float:
    """`value` as the wire carries it (MISSION_ITEM_INT params are float32)."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def _param_matches(sent: float, held: float) -> bool:
    if math.isnan(sent):
        return True  # NaN asks for the vehicle's default; it may store and report anything
    if math.isnan(held):
        return False
    return abs(_f32(sent) - held) <= 1e-4 * max(1.0, abs(sent))


def item_differences(seq: int, a: MissionItem, b: MissionItem) -> list[str]:
    """What differs between item `a` sent and `b` held by the vehicle, in words; [] when they match.

    Compared as autopilots store them: command; for commands with a position, the frame (a
    frame and its *_INT twin are one), lat/lon to 1e-7° and altitude to 1 cm (ArduPilot keeps
    centimetres: 40.123 m reads back 40.12 m); params 1-4 only where the spec gives them a
    meaning, after float32 rounding, a NaN sent matching anything.
    """
    where = f"seq {seq} ({command_name(a.command)})"
    if a.command != b.command:
        return [f"seq {seq}: {command_name(a.command)} sent, vehicle holds {command_name(b.command)}"]
    out = []
    if has_location(a.command):
        if frame_class(a.frame) != frame_class(b.frame):
            out.append(f"{where}: {enum_text('MAV_FRAME', a.frame)} sent, vehicle holds "
                       f"{enum_text('MAV_FRAME', b.frame)}")
        if abs(a.lat - b.lat) > 1.5e-7 or abs(a.lon - b.lon) > 1.5e-7:
            out.append(f"{where}: position {a.lat:.7f}, {a.lon:.7f} sent, vehicle holds {b.lat:.7f}, {b.lon:.7f}")
        if abs(a.alt - b.alt) > 0.0101:
            out.append(f"{where}: altitude {a.alt:.2f} m sent, vehicle holds {b.alt:.2f} m")
    for i in _meaningful_params(a.command):
        sent, held = getattr(a, f"param{i}"), getattr(b, f"param{i}")
        if not _param_matches(sent, held):
            out.append(f"{where}: param{i} {sent:g} sent, vehicle holds {held:g}")
    return out


def differences(sent: list[MissionItem], got: list[MissionItem], skip_first: bool) -> list[str]:
    """Every difference between the mission sent and the one read back, in words.

    `skip_first`: seq 0 is not compared (ArduPilot keeps home there, whatever was sent).
    """
    if len(sent) != len(got):
        return [f"{len(sent)} items sent, vehicle holds {len(got)}"]
    out = []
    for seq, (a, b) in enumerate(zip(sent, got)):
        if not (skip_first and seq == 0):
            out += item_differences(seq, a, b)
    return out
