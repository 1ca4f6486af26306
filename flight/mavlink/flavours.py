"""Where ArduPilot and PX4 differ for a GCS: flight-mode numbers and mission seq 0.

Chosen from HEARTBEAT.autopilot. Mode names used across patrol are the ArduCopter ones
(GUIDED, AUTO, RTL, LAND, LOITER); PX4 gets its nearest equivalent.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymavlink.dialects.v20 import ardupilotmega as mavlink


@dataclass(frozen=True)
class Flavour:
    name: str
    home_at_seq0: bool  # ArduPilot keeps home in mission slot 0; PX4 starts the mission at 0
    modes: dict[str, int]  # mode name → HEARTBEAT.custom_mode
    must_guided_before_arm: bool

    def mode_name(self, custom_mode: int) -> str:
        for name, value in self.modes.items():
            if value == custom_mode:
                return name
        return f"MODE_{custom_mode}"

    def set_mode_params(self, name: str) -> tuple[float, float, float]:
        """param1..3 of MAV_CMD_DO_SET_MODE for mode `name`."""
        if name not in self.modes:
            raise ValueError(f"mode {name!r} is not known for {self.name}; known: {sorted(self.modes)}")
        custom = self.modes[name]
        flag = float(mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED)
        if self.name == "px4":
            return flag, float((custom >> 16) & 0xFF), float((custom >> 24) & 0xFF)
        return flag, float(custom), 0.0


ARDUCOPTER_MODES = {"STABILIZE": 0, "ALT_HOLD": 2, "AUTO": 3, "GUIDED": 4, "LOITER": 5, "RTL": 6, "LAND": 9,
                    "BRAKE": 17, "SMART_RTL": 21}


def _px4(main: int, sub: int = 0) -> int:
    return (main << 16) | (sub << 24)


PX4_MODES = {"POSCTL": _px4(3), "GUIDED": _px4(4, 3), "LOITER": _px4(4, 3), "AUTO": _px4(4, 4),
             "RTL": _px4(4, 5), "LAND": _px4(4, 6), "TAKEOFF": _px4(4, 2)}

ARDUPILOT = Flavour("ardupilot", home_at_seq0=True, modes=ARDUCOPTER_MODES, must_guided_before_arm=True)
PX4 = Flavour("px4", home_at_seq0=False, modes=PX4_MODES, must_guided_before_arm=False)


def flavour_for(autopilot: int) -> Flavour:
    return PX4 if autopilot == mavlink.MAV_AUTOPILOT_PX4 else ARDUPILOT
