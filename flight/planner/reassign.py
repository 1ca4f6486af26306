"""Move planned strips to another dock: re-pack a sortie's strips from there, and even out finish times.

Works on `PlannedSortie`s (metres) and hands back a `Schedule`; nothing here builds mission items.

Used after planning (`steal`: the drone that lands last hands its last sortie to a
neighbouring dock's drone when that lands the whole plan earlier) and by `replan`
(unflown strips of a stopped sortie, sorties of a dock with no drone left).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace

from shapely.geometry.base import BaseGeometry

from detector.geo import MetricFrame
from flight.planner.border import NEIGHBOURS
from flight.planner.plan import DockInfo
from flight.planner.planned import PlannedSortie
from flight.planner.schedule import Schedule, assign
from flight.planner.sorties import dock_flight, pack
from flight.planner.strips import Strip

# NEIGHBOURS (docks a drone may hand strips to) is border's: both steps even out among the same
# six nearest docks. The gaps here are larger than border's (MIN_GAP_S 120 s, MIN_GAIN_S 30 s) on
# purpose: a border move hands over area that the receiver lays out and packs for its own dock, but
# lanes handed over here stay laid out for the giver's, so every move costs the receiver transit
# and pays only for a wider gap.
MAX_MOVES = 1500
SPLIT_AT = (0.25, 0.5, 0.75)  # shares of a sortie's lanes offered besides one, two and all
CANDIDATES = 5  # the giver's sorties nearest a receiving dock that offer lanes to it
MERGE_HOSTS = 2  # the receiver's sorties, nearest the lanes, tried for folding them in
MIN_GAP_S = 300.0  # a receiver must land at least this much earlier than the giver
FOLD_SHORTEST = 6  # a dock's shortest sorties tried in pairs for flying as one
MIN_GAIN_S = 60.0  # a move must bring the giver's landing this much forward


def repack(s: PlannedSortie, strips: Sequence[Strip], dock: DockInfo, frame: MetricFrame,
           no_fly_m: BaseGeometry | None, new_id: str) -> list[PlannedSortie]:
    """Sorties flying `strips` of sortie `s` from `dock` (PlanningError if out of its reach).

    The strips are flown in the order given (their cells are dropped: `pack` would regroup
    by cell), and a re-planned remainder moved again still stands for the same sortie."""
    flight = dock_flight(dock, s.survey.altitude_m, frame, no_fly_m)
    todo = [replace(t, cell=0) for t in strips]
    return [PlannedSortie.of(f"{new_id}.{k}", dock, s.zone_id, p, s.survey, flight, s.replaces)
            for k, p in enumerate(pack(todo, flight, f"strips of sortie {s.id!r} from dock {dock.id!r}"))]


def steal(sorties: list[PlannedSortie], docks: list[DockInfo], priority: Mapping[str, int], frame: MetricFrame,
          no_fly_m: BaseGeometry | None, priority_first: bool = False,
          ready_s: Mapping[str, float] | None = None) -> tuple[list[PlannedSortie], Schedule]:
    """Even out finish times; returns the sorties and their schedule.

    A drone that finishes late hands all or part of a sortie to a nearby dock's drone that
    finishes earlier (see `_even_out`). With `priority_first` this runs level by level: for
    level L only level-L sorties move and only the end of level ≤ L work counts, which never
    delays a lower level (drones fly lower numbers first), so priority-1 zones are done
    city-wide as early as the docks in reach allow — at the cost of a longer makespan.
    ready_s: working drones and when each is free (re-planning); default every drone at 0.
    """
    ready = ready_s if ready_s is not None else {r.id: 0.0 for d in docks for r in d.drones}
    levels = sorted({priority.get(s.zone_id, 99) for s in sorties})
    for level in levels if priority_first else [None]:
        sorties = _even_out(sorties, docks, priority, frame, no_fly_m, level, ready)
    return sorties, assign(sorties, docks, priority, ready)


def _even_out(sorties: list[PlannedSortie], docks: list[DockInfo], priority: Mapping[str, int], frame: MetricFrame,
              no_fly_m: BaseGeometry | None, level: int | None, ready: Mapping[str, float]) -> list[PlannedSortie]:
    """Move strips of `level` (any, if None) from late drones to earlier neighbours.

    A move is kept when the giver lands at least MIN_GAIN_S earlier and no drone it touches
    then lands as late as the giver did: the finish times, sorted latest first, get
    lexicographically smaller. So work also flows from a drone that is late but not last to
    one that is early, and a late region passes work on through its neighbours, which
    handing over only from the last drone cannot do once its neighbours are late too.
    """
    def upto(s: PlannedSortie) -> bool:
        return level is None or priority.get(s.zone_id, 99) <= level

    def movable(s: PlannedSortie) -> bool:
        return level is None or priority.get(s.zone_id, 99) == level

    def ends(ss: list[PlannedSortie], touched: set[str] | None = None,
             base: dict[str, float] | None = None) -> tuple[dict[str, float], Schedule]:
        """Finish times of `ss` and their schedule; with `touched`, only those docks are scheduled
        again, the others' finish times kept from `base`."""
        if touched is None:
            plan = assign(ss, docks, priority, ready)
            return plan.finish_times([s for s in ss if upto(s)], ready), plan
        here = [by_id[d] for d in sorted(touched)]
        local = [s for s in ss if s.dock_id in touched]
        plan = assign(local, here, priority, ready)
        return {**base, **plan.finish_times([s for s in local if upto(s)],
                                            {r.id: ready[r.id] for d in here for r in d.drones if r.id in ready})}, plan

    by_id = {d.id: d for d in docks}
    xy = {d.id: frame.forward(d.lon, d.lat) for d in docks if any(r.id in ready for r in d.drones)}
    near = {d: sorted((o for o in xy if o != d), key=lambda o: (math.dist(xy[o], xy[d]), o))[:NEIGHBOURS] for d in xy}
    dock_of = {r.id: d.id for d in docks for r in d.drones}
    end, schedule = ends(sorties)
    stuck: set[str] = set()
    for _ in range(MAX_MOVES):
        mean = sum(end.values()) / len(end)
        givers = sorted((d for d in end if end[d] > mean and dock_of[d] not in stuck), key=lambda d: (-end[d], d))
        for giver in givers:
            home = by_id[dock_of[giver]]
            mine = [s for s in sorties if schedule.slots[s].drone_id == giver and movable(s)]
            trial = _move_from(giver, mine, home, sorties, end, by_id, near, frame, no_fly_m,
                               lambda ss, touched: ends(ss, touched, end)[0])
            if trial is None:
                folded = _fold_own(home, sorties, frame, no_fly_m, movable)
                trial = (folded, {home.id}) if folded is not None else None
            if trial is not None:
                sorties, moved_docks = trial
                end, schedule = ends(sorties)
                stuck -= {o for d in moved_docks for o in (d, *near[d])}
                break
            stuck.add(dock_of[giver])
            end, schedule = ends(sorties)
        else:
            break
    return sorties


