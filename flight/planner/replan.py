"""Re-plan from a partial state: fly only what is left, on the drones that are left.

Called by the fleet controller when a drone returns early (low battery) or fails. Strips a
stopped sortie has photographed completely are not flown again; its unflown strips become
new sorties from the same dock (or, when no drone is left there, from the nearest dock that
has one), and every sortie not yet flown is rescheduled on the remaining drones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from detector.geo import MetricFrame
from flight.mission import Sortie, SurveyLane
from flight.planner.errors import PlanningError
from flight.planner.items import build_sortie
from flight.planner.plan import DockInfo, Plan
from flight.planner.planned import PlannedSortie
from flight.planner.reassign import repack, steal
from flight.planner.schedule import lower_bound_s, recharge_s
from flight.planner.sorties import Flight, dock_flight
from flight.planner.strips import Strip
from flight.planner.survey import Survey

NEAREST_DOCKS = 10  # docks weighed for a sortie whose own dock has no drone left


def replan(plan: Plan, progress: Mapping[str, int], failed_drones: Iterable[str], now_s: float,
           still_flying: Iterable[str] = ()) -> Plan:
    """A new Plan (revision + 1) holding only the work that remains at `now_s`.

    progress: sortie id → index of the last mission item the drone reached, for every sortie
      that has started. A sortie whose last item (RTL) was reached is done; any other sortie
      in `progress` has stopped there, and its strips with `end_item > index` are re-planned.
    failed_drones: drones that will not fly again.
    still_flying: ids of sorties that will be flown as they are (in the air, or queued with the
      fleet controller); their drones are busy until they land and recharge. One with no
      working drone of its own is flown by whichever drone the controller frees first.
    Times stay on the original plan's clock (seconds from its start). The plan's sorties are
    read back into metres once (`planned_sortie`); those that move are built afresh, the rest
    keep their missions.
    """
    failed, flying = set(failed_drones), set(still_flying)
    frame = MetricFrame(plan.epsg)
    dock_of = plan.drone_dock()
    unknown = (set(progress) | flying) - {s.id for s in plan.sorties}
    if unknown:
        raise PlanningError(f"plan {plan.name!r}", "progress", sorted(unknown)[:5], "unknown sortie ids",
                            "ids of sorties in this plan")
    alive = {d for d in dock_of if d not in failed}
    if not alive:
        raise PlanningError(f"plan {plan.name!r}", "failed_drones", sorted(failed), "no drone is left to fly",
                            "at least one working drone")
    staffed = {dock_of[d] for d in alive}
    ready = {d: float(now_s) for d in alive}
    no_fly_m = shapely.union_all([frame.to_metric(shape(g)) for g in plan.no_fly]) if plan.no_fly else None
    flights: dict[tuple[str, float], Flight] = {}

    def read(s: Sortie) -> PlannedSortie:
        dock = plan.dock(s.dock_id)
        key = (dock.id, s.altitude_agl_m)
        if key not in flights:
            flights[key] = dock_flight(dock, s.altitude_agl_m, frame, no_fly_m)
        return planned_sortie(s, dock, flights[key], frame)

    kept: dict[PlannedSortie, Sortie] = {}  # still to fly as planned (they may yet move), and their missions
    airborne: list[Sortie] = []
    leftovers: list[tuple[PlannedSortie, list[Strip]]] = []
    for s in plan.sorties:
        last = len(s.items) - 1
        if s.id in flying:
            start = now_s if s.start_s is None else s.start_s
            if s.drone_id in alive:
                end = start + s.duration_s
                ready[s.drone_id] = max(ready[s.drone_id],
                                        end + recharge_s(s.duration_s, plan.dock(s.dock_id), _drone(plan, s.drone_id)))
            airborne.append(replace(s, start_s=start))
            continue
        if s.id in progress:
            if progress[s.id] >= last:
                continue
            if s.drone_id in alive:
                flown = min(max(0.0, now_s - (now_s if s.start_s is None else s.start_s)), s.duration_s)
                ready[s.drone_id] = max(ready[s.drone_id],
                                        now_s + recharge_s(flown, plan.dock(s.dock_id), _drone(plan, s.drone_id)))
            leftovers.append((read(s), lane_strips(s.unflown_lanes(progress[s.id]), frame)))
        elif s.dock_id in staffed:
            kept[read(s)] = s
        else:
            p = read(s)
            leftovers.append((p, list(p.strips)))
    fresh = _rehome(leftovers, list(kept), plan, ready, frame, no_fly_m)
    priority = {z.id: z.priority for z in plan.zones}
    todo, schedule = steal(list(kept) + fresh, plan.docks, priority, frame, no_fly_m, ready_s=ready)
    makespan = max(schedule.makespan_s, *(s.start_s + s.duration_s for s in airborne), float(now_s))
    built = [replace(kept[p], drone_id=schedule.slots[p].drone_id, start_s=schedule.slots[p].start_s) if p in kept
             else build_sortie(p, frame, schedule.slots[p]) for p in todo]
    sweep = sum(s.sweep_s for s in built)
    old_ids = {s.id for s in plan.sorties}
    done = {}
    for s in airborne + built:
        done[s.zone_id] = max(done.get(s.zone_id, 0.0), s.start_s + s.duration_s)
    zones = [replace(z, done_s=round(done.get(z.id, min(z.done_s, now_s)), 1)) for z in plan.zones]
    bound = now_s + lower_bound_s(sweep, plan.docks, plan.farthest_round_trip_s, alive)
    return replace(plan, sorties=airborne + built, zones=zones, makespan_s=round(makespan, 1),
                   lower_bound_s=round(bound, 1), sweep_s=round(sweep, 1), revision=plan.revision + 1,
                   notes=plan.notes + [f"revision {plan.revision + 1} at t={now_s:.0f} s: "
                                       f"{sum(s.id not in old_ids for s in built)} new sorties, "
                                       f"failed drones {sorted(failed) or 'none'}"])


def lane_strips(lanes: Sequence[SurveyLane], frame: MetricFrame) -> list[Strip]:
    """The strips that mission lanes photograph, back in metres (one cell: flown in the order given)."""
    out = []
    for lane in lanes:
        x0, y0 = frame.forward(*lane.start)
        x1, y1 = frame.forward(*lane.end)
        out.append(Strip(float(x0), float(y0), float(x1), float(y1), lane.photos, lane.spacing_m, 0))
    return out


def planned_sortie(s: Sortie, dock: DockInfo, flight: Flight, frame: MetricFrame) -> PlannedSortie:
    """A saved plan's sortie in metres again: the one place a finished mission is read back, since
    re-planning starts from plan.json."""
    survey = Survey(s.altitude_agl_m, s.footprint_m[0], s.footprint_m[1], s.gsd_cm / 100.0, s.strip_spacing_m,
                    s.trigger_distance_m)
    return PlannedSortie(s.id, dock, s.zone_id, survey, flight, tuple(lane_strips(s.lanes, frame)), s.duration_s,
                         s.sweep_s, s.replaces)


def _drone(plan: Plan, drone_id: str):
    return next(r for d in plan.docks for r in d.drones if r.id == drone_id)


def _rehome(leftovers: list[tuple[PlannedSortie, list[Strip]]], kept: list[PlannedSortie], plan: Plan,
            ready: dict[str, float], frame: MetricFrame, no_fly_m) -> list[PlannedSortie]:
    """New sorties for unflown strips: from their own dock if it has drones left, else from whichever
    of the nearest staffed docks in reach would land them earliest (`steal` polishes afterwards)."""
    dock_of = plan.drone_dock()
    drones: dict[str, int] = {}
    busy: dict[str, float] = {}  # drone-seconds of work queued at each staffed dock
    for drone, t in ready.items():
        drones[dock_of[drone]] = drones.get(dock_of[drone], 0) + 1
        busy[dock_of[drone]] = busy.get(dock_of[drone], 0.0) + t
    for s in kept:
        busy[s.dock_id] += s.duration_s + recharge_s(s.duration_s, s.dock, s.dock.flyer)
    fresh: list[PlannedSortie] = []
    for s, strips in leftovers:
        if not strips:
            continue
        if s.dock_id in drones:
            order = [plan.dock(s.dock_id)]
        else:
            x, y = strips[0].x0, strips[0].y0
            order = sorted((plan.dock(d) for d in drones),
                           key=lambda d: (math.dist(frame.forward(d.lon, d.lat), (x, y)), d.id))[:NEAREST_DOCKS]
        best: tuple[float, str, list[PlannedSortie]] | None = None
        error: PlanningError | None = None
        for dock in order:
            try:
                new = [replace(n, replaces=s.id) for n in
                       repack(s, strips, dock, frame, no_fly_m, f"{s.id}~r{plan.revision + 1}")]
            except PlanningError as err:
                error = err
                continue
            work = sum(n.duration_s + recharge_s(n.duration_s, dock, dock.flyer) for n in new)
            finish = (busy[dock.id] + work) / drones[dock.id]
            if best is None or finish < best[0]:
                best = (finish, dock.id, new)
        if best is None:
            raise error or PlanningError(f"sortie {s.id!r}", "dock_id", s.dock_id, "no dock with drones left")
        _, dock_id, new = best
        busy[dock_id] += sum(n.duration_s + recharge_s(n.duration_s, plan.dock(dock_id), plan.dock(dock_id).flyer)
                             for n in new)
        fresh.extend(new)
    return fresh
