"""Each drone's operational state, read off the controller: docked, charging (with state of
charge), flying, returning, fault, weather hold, paused — and where it is."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flight.fleet.controller import FleetController
from flight.fleet.sortie import SortieState


class DroneStatus(str, enum.Enum):
    DOCKED = "docked"  # on the dock, charged enough to launch
    CHARGING = "charging"
    FLYING = "flying"
    RETURNING = "returning"
    FAULT = "fault"
    WEATHER_HOLD = "weather_hold"
    PAUSED = "paused"
    OFFLINE = "offline"  # not heard from yet, or silent for three stale periods


@dataclass(frozen=True)
class DroneView:
    id: str
    dock_id: str
    status: DroneStatus
    battery_pct: int | None
    lat: float | None
    lon: float | None
    sortie: str | None
    last_item: int
    reason: str


def drone_views(controller: FleetController, dock_of: dict[str, str], paused: dict[str, str],
                weather_hold: dict[str, str]) -> list[DroneView]:
    out = []
    # a heartbeat or two lost (stale) is not a drone gone: offline only after three stale periods
    offline_after_s, now = 3 * controller.settings.stale_after_s, controller.clock.now()
    for drone in controller.drone_list:
        dl = controller.hub.drones[drone.id]
        state, run = dl.state, controller.active.get(drone.id)
        flying = run is not None and state.armed
        reason = ""
        if drone.id in controller.failed:
            status, reason = DroneStatus.FAULT, next((r.reason for r in reversed(controller.runs)
                                                       if r.drone_id == drone.id), "")
        elif flying and run.state == SortieState.RETURNING:
            status, reason = DroneStatus.RETURNING, run.reason
        elif flying:
            status = DroneStatus.FLYING
        elif drone.id in paused:  # the operator's word first, even for a drone not heard from
            status, reason = DroneStatus.PAUSED, paused[drone.id]
        elif state.last_heartbeat is None or now - state.last_heartbeat > offline_after_s:
            status = DroneStatus.OFFLINE
        elif drone.id in weather_hold:
            status, reason = DroneStatus.WEATHER_HOLD, weather_hold[drone.id]
        elif state.battery_pct is not None and state.battery_pct < 100.0:  # on the charger until full
            status = DroneStatus.CHARGING
        else:
            status = DroneStatus.DOCKED
        out.append(DroneView(drone.id, dock_of.get(drone.id, ""), status, state.battery_pct, state.lat, state.lon,
                             run.sortie.id if run else None, run.last_item if run else -1, reason))
    return out