def _move_from(giver: str, mine: list[PlannedSortie], home: DockInfo, sorties: list[PlannedSortie],
               end: dict[str, float], by_id: dict[str, DockInfo], near: dict[str, list[str]], frame: MetricFrame,
               no_fly_m: BaseGeometry | None,
               finish: Callable[[list[PlannedSortie], set[str]], dict[str, float]]
               ) -> tuple[list[PlannedSortie], set[str]] | None:
    """A move of strips from `giver`'s movable sorties `mine` that evens out finish times, and the
    docks it touched (`finish`: finish times of a trial once the docks it touches are rescheduled).

    Receivers are nearby docks whose drone lands earlier, earliest first; to each, the giver's
    sorties nearest that dock offer their nearest few strips, a quarter, half or all, and of the
    moves that qualify the one adding the least flight time is made (moving strips away
    from their own dock costs transit)."""
    limit = end[giver]
    drone_end = {d: min((end[r.id] for r in by_id[d].drones if r.id in end), default=math.inf) for d in near[home.id]}
    for dock_id in sorted((d for d in near[home.id] if drone_end[d] < limit - MIN_GAP_S), key=lambda d: (drone_end[d], d)):
        dock = by_id[dock_id]
        there = frame.forward(dock.lon, dock.lat)
        strips_at = {s: [math.dist(there, (a.x0, a.y0)) for a in s.strips] for s in mine}
        best: tuple[float, list[PlannedSortie]] | None = None
        for candidate in sorted(mine, key=lambda s: (min(strips_at[s]), s.id))[:CANDIDATES]:
            nearest = sorted(range(len(candidate.strips)), key=lambda i: strips_at[candidate][i])
            kept_cache: dict[int, list[PlannedSortie]] = {}
            for k in _give_counts(len(candidate.strips)):
                chosen = set(nearest[:k])
                give = [a for i, a in enumerate(candidate.strips) if i in chosen]
                keep = [a for i, a in enumerate(candidate.strips) if i not in chosen]
                for added, removed in _takers(candidate, give, sorties, dock, frame, no_fly_m):
                    if k not in kept_cache:
                        kept_cache[k] = repack(candidate, keep, home, frame, no_fly_m, f"{candidate.id}@{home.id}") if keep else []
                    gone = {candidate, *removed}
                    trial = [s for s in sorties if s not in gone] + kept_cache[k] + added
                    after = finish(trial, {home.id, dock_id})
                    changed = [v for d, v in after.items() if abs(v - end[d]) > 0.5 and d != giver]
                    if after[giver] <= limit - MIN_GAIN_S and all(v < limit for v in changed):
                        extra = sum(s.duration_s for s in (*kept_cache[k], *added)) \
                            - candidate.duration_s - sum(s.duration_s for s in removed)
                        if best is None or extra < best[0]:
                            best = (extra, trial)
        if best is not None:
            return best[1], {home.id, dock_id}
    return None


