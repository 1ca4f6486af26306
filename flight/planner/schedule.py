"""Sorties → drones and start times, and the lower bound no schedule can beat.

Each dock's drones take that dock's sorties in priority order, each sortie going to whichever
drone is free first (list scheduling). After a sortie the drone recharges for the dock's
charge time scaled by the share of the battery budget it used (a dock charging 20→90 % in
32 min charges a half-used battery in about half that).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from flight.planner.plan import DockInfo, DroneInfo


class Schedulable(Protocol):
    """What scheduling reads of a sortie (the planner's `PlannedSortie`, the baseline's too)."""

    @property
    def dock_id(self) -> str: ...

    zone_id: str
    duration_s: float


@dataclass(frozen=True)
class Slot:
    """Who flies a sortie, and when it takes off (seconds from plan start)."""

    drone_id: str
    start_s: float


@dataclass(frozen=True)
class Schedule:
    """Every scheduled sortie's slot (keyed by the sortie itself) and when the last drone lands."""

    slots: Mapping[Schedulable, Slot]
    makespan_s: float

    def finish_times(self, sorties: Sequence[Schedulable], ready_s: Mapping[str, float]) -> dict[str, float]:
        """When each working drone lands the last of `sorties` (its ready time if it flies none)."""
        end = dict(ready_s)
        for s in sorties:
            slot = self.slots[s]
            end[slot.drone_id] = max(end.get(slot.drone_id, 0.0), slot.start_s + s.duration_s)
        return end


def recharge_s(duration_s: float, dock: DockInfo, drone: DroneInfo) -> float:
    return dock.charge_time_min * 60.0 * min(1.0, duration_s / drone.spec.flight_budget_s)


def duty(dock: DockInfo, drone: DroneInfo) -> float:
    """Share of time a drone can be in the air: flight / (flight + charge)."""
    budget = drone.spec.flight_budget_s
    return budget / (budget + dock.charge_time_min * 60.0)


def assign(sorties: Sequence[Schedulable], docks: Sequence[DockInfo], priority: Mapping[str, int],
           ready_s: Mapping[str, float] | None = None) -> Schedule:
    """A drone and start time for every sortie, and the makespan (last landing)."""
    ready_s = ready_s or {}
    by_dock: dict[str, list[Schedulable]] = defaultdict(list)
    for s in sorties:
        by_dock[s.dock_id].append(s)
    makespan = max(ready_s.values(), default=0.0)
    slots: dict[Schedulable, Slot] = {}
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
            slots[s] = Slot(drone_id, t)
            end = t + s.duration_s
            makespan = max(makespan, end)
            heapq.heappush(free, (end + recharge_s(s.duration_s, dock, drones[drone_id]), drone_id))
    return Schedule(slots, makespan)


def lower_bound_s(sweep_s: float, docks: list[DockInfo], farthest_round_trip_s: float,
                  drones: set[str] | None = None) -> float:
    """max((total sweep − Σ duty × charge) / Σ duty, farthest round trip), over the drones.

    A drone landing its last sortie at T has flown f ≤ duty × (T + charge): every sortie but the
    last is followed by a recharge of charge × (its share of the budget), and the last one's
    share is at most 1. Summed over drones, sweep ≤ Σ f ≤ Σ duty × (T + charge), hence the
    bound; it does not charge a recharge after each drone's last sortie, which no schedule flies.
    """
    fleet = [(duty(d, r), d.charge_time_min * 60.0) for d in docks for r in d.drones if drones is None or r.id in drones]
    capacity = sum(u for u, _ in fleet)
    if not capacity:
        return float("inf")
    return max((sweep_s - sum(u * c for u, c in fleet)) / capacity, farthest_round_trip_s)
