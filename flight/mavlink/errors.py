"""Protocol failures as exceptions whose text an operator can act on."""

from __future__ import annotations

from pymavlink.dialects.v20 import ardupilotmega as mavlink


def enum_text(enum: str, value: int, describe: bool = False) -> str:
    entry = mavlink.enums.get(enum, {}).get(value)
    if entry is None:
        return f"{enum} {value}"
    if describe and entry.description:
        return f"{entry.name} ({entry.description.strip().rstrip('.')})"
    return entry.name


class MavlinkError(RuntimeError):
    pass


class ProtocolTimeout(MavlinkError):
    pass


class MissionRejected(MavlinkError):
    """The vehicle answered a mission transfer with a MAV_MISSION_RESULT other than ACCEPTED."""

    def __init__(self, result: int, during: str) -> None:
        self.result = result
        super().__init__(f"mission {during} rejected by vehicle: {enum_text('MAV_MISSION_RESULT', result, describe=True)}")


class MissionMismatch(MavlinkError):
    """The mission read back differs from the one sent (uploads to ArduPilot are not atomic)."""


class CommandFailed(MavlinkError):
    def __init__(self, command: int, result: int, detail: str = "") -> None:
        self.command = command
        self.result = result
        extra = f"; vehicle said: {detail}" if detail else ""
        super().__init__(f"{enum_text('MAV_CMD', command)} → {enum_text('MAV_RESULT', result)}{extra}")
