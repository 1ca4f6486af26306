"""plan_patrol: zones, no-fly airspace and docks → a Plan that photographs every zone once.

Pipeline, one typed value from stage to stage: inputs → `Problem` (checked, in metres) → each
dock's share of each zone (power diagram, re-weighted from the sorties actually packed, then
borders moved between neighbours) → `PlannedSortie`s that fit one battery → `steal` evens out
finish times and hands back a `Schedule` → mission items built once (`items.build_sorties`) →
coverage and the lower bound measured on them → `Plan`.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import Point, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from flight.assets import Dock, DroneSpec, NoFlyZone, PatrolZone
from flight.mission import Sortie
from flight.planner.border import Packing, even_borders
from flight.planner.comb import Pace
from flight.planner.cover import strips_for_area
from flight.planner.errors import PlanningError
from flight.planner.footprints import covered_share
from flight.planner.items import build_sorties
from flight.planner.partition import DockSite, WorkArea, balance, grid_work, loads, power_cells
from flight.planner.plan import Plan, ZoneReport
from flight.planner.planned import PlannedSortie
from flight.planner.problem import MIN_PIECE_M2, Memo, Problem, Site, dock_info, problem_for
from flight.planner.reassign import steal
from flight.planner.schedule import Schedule, assign, lower_bound_s, recharge_s
from flight.planner.sorties import Flight, Packed, pack
from flight.planner.strips import best_angle
from flight.planner.survey import Survey

__all__ = ["dock_info", "plan_patrol"]

SWEEP_SHARE = 0.8  # typical share of a sortie spent sweeping, for the partition's transit estimate
EXCESS_SHARE = 0.3  # share of a split's worst excess over the mean that evening out does not remove

DockPacking = Packing[list[PlannedSortie]]


def transit_per_m(spec: DroneSpec) -> float:
    """Seconds of transit per second of sweeping, per metre from the dock: the partition's estimate
    (out and back at transit speed, once per SWEEP_SHARE of a battery's budget)."""
    return 2.0 / (spec.transit_speed_m_s * SWEEP_SHARE * spec.flight_budget_s)


def plan_patrol(zones: list[PatrolZone] | tuple[PatrolZone, ...], no_fly: list[NoFlyZone] | tuple[NoFlyZone, ...],
                docks: list[Dock] | tuple[Dock, ...], name: str = "patrol", rounds: int = 6,
                priority_first: bool = False) -> Plan:
    """Plan one complete patrol of `zones` from `docks`, avoiding `no_fly`. Deterministic.

    The work of all zones is balanced across docks at once and every drone flies its
    priority-1 sorties before priority-2 ones. By default sorties then move between docks to
    shorten the makespan; `priority_first` moves them to finish priority 1 city-wide first
    (priority-1 zones done hours earlier, whole patrol later: see notes/issue-3.md).
    """
    problem = problem_for(zones, no_fly, docks)
    planned = _balanced_sorties(problem, rounds)
    planned, schedule = steal(planned, list(problem.docks), problem.priority, problem.frame, problem.no_fly_m,
                              priority_first)
    sorties = build_sorties(planned, schedule, problem.frame)
    return _finish(name, problem, sorties, schedule, no_fly)


def _balanced_sorties(problem: Problem, rounds: int) -> list[PlannedSortie]:
    """Sorties for every zone with the work split so each drone finishes them at about the same time.

    The split is re-weighted from each dock's actual flight + recharge time after packing
    (transit is what the grid estimate gets wrong), by the square root of each dock's
    actual / estimated ratio: the full ratio over-corrects, since a dock's packing changes with
    its borders, and the split swings round by round instead of settling. The round that
    should end earliest once evened out is kept, and its borders are then moved one at a time
    between a busy dock and a less busy neighbour (`_move_borders`).
    """
    sites, zones, bounds = problem.sites, problem.zones, problem.bounds
    ref = sites[0]
    work = [WorkArea(a, 1.0 / (problem.surveys[ref.info.id, z.id].spacing_m * ref.flyer.spec.cruise_speed_m_s))
            for z, a in zip(zones, problem.areas)]
    centres, cell_work = grid_work(work, bounds)
    top_alt = max(z.altitude_agl_m for z in zones)
    dock_sites = [DockSite(s.xy, len(s.info.drones), s.reach_m(top_alt), transit_per_m(s.flyer.spec)) for s in sites]
    scale = np.ones(len(sites))
    weights = None
    best: tuple[float, list[DockPacking], Memo] | None = None
    memo = Memo()
    for _ in range(max(1, rounds)):
        memo = memo.next_round()
        weights = balance(centres, cell_work, dock_sites, scale, weights)
        shares = _shares(problem, power_cells(dock_sites, weights, bounds))
        packings = [_packing(problem, site, share, memo) for site, share in zip(sites, shares)]
        actual = np.array([p.busy_s for p in packings])
        if best is None or _evened(actual) < best[0]:
            best = (_evened(actual), packings, memo)
        estimate = loads(centres, cell_work, dock_sites, scale, weights)
        known = (estimate > 0) & (actual > 0)
        scale = scale * np.where(known, actual / np.maximum(estimate, 1e-9), 1.0) ** 0.5
        scale = scale / scale.mean()

    evened = _move_borders(problem, best[1], best[2])
    return [s for p in evened for s in p.result]


def _move_borders(problem: Problem, packings: list[DockPacking], memo: Memo) -> list[DockPacking]:
    """Borders moved between neighbours in two passes: the first evens out work (flight and
    recharge per drone), which changes smoothly as a border moves; the second evens out when
    the drones land as scheduled, with no recharge after each one's last sortie, so a dock
    whose last sortie is short lands later for the same work. Evening out landings alone
    gets stuck sooner: a slab more or less changes which sortie is last."""
    sites = problem.sites
    xy = [s.xy for s in sites]
    priority = problem.priority

    def work(i: int, share: list[BaseGeometry]) -> DockPacking | None:
        try:
            return _packing(problem, sites[i], share, memo)
        except PlanningError:
            return None

    def landing(p: DockPacking | None, i: int) -> DockPacking | None:
        return None if p is None else Packing(p.share, assign(p.result, [sites[i].info], priority).makespan_s,
                                              p.result)

    evened = even_borders(packings, xy, work)
    return even_borders([landing(p, i) for i, p in enumerate(evened)], xy, lambda i, share: landing(work(i, share), i))


def _packing(problem: Problem, site: Site, share: list[BaseGeometry], memo: Memo) -> DockPacking:
    """A dock's sorties for its share, and flight plus recharge seconds per drone."""
    sorties = _dock_sorties(problem, site, share, memo)
    busy = sum(s.duration_s + recharge_s(s.duration_s, site.info, site.flyer) for s in sorties)
    return Packing(share, busy / len(site.info.drones), sorties)


def _shares(problem: Problem, cells: list[BaseGeometry]) -> list[list[BaseGeometry]]:
    """Each dock's piece of each zone; pieces outside every cell go to the nearest dock in reach."""
    areas, sites, zones = problem.areas, problem.sites, problem.zones
    shares = [[cell.intersection(a) for a in areas] for cell in cells]
    claimed = unary_union(cells)
    for zi, (zone, area) in enumerate(zip(zones, areas)):
        rest = area.difference(claimed)
        if rest.area <= MIN_PIECE_M2:
            continue
        for part in shapely.get_parts(rest):
            c = part.centroid
            for di in np.argsort([np.hypot(c.x - s.xy[0], c.y - s.xy[1]) for s in sites]):
                disk = Point(sites[di].xy).buffer(sites[di].reach_m(zone.altitude_agl_m), 64)
                got = part.intersection(disk)
                if got.area > MIN_PIECE_M2:
                    shares[di][zi] = shares[di][zi].union(got)
                    part = part.difference(disk)
                if part.area <= MIN_PIECE_M2:
                    break
    return shares


def _dock_sorties(problem: Problem, site: Site, share: list[BaseGeometry], memo: Memo) -> list[PlannedSortie]:
    out: list[PlannedSortie] = []
    for zone, piece in zip(problem.zones, share):
        if piece.is_empty or piece.area <= MIN_PIECE_M2:
            continue
        survey = problem.surveys[site.info.id, zone.id]
        flight = site.flight(zone.altitude_agl_m)
        for k, packed in enumerate(_cheapest(problem, piece, site, zone, survey, flight, memo)):
            out.append(PlannedSortie.of(f"{site.info.id}.{zone.id}.{k:03d}", site.info, zone.id, packed, survey, flight))
    return out


def _cheapest(problem: Problem, piece: BaseGeometry, site: Site, zone: PatrolZone, survey: Survey, flight: Flight,
              memo: Memo) -> list[Packed]:
    """Sorties for one dock's piece of one zone, cells or comb, whichever flies in less time: the
    comb pays where the share is wide beside the dock, cells where it is small or ragged.

    The memo's sweep direction and choice for this dock and zone, once known, are kept (a
    later packing of the slightly moved piece packs it only that way); its quarter layouts
    (`cover._mixed`) are filled in here and reused while borders move."""
    change_s = flight.change_s(survey.spacing_m)
    per_m = transit_per_m(flight.spec)
    paces = (None, Pace(flight.speed, flight.transit, change_s, flight.spec.flight_budget_s, flight.vertical_s))
    key = (site.info.id, zone.id)
    picks = memo.layouts.setdefault(key, {})
    angle, won = memo.shapes.get(key, (None, None))
    if angle is None:
        angle = best_angle(piece, survey, flight.speed, change_s, site.xy, transit_per_m=per_m)
    options = []
    for i, pace in enumerate(paces):
        if won is not None and won != i:
            continue
        strips = strips_for_area(piece, site.xy, survey, flight.speed, change_s, problem.no_fly_m, per_m, pace, angle,
                                 picks)
        packed = pack(strips, flight, f"patrol zone {zone.id!r} from dock {site.info.id!r}")
        options.append((sum(p.duration_s for p in packed), i, packed))
    _, won, packed = min(options, key=lambda o: o[:2])
    memo.shapes[key] = (angle, won)
    return packed


def _evened(busy: np.ndarray) -> float:
    """What a round's split should land at once `steal` has evened it out: the mean work per
    drone, plus a share of the worst excess, which moving strips between docks costs transit."""
    return float(busy.mean() + EXCESS_SHARE * (busy.max() - busy.mean()))


def _finish(name: str, problem: Problem, sorties: list[Sortie], schedule: Schedule,
            no_fly: list[NoFlyZone] | tuple[NoFlyZone, ...]) -> Plan:
    """The Plan, with each zone's coverage measured on the finished missions and the lower bound."""
    zones, areas, sites, frame, infos = problem.zones, problem.areas, problem.sites, problem.frame, list(problem.docks)
    makespan = schedule.makespan_s
    centres, _ = grid_work([WorkArea(a, 1.0) for a in areas], problem.bounds)
    sweep = sum(s.sweep_s for s in sorties)
    round_trip = 0.0
    for z, a in zip(zones, areas):
        pts = np.vstack([shapely.get_coordinates(a), centres[shapely.contains_xy(a, centres[:, 0], centres[:, 1])]])
        # a point is photographed from up to half a photo diagonal away: the drone need come no closer
        nearest = np.min([s.flight(z.altitude_agl_m).round_trip_s(
                              np.maximum(np.hypot(pts[:, 0] - s.xy[0], pts[:, 1] - s.xy[1])
                                         - math.hypot(*s.flyer.camera.footprint_m(z.altitude_agl_m)) / 2, 0.0))
                          for s in sites], axis=0)
        round_trip = max(round_trip, float(nearest.max()))
    site_of = {s.info.id: s for s in sites}
    reports = []
    for z, a in zip(zones, areas):
        mine = [s for s in sorties if s.zone_id == z.id]
        flight_s = sum(s.duration_s for s in mine)
        busy = sum(s.duration_s + recharge_s(s.duration_s, site_of[s.dock_id].info, site_of[s.dock_id].flyer)
                   for s in mine)
        reports.append(ZoneReport(
            id=z.id, name=z.name, priority=z.priority, area_km2=round(a.area / 1e6, 4),
            coverage=round(covered_share(a, mine, frame), 6), sortie_count=len(mine),
            photo_count=sum(s.photo_count for s in mine), flight_s=round(flight_s, 1),
            done_s=round(max((s.start_s + s.duration_s for s in mine), default=0.0), 1),
            revisit_period_h=z.revisit_period_h, revisit_drones=round(busy / (z.revisit_period_h * 3600.0), 2),
            revisit_ok=makespan <= z.revisit_period_h * 3600.0,
        ))
    return Plan(name=name, epsg=frame.epsg, docks=infos, sorties=sorties, zones=reports,
                no_fly=[mapping(n.area) for n in no_fly],
                makespan_s=round(makespan, 1), lower_bound_s=round(lower_bound_s(sweep, infos, round_trip), 1),
                sweep_s=round(sweep, 1), farthest_round_trip_s=round(round_trip, 1))