def _fold_own(dock: DockInfo, sorties: list[PlannedSortie], frame: MetricFrame, no_fly_m: BaseGeometry | None,
              movable: Callable[[PlannedSortie], bool]) -> list[PlannedSortie] | None:
    """`sorties` with the two short sorties of one zone at `dock` that fly fastest as one flown
    as one, if any pair does: a dock left with fragments (a piece's last sortie, what it kept
    of a sortie it handed on) pays a take-off, transit and recharge for each."""
    mine = sorted((s for s in sorties if s.dock_id == dock.id and movable(s)),
                  key=lambda s: (s.duration_s, s.id))[:FOLD_SHORTEST]
    best: tuple[float, PlannedSortie, PlannedSortie, PlannedSortie] | None = None
    for i, a in enumerate(mine):
        for b in mine[i + 1:]:
            if a.zone_id != b.zone_id or a.replaces != b.replaces \
                    or a.duration_s + b.duration_s > 2.0 * dock.flyer.spec.flight_budget_s:
                continue
            for strips in ([*a.strips, *b.strips], [*b.strips, *a.strips]):
                try:
                    merged = repack(a, strips, dock, frame, no_fly_m, f"{a.id}&")
                except ValueError:
                    continue
                saved = a.duration_s + b.duration_s - merged[0].duration_s
                if len(merged) == 1 and saved > 0 and (best is None or saved > best[0]):
                    best = (saved, a, b, merged[0])
    if best is None:
        return None
    _, a, b, merged = best
    return [s for s in sorties if s is not a and s is not b] + [merged]


def _give_counts(n: int) -> list[int]:
    """How many of a sortie's strips to offer: one or two, then a quarter, half, three quarters, all."""
    return sorted({min(k, n) for k in (1, 2, *(max(1, round(n * f)) for f in SPLIT_AT), n)})


def _takers(last: PlannedSortie, strips: Sequence[Strip], sorties: list[PlannedSortie], dock: DockInfo,
            frame: MetricFrame, no_fly_m: BaseGeometry | None
            ) -> Iterator[tuple[list[PlannedSortie], list[PlannedSortie]]]:
    """Ways for `dock` to fly `strips`, as (new sorties, sorties they replace): folded into one of
    its sorties of the same zone with battery to spare (no extra recharge cycle), else as
    sorties of their own."""
    here = (strips[0].x0, strips[0].y0)
    along_m = sum((a.photos - 1) * a.spacing for a in strips)
    spec = dock.flyer.spec
    hosts = [t for t in sorties if t.dock_id == dock.id and t.zone_id == last.zone_id
             and t.replaces == last.replaces
             and t.duration_s + along_m / spec.cruise_speed_m_s < spec.flight_budget_s]
    hosts.sort(key=lambda t: (min(math.dist(here, (a.x0, a.y0)) for a in t.strips), t.id))
    for t in hosts[:MERGE_HOSTS]:
        try:
            merged = repack(t, [*t.strips, *strips], dock, frame, no_fly_m, f"{t.id}+")
        except ValueError:
            continue
        if len(merged) == 1:
            yield merged, [t]
    try:
        yield repack(last, strips, dock, frame, no_fly_m, f"{last.id}@{dock.id}"), []
    except ValueError:
        return
