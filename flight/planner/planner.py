"""plan_patrol: zones, no-fly airspace and docks → a Plan that photographs every zone once.

Pipeline: check inputs → project to metres → balance the city between docks (power diagram,
re-weighted from the sorties actually packed, then borders moved between neighbours) → strips
per dock share of each zone → sorties that fit one battery → schedule on the docks' drones →
measure coverage and the lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from detector.geo import MetricFrame
from flight.assets import Dock, NoFlyZone, PatrolZone
from flight.mission import Sortie
from flight.planner.airspace import Airspace, airspace_near
from flight.planner.border import Packing, even_borders
from flight.planner.comb import Pace
from flight.planner.cover import strips_for_area
from flight.planner.errors import PlanningError
from flight.planner.footprints import covered_share
from flight.planner.items import make_sortie
from flight.planner.partition import DockSite, WorkArea, balance, grid_work, loads, power_cells
from flight.planner.plan import DockInfo, DroneInfo, Plan, ZoneReport
from flight.planner.reassign import steal
from flight.planner.schedule import assign, lower_bound_s, recharge_s
from flight.planner.sorties import Flight, Packed, pack
from flight.planner.strips import best_angle
from flight.planner.survey import Survey, survey_for

MIN_PIECE_M2 = 1.0
SWEEP_SHARE = 0.8  # typical share of a sortie spent sweeping, for the partition's transit estimate
EXCESS_SHARE = 0.3  # share of a split's worst excess over the mean that evening out does not remove

Layouts = dict[tuple[str, str], dict[tuple[int, int], tuple[int, int]]]  # (dock, zone) → each quarter's layout


@dataclass(frozen=True)
class _Site:
    """A dock with drones, in metres, and the drone whose limits its sorties respect."""

    info: DockInfo
    xy: tuple[float, float]
    flyer: DroneInfo
    airspace: Airspace | None = None

    def flight(self, altitude_m: float) -> Flight:
        return Flight(self.flyer.spec, self.xy, altitude_m, self.airspace)

    def reach_m(self, altitude_m: float) -> float:
        f = self.flight(altitude_m)
        return max(0.0, (f.spec.flight_budget_s - f.vertical_s) * f.transit / 2.0)


def dock_info(dock: Dock) -> DockInfo:
    return DockInfo(dock.id, dock.lon, dock.lat, dock.alt_amsl_m, dock.charge_time_min,
                    tuple(DroneInfo(d.id, d.spec, d.camera) for d in dock.drones))


def plan_patrol(zones: list[PatrolZone] | tuple[PatrolZone, ...], no_fly: list[NoFlyZone] | tuple[NoFlyZone, ...],
                docks: list[Dock] | tuple[Dock, ...], name: str = "patrol", rounds: int = 6,
                priority_first: bool = False) -> Plan:
    """Plan one complete patrol of `zones` from `docks`, avoiding `no_fly`. Deterministic.

    The work of all zones is balanced across docks at once and every drone flies its
    priority-1 sorties before priority-2 ones. By default sorties then move between docks to
    shorten the makespan; `priority_first` moves them to finish priority 1 city-wide first
    (priority-1 zones done hours earlier, whole patrol later: see notes/issue-3.md).
    """
    if not zones:
        raise PlanningError("plan", "zones", [], "nothing to plan", "at least one patrol zone")
    infos = [dock_info(d) for d in docks]
    if not any(d.drones for d in infos):
        raise PlanningError("plan", "docks", [d.id for d in docks], "no dock has a drone", "docks with drones")
    frame = MetricFrame.for_geometry(unary_union([z.area for z in zones]))
    no_fly_m = unary_union([frame.to_metric(n.area) for n in no_fly]) if no_fly else None
    sites = []
    for d in infos:
        if d.drones:
            x, y = frame.forward(d.lon, d.lat)
            sites.append(_Site(d, (float(x), float(y)), d.flyer, airspace_near(no_fly_m, (float(x), float(y)), d.flyer)))
    surveys = {(s.info.id, z.id): survey_for(z, s.flyer.camera, s.flyer.spec) for z in zones for s in sites}
    areas = [_coverage_area(frame.to_metric(z.area), no_fly_m) for z in zones]
    for z, area in zip(zones, areas):
        if area.area <= MIN_PIECE_M2:
            raise PlanningError(f"patrol zone {z.id!r}", "area", f"{frame.to_metric(z.area).area / 1e6:.3f} km²",
                                "the zone lies entirely inside no-fly airspace ("
                                + ", ".join(n.id for n in no_fly if n.area.intersects(z.area)) + ")",
                                "a zone with some area outside every no-fly zone")
        _check_reach(z, area, sites, frame)

    bounds = unary_union(areas).bounds
    priority = {z.id: z.priority for z in zones}
    sorties = _balanced_sorties(list(zones), areas, sites, surveys, frame, no_fly_m, bounds, rounds)
    sorties, makespan = steal(sorties, infos, priority, frame, no_fly_m, priority_first)
    centres, _ = grid_work([WorkArea(a, 1.0) for a in areas], bounds)
    return _finish(name, frame, infos, sites, zones, areas, sorties, makespan, centres, no_fly)


def _balanced_sorties(zones, areas, sites: list[_Site], surveys, frame: MetricFrame, no_fly_m, bounds,
                      rounds: int) -> list[Sortie]:
    """Sorties for `zones` with the work split so each drone finishes them at about the same time.

    The split is re-weighted from each dock's actual flight + recharge time after packing
    (transit is what the grid estimate gets wrong), by the square root of each dock's
    actual / estimated ratio: the full ratio over-corrects, since a dock's packing changes with
    its borders, and the split swings round by round instead of settling. The round that
    should end earliest once evened out is kept, and its borders are then moved one at a time
    between a busy dock and a less busy neighbour (`_move_borders`).
    """
    ref = sites[0]
    work = [WorkArea(a, 1.0 / (surveys[ref.info.id, z.id].spacing_m * ref.flyer.spec.cruise_speed_m_s))
            for z, a in zip(zones, areas)]
    centres, cell_work = grid_work(work, bounds)
    top_alt = max(z.altitude_agl_m for z in zones)
    dock_sites = [DockSite(s.xy, len(s.info.drones), s.reach_m(top_alt),
                           2.0 / (s.flyer.spec.transit_speed_m_s * SWEEP_SHARE * s.flyer.spec.flight_budget_s))
                  for s in sites]
    scale = np.ones(len(sites))
    weights = None
    best: tuple[float, list[Packing[list[Sortie]]], Layouts] | None = None
    shapes: dict[tuple[str, str], tuple[float, int]] = {}
    for _ in range(max(1, rounds)):
        weights = balance(centres, cell_work, dock_sites, scale, weights)
        shares = _shares(power_cells(dock_sites, weights, bounds), areas, sites, zones)
        layouts: Layouts = {}
        packings = [_packing(site, share, zones, surveys, frame, no_fly_m, shapes, layouts)
                    for site, share in zip(sites, shares)]
        actual = np.array([p.busy_s for p in packings])
        if best is None or _evened(actual) < best[0]:
            best = (_evened(actual), packings, layouts)
        estimate = loads(centres, cell_work, dock_sites, scale, weights)
        known = (estimate > 0) & (actual > 0)
        scale = scale * np.where(known, actual / np.maximum(estimate, 1e-9), 1.0) ** 0.5
        scale = scale / scale.mean()

    evened = _move_borders(best[1], best[2], sites, zones, surveys, frame, no_fly_m, shapes)
    return [s for p in evened for s in p.result]


def _move_borders(packings: list[Packing[list[Sortie]]], layouts: Layouts, sites: list[_Site], zones, surveys,
                  frame: MetricFrame, no_fly_m, shapes) -> list[Packing[list[Sortie]]]:
    """Borders moved between neighbours in two passes: the first evens out work (flight and
    recharge per drone), which changes smoothly as a border moves; the second evens out when
    the drones land as scheduled, with no recharge after each one's last sortie, so a dock
    whose last sortie is short lands later for the same work. Evening out landings alone
    gets stuck sooner: a slab more or less changes which sortie is last."""
    xy = [s.xy for s in sites]
    priority = {z.id: z.priority for z in zones}

    def work(i: int, share: list[BaseGeometry]) -> Packing[list[Sortie]] | None:
        try:
            return _packing(sites[i], share, zones, surveys, frame, no_fly_m, shapes, layouts)
        except PlanningError:
            return None

    def landing(p: Packing[list[Sortie]] | None, i: int) -> Packing[list[Sortie]] | None:
        return None if p is None else Packing(p.share, assign(p.result, [sites[i].info], priority), p.result)

    evened = even_borders(packings, xy, work)
    return even_borders([landing(p, i) for i, p in enumerate(evened)], xy, lambda i, share: landing(work(i, share), i))


def _packing(site: _Site, share: list[BaseGeometry], zones, surveys, frame: MetricFrame, no_fly_m,
             shapes, layouts: Layouts) -> Packing[list[Sortie]]:
    """A dock's sorties for its share, and flight plus recharge seconds per drone."""
    sorties = _dock_sorties(site, share, zones, surveys, frame, no_fly_m, shapes, layouts)
    busy = sum(s.duration_s + recharge_s(s.duration_s, site.info, site.flyer) for s in sorties)
    return Packing(share, busy / len(site.info.drones), sorties)


