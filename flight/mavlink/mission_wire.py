"""MissionItem ↔ MISSION_ITEM_INT, and the read-back comparison done before every launch."""

from __future__ import annotations

import math

from pymavlink.dialects.v20 import ardupilotmega as mavlink

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


def _close(a: float, b: float, tol: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= tol


def differences(sent: list[MissionItem], got: list[MissionItem], skip_first: bool) -> list[str]:
    """Human-readable differences between the mission sent and the one read back.

    Compares what every autopilot stores: command, frame (INT twins equal), position to 1e-7°,
    altitude to 1 cm (ArduPilot keeps centimetres) and param1 (hold time, trigger distance...).
    Seq 0 is skipped on ArduPilot, which replaces it with home.
    """
    if len(sent) != len(got):
        return [f"vehicle holds {len(got)} items, {len(sent)} were sent"]
    out = []
    for seq, (a, b) in enumerate(zip(sent, got)):
        if skip_first and seq == 0:
            continue
        if a.command != b.command:
            out.append(f"seq {seq}: command {b.command} on vehicle, {a.command} sent")
        elif frame_class(a.frame) != frame_class(b.frame):
            out.append(f"seq {seq}: frame {b.frame} on vehicle, {a.frame} sent")
        elif not (_close(a.lat, b.lat, 2e-7) and _close(a.lon, b.lon, 2e-7) and _close(a.alt, b.alt, 0.011)):
            out.append(f"seq {seq}: position ({b.lat}, {b.lon}, {b.alt}) on vehicle, ({a.lat}, {a.lon}, {a.alt}) sent")
        elif not _close(a.param1, b.param1, 1e-3 * max(1.0, abs(a.param1))):
            out.append(f"seq {seq}: param1 {b.param1} on vehicle, {a.param1} sent")
    return out
