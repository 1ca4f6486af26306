"""Re-plan from a partial state: fly only what is left, on the drones that are left.

Called by the fleet controller when a drone returns early (low battery) or fails. Strips a
stopped sortie has photographed completely are not flown again; its unflown strips become
new sorties from the same dock (or, when no drone is left there, from the nearest dock that
has one), and every sortie not yet flown is rescheduled on the remaining drones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace

import shapely
from shapely.geometry import shape

from detector.geo import MetricFrame
from flight.mission import Sortie
from flight.planner.errors import PlanningError
from flight.planner.plan import Plan
from flight.planner.reassign import repack, steal
from flight.planner.schedule import lower_bound_s, recharge_s

NEAREST_DOCKS = 10  # docks weighed for a sortie whose own dock has no drone left


def replan(plan: Plan, progress: Mapping[str, int], failed_drones: Iterable[str], now_s: float,
           still_flying: Iterable[str] = ()) -> Plan:
    """A new Plan (revision + 1) holding only the work that remains at `now_s`.

    progress: sortie id → index of the last mission item the drone reached, for every sortie
      that has started. A sortie whose last item (RTL) was reached is done; any other sortie
      in `progress` has stopped there, and its strips with `end_item > index` are re-planned.
    failed_drones: drones that will not fly again.
    still_flying: ids of sorties in the air that will finish as planned; they stay as they
      are and their drones are busy until they land and recharge.
    Times stay on the original plan's clock (seconds from its start).
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
    kept: list[Sortie] = []
    leftovers: list[tuple[Sortie, list]] = []
    for s in plan.sorties:
        last = len(s.items) - 1
        if s.id in flying and s.drone_id in alive:
            end = (now_s if s.start_s is None else s.start_s) + s.duration_s
            ready[s.drone_id] = max(ready[s.drone_id], end + recharge_s(s.duration_s, plan.dock(s.dock_id), _drone(plan, s.drone_id)))
            kept.append(s)
            continue
        if s.id in progress:
            if progress[s.id] >= last:
                continue
            if s.drone_id in alive:
                flown = min(max(0.0, now_s - (now_s if s.start_s is None else s.start_s)), s.duration_s)
                ready[s.drone_id] = max(ready[s.drone_id],
                                        now_s + recharge_s(flown, plan.dock(s.dock_id), _drone(plan, s.drone_id)))
            leftovers.append((s, s.unflown_lanes(progress[s.id])))
        elif s.dock_id in staffed:
            kept.append(replace(s, drone_id=None, start_s=None))
        else:
            leftovers.append((s, s.lanes))
    no_fly_m = shapely.union_all([frame.to_metric(shape(g)) for g in plan.no_fly]) if plan.no_fly else None
    fresh = _rehome(leftovers, kept, plan, ready, frame, no_fly_m)
    airborne = [s for s in kept if s.id in flying]
    priority = {z.id: z.priority for z in plan.zones}
    todo, makespan = steal([s for s in kept if s.id not in flying] + fresh, plan.docks, priority, frame, no_fly_m,
                           ready_s=ready)
    makespan = max(makespan, *(s.start_s + s.duration_s for s in airborne), float(now_s))
    sweep = sum(s.sweep_s for s in todo)
    old_ids = {s.id for s in plan.sorties}
    done = {}
    for s in airborne + todo:
        done[s.zone_id] = max(done.get(s.zone_id, 0.0), s.start_s + s.duration_s)
    zones = [replace(z, done_s=round(done.get(z.id, min(z.done_s, now_s)), 1)) for z in plan.zones]
    bound = now_s + lower_bound_s(sweep, plan.docks, plan.farthest_round_trip_s, alive)
    return replace(plan, sorties=airborne + todo, zones=zones, makespan_s=round(makespan, 1),
                   lower_bound_s=round(bound, 1), sweep_s=round(sweep, 1), revision=plan.revision + 1,
                   notes=plan.notes + [f"revision {plan.revision + 1} at t={now_s:.0f} s: "
                                       f"{sum(s.id not in old_ids for s in todo)} new sorties, "
                                       f"failed drones {sorted(failed) or 'none'}"])


def _drone(plan: Plan, drone_id: str):
    return next(r for d in plan.docks for r in d.drones if r.id == drone_id)


def _rehome(leftovers: list[tuple[Sortie, list]], kept: list[Sortie], plan: Plan, ready: dict[str, float],
            frame: MetricFrame, no_fly_m) -> list[Sortie]:
    """New sorties for unflown strips: from their own dock if it has drones left, else from whichever
    of the nearest staffed docks in reach would land them earliest (`steal` polishes afterwards)."""
    dock_of = plan.drone_dock()
    drones: dict[str, int] = {}
    busy: dict[str, float] = {}  # drone-seconds of work queued at each staffed dock
    for drone, t in ready.items():
        drones[dock_of[drone]] = drones.get(dock_of[drone], 0) + 1
        busy[dock_of[drone]] = busy.get(dock_of[drone], 0.0) + t
    for s in kept:
        busy[s.dock_id] += s.duration_s + recharge_s(s.duration_s, plan.dock(s.dock_id), plan.dock(s.dock_id).flyer)
    fresh: list[Sortie] = []
    for s, lanes in leftovers:
        if not lanes:
            continue
        if s.dock_id in drones:
            order = [plan.dock(s.dock_id)]
        else:
            x, y = frame.forward(*lanes[0].start)
            order = sorted((plan.dock(d) for d in drones),
                           key=lambda d: (math.dist(frame.forward(d.lon, d.lat), (x, y)), d.id))[:NEAREST_DOCKS]
        best: tuple[float, str, list[Sortie]] | None = None
        error: PlanningError | None = None
        for dock in order:
            try:
                new = repack(s, lanes, dock, frame, no_fly_m, f"{s.id}~r{plan.revision + 1}")
                for n in new:
                    n.meta["replaces"] = s.id
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
