"""What the controller knows about one vehicle, updated from its MAVLink messages."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mavlink.flavours import ARDUPILOT, Flavour, flavour_for


@dataclass
class StatusEvent:
    time: datetime
    severity: int
    text: str


@dataclass
class VehicleState:
    drone_id: str
    system_id: int
    flavour: Flavour = ARDUPILOT
    autopilot: int | None = None
    last_heartbeat: float | None = None
    stale: bool = False
    lat: float | None = None
    lon: float | None = None
    alt_amsl_m: float | None = None
    alt_rel_m: float | None = None
    heading_deg: float = 0.0
    mode: str = "?"
    armed: bool = False
    battery_pct: int | None = None
    voltage_v: float | None = None
    mission_current: int = 0
    mission_total: int = 0
    last_reached: int = -1
    gps_fix: int = 0
    satellites: int = 0
    landed_state: int = mavlink.MAV_LANDED_STATE_UNDEFINED
    prearm_ok: bool = False
    home: tuple[float, float, float] | None = None
    crashed: bool = False
    position_time_ms: int = 0
    events: deque = field(default_factory=lambda: deque(maxlen=50))

    def update(self, msg, now: float, utc: datetime) -> None:
        kind = msg.get_type()
        if kind == "HEARTBEAT":
            if msg.type == mavlink.MAV_TYPE_GCS:
                return
            self.autopilot = msg.autopilot
            self.flavour = flavour_for(msg.autopilot)
            self.last_heartbeat = now
            self.stale = False
            self.armed = bool(msg.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
            self.mode = self.flavour.mode_name(msg.custom_mode)
        elif kind == "GLOBAL_POSITION_INT":
            self.lat, self.lon = msg.lat / 1e7, msg.lon / 1e7
            self.alt_amsl_m, self.alt_rel_m = msg.alt / 1000.0, msg.relative_alt / 1000.0
            if msg.hdg != 65535:
                self.heading_deg = msg.hdg / 100.0
            self.position_time_ms = msg.time_boot_ms
        elif kind == "SYS_STATUS":
            if msg.battery_remaining >= 0:
                self.battery_pct = msg.battery_remaining
            self.voltage_v = msg.voltage_battery / 1000.0
            bit = mavlink.MAV_SYS_STATUS_PREARM_CHECK
            self.prearm_ok = bool(msg.onboard_control_sensors_health & bit) or not (
                msg.onboard_control_sensors_present & bit)
        elif kind == "BATTERY_STATUS":
            if msg.battery_remaining >= 0:
                self.battery_pct = msg.battery_remaining
        elif kind == "MISSION_CURRENT":
            self.mission_current = msg.seq
            self.mission_total = getattr(msg, "total", 0)
        elif kind == "MISSION_ITEM_REACHED":
            self.last_reached = max(self.last_reached, msg.seq)
        elif kind == "GPS_RAW_INT":
            self.gps_fix, self.satellites = msg.fix_type, msg.satellites_visible
        elif kind == "EXTENDED_SYS_STATE":
            self.landed_state = msg.landed_state
        elif kind == "HOME_POSITION":
            self.home = (msg.latitude / 1e7, msg.longitude / 1e7, msg.altitude / 1000.0)
        elif kind == "STATUSTEXT":
            text = msg.text if isinstance(msg.text, str) else msg.text.decode(errors="replace")
            text = text.rstrip("\x00")
            self.events.append(StatusEvent(utc, msg.severity, text))
            if text.startswith("Crash"):
                self.crashed = True

    def last_text(self, prefix: str = "") -> str:
        for ev in reversed(self.events):
            if ev.text.startswith(prefix):
                return ev.text
        return ""

    def snapshot(self) -> dict:
        return {
            "drone_id": self.drone_id, "system_id": self.system_id, "autopilot": self.flavour.name,
            "stale": self.stale, "mode": self.mode, "armed": self.armed, "lat": self.lat, "lon": self.lon,
            "alt_rel_m": self.alt_rel_m, "battery_pct": self.battery_pct, "mission_current": self.mission_current,
            "gps_fix": self.gps_fix, "landed_state": self.landed_state,
            "last_text": self.events[-1].text if self.events else "",
        }
