"""Which drone flies a task: the one that gets there first with battery to finish and come home.

Candidates are docked drones (waiting on the charger first if they must) and drones already
flying a sortie they may leave at the next strip boundary. Every candidate is kept with its ETA
and battery margin, so the choice can be explained (`why`) the way dispatch explains routing.
Battery is the drone model's `Battery`, as the planner, the simulator and the controller read it:
charged to `launch_pct` of the flight before take-off, and in the air enough for the flight left
and the way home (`return_pct`); the margin is what is left above the reserve.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from flight.assets import DroneSpec
from flight.fleet.sortie import FleetSettings
from flight.ops.fleetview import DroneStatus, DroneView
from flight.planner.sorties import Flight


@dataclass(frozen=True)
class Job:
    """What a task asks of one drone, in metres and seconds."""

    target_xy: tuple[float, float]  # where its photographing starts
    end_xy: tuple[float, float]  # where it ends (home is flown from here)
    work_s: float  # from the first photo to the last
    min_battery_pct: float | None = None  # a conditional task's own floor


@dataclass(frozen=True)
class Unit:
    """One drone as dispatching sees it."""

    view: DroneView
    spec: DroneSpec
    flight: Flight  # from its dock, at the task's altitude
    xy: tuple[float, float] | None  # where it is now (metres), when known
    strip_left_m: float  # airborne: what is left of the strip it is photographing
    charge_s: float  # its dock's charger, empty to full


@dataclass(frozen=True)
class Candidate:
    drone_id: str
    dock_id: str
    status: str
    eta_s: float | None
    battery_pct: float | None
    need_pct: float | None
    margin_pct: float | None
    ok: bool
    note: str

    def to_dict(self) -> dict:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Choice:
    drone_id: str | None
    airborne: bool
    candidates: tuple[Candidate, ...]

    @property
    def why(self) -> dict:
        best = next((c for c in self.candidates if c.drone_id == self.drone_id), None)
        if best is None:
            summary = "no drone can fly it now: " + "; ".join(f"{c.drone_id}: {c.note}" for c in self.candidates[:6])
        else:
            summary = (f"{best.drone_id} ({best.status}) arrives first, in {best.eta_s / 60:.1f} min, "
                       f"with {best.margin_pct:.0f}% battery to spare after the return")
            runner_up = next((c for c in self.candidates if c.ok and c.drone_id != best.drone_id), None)
            if runner_up is not None:
                summary += f"; next best {runner_up.drone_id} in {runner_up.eta_s / 60:.1f} min"
        return {"chosen": self.drone_id, "airborne": self.airborne, "summary": summary,
                "candidates": [c.to_dict() for c in self.candidates]}


def _pct(seconds: float, spec: DroneSpec) -> float:
    return 100.0 * seconds / (spec.usable_flight_time_min * 60.0)


def assess(job: Job, unit: Unit, settings: FleetSettings) -> Candidate:
    v, spec, flight = unit.view, unit.spec, unit.flight
    battery = v.battery_pct

    def no(note: str) -> Candidate:
        return Candidate(v.id, v.dock_id, v.status.value, None, battery, None, None, False, note)

    if battery is None:
        return no("battery not reported yet")
    home_s = flight.home_s(job.end_xy)
    if v.status in (DroneStatus.DOCKED, DroneStatus.CHARGING):
        out_s = flight.out_s(job.target_xy)
        need = _pct(out_s + job.work_s + home_s, spec)
        start = max(spec.battery.launch_pct(out_s + job.work_s + home_s), job.min_battery_pct or 0.0)
        if start > 100.0:
            return Candidate(v.id, v.dock_id, v.status.value, None, battery, need, 100.0 - start, False,
                             "too far for one battery from this dock")
        wait_s = max(0.0, start - battery) / 100.0 * unit.charge_s
        if job.min_battery_pct is not None and battery < job.min_battery_pct:
            return Candidate(v.id, v.dock_id, v.status.value, wait_s + out_s, battery, need, battery - start,
                             False, f"battery {battery}% below the task's {job.min_battery_pct:g}%")
        note = f"charging {wait_s / 60:.0f} min first" if wait_s > 0 else "on the dock, charged"
        return Candidate(v.id, v.dock_id, v.status.value, wait_s + out_s, battery, need,
                         max(battery, start) - need - spec.battery.reserve_pct, True, note)
    if v.status == DroneStatus.FLYING and unit.xy is not None:
        if job.min_battery_pct is not None:
            return no("conditional tasks launch from a dock")
        to_strip_end = unit.strip_left_m / spec.cruise_speed_m_s
        fly_to = math.dist(unit.xy, job.target_xy) / spec.transit_speed_m_s
        eta = to_strip_end + fly_to
        need = _pct(eta + job.work_s + home_s, spec)
        margin = battery - spec.battery.return_pct(eta + job.work_s + home_s)
        ok = margin >= 0
        return Candidate(v.id, v.dock_id, v.status.value, eta, battery, need, margin, ok,
                         "in the air: leaves its sortie at the next strip end" if ok
                         else "in the air, but not battery enough to fly it and return")
    return no(v.reason or v.status.value)


def choose(job: Job, units: list[Unit], settings: FleetSettings) -> Choice:
    """The feasible candidate with the earliest arrival (ties: most battery to spare)."""
    cands = sorted((assess(job, u, settings) for u in units),
                   key=lambda c: (not c.ok, c.eta_s if c.eta_s is not None else math.inf, -(c.margin_pct or 0.0)))
    best = cands[0] if cands and cands[0].ok else None
    return Choice(best.drone_id if best else None, best is not None and best.status == DroneStatus.FLYING.value,
                  tuple(cands))
