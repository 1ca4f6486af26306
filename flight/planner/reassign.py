"""Move planned strips to another dock: re-pack a sortie's strips from there, and even out finish times.

Used after planning (`steal`: the drone that lands last hands its last sortie to a
neighbouring dock's drone when that lands the whole plan earlier) and by `replan`
(unflown strips of a stopped sortie, sorties of a dock with no drone left).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from shapely.geometry.base import BaseGeometry

from detector.geo import MetricFrame
from flight.mission import Sortie, SurveyLane
from flight.planner.airspace import airspace_near
from flight.planner.items import make_sortie
from flight.planner.plan import DockInfo
from flight.planner.schedule import assign, recharge_s
from flight.planner.sorties import Flight, pack
from flight.planner.strips import Strip
from flight.planner.survey import Survey

NEIGHBOURS = 6  # docks tried when handing a sortie over
MAX_MOVES = 1500


def lane_strips(lanes: Sequence[SurveyLane], frame: MetricFrame) -> list[Strip]:
    out = []
    for lane in lanes:
        x0, y0 = frame.forward(*lane.start)
        x1, y1 = frame.forward(*lane.end)
        out.append(Strip(float(x0), float(y0), float(x1), float(y1), lane.photos, lane.spacing_m, 0))
    return out


def sortie_survey(s: Sortie) -> Survey:
    return Survey(s.altitude_agl_m, s.footprint_m[0], s.footprint_m[1], s.meta.get("gsd_cm", 0.0) / 100.0,
                  s.meta.get("strip_spacing_m", 0.0), s.trigger_distance_m)


def repack(s: Sortie, lanes: Sequence[SurveyLane], dock: DockInfo, frame: MetricFrame,
           no_fly_m: BaseGeometry | None, new_id: str) -> list[Sortie]:
    """Sorties flying `lanes` of sortie `s` from `dock` (PlanningError if out of its reach)."""
    x, y = frame.forward(dock.lon, dock.lat)
    xy = (float(x), float(y))
    flight = Flight(dock.flyer.spec, xy, s.altitude_agl_m, airspace_near(no_fly_m, xy, dock.flyer))
    out = []
    for k, p in enumerate(pack(lane_strips(lanes, frame), flight, f"strips of sortie {s.id!r} from dock {dock.id!r}")):
        new = make_sortie(f"{new_id}.{k}", dock, s.zone_id, p.strips, p.duration_s, p.sweep_s, sortie_survey(s),
                          frame, flight)
        if "replaces" in s.meta:  # a re-planned remainder moved again still stands for the same sortie
            new.meta["replaces"] = s.meta["replaces"]
        out.append(new)
    return out


def _finish_times(sorties: list[Sortie], ready_s: dict[str, float]) -> dict[str, float]:
    """When each working drone lands its last sortie (its ready time if it has none)."""
    end = dict(ready_s)
    for s in sorties:
        end[s.drone_id] = max(end.get(s.drone_id, 0.0), s.start_s + s.duration_s)
    return end


def steal(sorties: list[Sortie], docks: list[DockInfo], priority: dict[str, int], frame: MetricFrame,
          no_fly_m: BaseGeometry | None, priority_first: bool = False,
          ready_s: dict[str, float] | None = None) -> tuple[list[Sortie], float]:
    """Even out finish times; returns the sorties and the makespan.

    The drone that finishes last hands one of its sorties to a nearby dock's drone whenever
    that brings the end forward. With `priority_first` this runs level by level: for level L
    the end of level ≤ L work is brought forward by moving level-L sorties only, which never
    delays a lower level (drones fly lower numbers first), so priority-1 zones are done
    city-wide as early as the docks in reach allow — at the cost of a longer makespan.
    ready_s: working drones and when each is free (re-planning); default every drone at 0.
    """
    ready = ready_s if ready_s is not None else {r.id: 0.0 for d in docks for r in d.drones}
    assign(sorties, docks, priority, ready)
    levels = sorted({priority.get(s.zone_id, 99) for s in sorties})
    for level in levels if priority_first else [None]:
        sorties = _even_out(sorties, docks, priority, frame, no_fly_m, level, ready)
    return sorties, assign(sorties, docks, priority, ready)


def _even_out(sorties: list[Sortie], docks: list[DockInfo], priority: dict[str, int], frame: MetricFrame,
              no_fly_m: BaseGeometry | None, level: int | None, ready: dict[str, float]) -> list[Sortie]:
    """Move sorties of `level` (any, if None) while the end of level ≤ `level` work comes forward."""
    def upto(s: Sortie) -> bool:
        return level is None or priority.get(s.zone_id, 99) <= level

    def done(ss: list[Sortie]) -> float:
        return max((s.start_s + s.duration_s for s in ss if upto(s)), default=0.0)

    by_id = {d.id: d for d in docks}
    xy = {d.id: frame.forward(d.lon, d.lat) for d in docks if any(r.id in ready for r in d.drones)}
    current = done(sorties)
    for _ in range(MAX_MOVES):
        early = [s for s in sorties if upto(s)]
        end = _finish_times(early, ready)
        last_drone = max(end, key=lambda d: (end[d], d))
        mine = sorted((s for s in early if s.drone_id == last_drone
                       and (level is None or priority.get(s.zone_id, 99) == level)), key=lambda s: -s.start_s)
        for candidate in mine:
            moved = _hand_over(candidate, early, end, current, by_id, xy, frame, no_fly_m)
            if moved is None:
                continue
            trial = [s for s in sorties if s is not candidate] + moved
            assign(trial, docks, priority, ready)
            if done(trial) < current - 1.0:
                sorties, current = trial, done(trial)
                break
            assign(sorties, docks, priority, ready)
        else:
            break
    return sorties


def _hand_over(last: Sortie, sorties: list[Sortie], end: dict[str, float], makespan: float,
               by_id: dict[str, DockInfo], xy: dict, frame: MetricFrame,
               no_fly_m: BaseGeometry | None) -> list[Sortie] | None:
    """`last` re-packed at the nearby dock where it would land earliest, if that beats the makespan."""
    here = frame.forward(*last.lanes[0].start)
    others = sorted((d for d in xy if d != last.dock_id), key=lambda d: (math.dist(xy[d], here), d))[:NEIGHBOURS]
    best: tuple[float, list[Sortie]] | None = None
    for dock_id in others:
        dock = by_id[dock_id]
        try:
            new = repack(last, last.lanes, dock, frame, no_fly_m, f"{last.id}@{dock_id}")
        except ValueError:
            continue
        working = [r for r in dock.drones if r.id in end]
        if not working:
            continue
        free = min(end[r.id] + _tail_charge(sorties, r.id, dock) for r in working)
        finish = free + sum(n.duration_s for n in new) + sum(recharge_s(n.duration_s, dock, dock.flyer) for n in new[:-1])
        if finish < makespan - 1.0 and (best is None or finish < best[0]):
            best = (finish, new)
    return best[1] if best else None


def _tail_charge(sorties: list[Sortie], drone_id: str, dock: DockInfo) -> float:
    """Recharge after a drone's last sortie (0 for an idle drone)."""
    mine = [s for s in sorties if s.drone_id == drone_id]
    if not mine:
        return 0.0
    last = max(mine, key=lambda s: s.start_s)
    return recharge_s(last.duration_s, dock, dock.flyer)
