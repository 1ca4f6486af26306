"""Sorties → drones and start times, and the lower bound no schedule can beat.

Each dock's drones take that dock's sorties in priority order, each sortie going to whichever
drone is free first (list scheduling). After a sortie the drone recharges for the dock's
charge time scaled by the share of the battery budget it used (a dock charging 20→90 % in
32 min charges a half-used battery in about half that).
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from flight.mission import Sortie
from flight.planner.plan import DockInfo, DroneInfo


def recharge_s(duration_s: float, dock: DockInfo, drone: DroneInfo) -> float:
    return dock.charge_time_min * 60.0 * min(1.0, duration_s / drone.spec.flight_budget_s)


def duty(dock: DockInfo, drone: DroneInfo) -> float:
    """Share of time a drone can be in the air: flight / (flight + charge)."""
    budget = drone.spec.flight_budget_s
    return budget / (budget + dock.charge_time_min * 60.0)


def assign(sorties: list[Sortie], docks: list[DockInfo], priority: dict[str, int],
           ready_s: dict[str, float] | None = None) -> float:
    """Set drone_id and start_s on every sortie; returns the makespan (last landing)."""
    ready_s = ready_s or {}
    by_dock: dict[str, list[Sortie]] = defaultdict(list)
    for s in sorties:
        by_dock[s.dock_id].append(s)
    makespan = max(ready_s.values(), default=0.0)
    for dock in docks:
        todo = by_dock.get(dock.id, [])
        if not todo:
            continue
        drones = {d.id: d for d in dock.drones if d.id in ready_s or not ready_s}
        if not drones:
            raise ValueError(f"dock {dock.id!r} has sorties but no drone left to fly them")
        free = [(ready_s.get(d, 0.0), d) for d in sorted(drones)]
        heapq.heapify(free)
        for s in sorted(todo, key=lambda s: (priority.get(s.zone_id, 99), s.duration_s)):
            t, drone_id = heapq.heappop(free)
            s.drone_id, s.start_s = drone_id, t
            end = t + s.duration_s
            makespan = max(makespan, end)
            heapq.heappush(free, (end + recharge_s(s.duration_s, dock, drones[drone_id]), drone_id))
    return makespan


def lower_bound_s(sweep_s: float, docks: list[DockInfo], farthest_round_trip_s: float,
                  drones: set[str] | None = None) -> float:
    """max(total sweep / Σ duty over drones, farthest round trip)."""
    capacity = sum(duty(d, r) for d in docks for r in d.drones if drones is None or r.id in drones)
    return max(sweep_s / capacity if capacity else float("inf"), farthest_round_trip_s)