def _coverage_area(zone_m: BaseGeometry, no_fly_m: BaseGeometry | None) -> BaseGeometry:
    area = shapely.make_valid(zone_m)
    return area.difference(no_fly_m) if no_fly_m is not None else area


def _check_reach(zone: PatrolZone, area: BaseGeometry, sites: list[_Site], frame: MetricFrame) -> None:
    """Every part of the zone must be within one battery's round trip of some dock."""
    reach = unary_union([Point(s.xy).buffer(s.reach_m(zone.altitude_agl_m), 64) for s in sites])
    outside = area.difference(reach)
    if outside.area > MIN_PIECE_M2:
        far = shapely.get_coordinates(outside)
        d = np.min([np.hypot(far[:, 0] - s.xy[0], far[:, 1] - s.xy[1]) for s in sites], axis=0)
        x, y = far[int(np.argmax(d))]
        lon, lat = frame.inverse(x, y)
        best = max(s.reach_m(zone.altitude_agl_m) for s in sites)
        raise PlanningError(f"patrol zone {zone.id!r}", "area", f"{outside.area / 1e6:.2f} km² unreachable",
                            f"no dock in range: the point ({lon:.5f}, {lat:.5f}) is {d.max() / 1000:.1f} km from the "
                            f"nearest dock, but a sortie reaches at most {best / 1000:.1f} km out and back",
                            "a dock within one battery's round trip of every part of the zone")


def _shares(cells: list[BaseGeometry], areas: list[BaseGeometry], sites: list[_Site],
            zones) -> list[list[BaseGeometry]]:
    """Each dock's piece of each zone; pieces outside every cell go to the nearest dock in reach."""
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


def _dock_sorties(site: _Site, share: list[BaseGeometry], zones, surveys: dict[tuple[str, str], Survey],
                  frame: MetricFrame, no_fly_m: BaseGeometry | None, shapes: dict[tuple[str, str], tuple[float, int]],
                  layouts: Layouts) -> list[Sortie]:
    out: list[Sortie] = []
    for zone, piece in zip(zones, share):
        if piece.is_empty or piece.area <= MIN_PIECE_M2:
            continue
        survey = surveys[site.info.id, zone.id]
        flight = site.flight(zone.altitude_agl_m)
        picks = layouts.setdefault((site.info.id, zone.id), {})
        for k, packed in enumerate(_cheapest(piece, site, zone, survey, flight, no_fly_m, shapes, picks)):
            out.append(make_sortie(f"{site.info.id}.{zone.id}.{k:03d}", site.info, zone.id, packed.strips,
                                   packed.duration_s, packed.sweep_s, survey, frame, flight))
    return out


def _cheapest(piece: BaseGeometry, site: _Site, zone: PatrolZone, survey: Survey, flight: Flight,
              no_fly_m: BaseGeometry | None, shapes: dict[tuple[str, str], tuple[float, int]],
              picks: dict[tuple[int, int], tuple[int, int]]) -> list[Packed]:
    """Sorties for one dock's piece of one zone, cells or comb, whichever flies in less time: the
    comb pays where the share is wide beside the dock, cells where it is small or ragged.

    `shapes` remembers the sweep direction and the choice per dock and zone: a later balancing
    round moves the piece's borders a little and packs it only the way that won, along the
    same direction, at a fraction of the cost. `picks` holds (and gets) the layout of each
    quarter (`cover._mixed`): the balancing rounds judge them afresh, moving one border
    afterwards (`border`) keeps them."""
    change_s = flight.change_s(survey.spacing_m)
    transit_per_m = 2.0 / (flight.transit * SWEEP_SHARE * flight.spec.flight_budget_s)
    paces = (None, Pace(flight.speed, flight.transit, change_s, flight.spec.flight_budget_s, flight.vertical_s))
    key = (site.info.id, zone.id)
    angle, won = shapes.get(key, (None, None))
    if angle is None:
        angle = best_angle(piece, survey, flight.speed, change_s, site.xy, transit_per_m=transit_per_m)
    options = []
    for i, pace in enumerate(paces):
        if won is not None and won != i:
            continue
        strips = strips_for_area(piece, site.xy, survey, flight.speed, change_s, no_fly_m, transit_per_m, pace, angle,
                                 picks)
        packed = pack(strips, flight, f"patrol zone {zone.id!r} from dock {site.info.id!r}")
        options.append((sum(p.duration_s for p in packed), i, packed))
    _, won, packed = min(options, key=lambda o: o[:2])
    shapes[key] = (angle, won)
    return packed


def _evened(busy: np.ndarray) -> float:
    """What a round's split should land at once `steal` has evened it out: the mean work per
    drone, plus a share of the worst excess, which moving strips between docks costs transit."""
    return float(busy.mean() + EXCESS_SHARE * (busy.max() - busy.mean()))


def _finish(name, frame, infos, sites, zones, areas, sorties, makespan, centres, no_fly) -> Plan:
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
