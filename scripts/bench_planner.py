"""Benchmark the city planner against a QGroundControl-style baseline on the Quzhou configs.

For each scenario (configs/quzhou.yaml: ~700 km², 23 drones; configs/quzhou_2000.yaml:
~2,000 km², 70 drones) one run plans with
  * flight.planner.plan_patrol (power-diagram dock balance over six damped rounds, then
    borders moved between neighbouring docks until they are about as busy and then until
    they land about together, dock-line split,
    a layout per quarter of each dock piece: comb or cells along either axis,
    efficiency-cut sorties, list schedule with each drone's longest sortie last, then
    evening out of finish times between neighbouring docks), and
  * a baseline as an operator would do it with QGroundControl: one boustrophedon per zone
    along the zone's long axis, strips running from the first to the last crossing of the
    zone (so it flies across concave notches), kept out of no-fly airspace, cut into
    battery-sized sorties flown from the dock nearest each strip, the sorties of each zone
    given to that dock's drones in zone order (list scheduling), and
  * the same baseline balanced as a careful operator would: each strip from the dock that
    evens out the estimated work per drone across docks (in reach), corrected over four
    rounds by what each dock's sorties take once packed,
and reports planning CPU time (one core), coverage (union of photo footprints / zone area),
makespan, the lower bound max((total sweep − Σ duty × charge) / Σ duty, farthest round trip)
(no recharge after each drone's last sortie: `schedule.lower_bound_s`), the ratio to it and to
the old bound that charged that recharge, and where the planner's flight time goes (walked from
the mission items at the speeds they set). The baselines' ratios are taken against the same
lower bound (the planner's), so every ratio measures against one yardstick.

    .venv/bin/python scripts/bench_planner.py --json out/bench_planner.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from pymavlink import mavutil  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from shapely.ops import unary_union  # noqa: E402

from detector.geo import MetricFrame  # noqa: E402
from flight.assets import PatrolZone  # noqa: E402
from flight.planner import plan_patrol  # noqa: E402
from flight.planner.footprints import covered_share  # noqa: E402
from flight.planner.items import build_sorties  # noqa: E402
from flight.planner.planned import PlannedSortie  # noqa: E402
from flight.planner.planner import SWEEP_SHARE  # noqa: E402
from flight.planner.problem import dock_info  # noqa: E402
from flight.planner.schedule import assign, duty, recharge_s  # noqa: E402
from flight.planner.sorties import Flight, chunked, pack  # noqa: E402
from flight.planner.strips import (  # noqa: E402
    NO_FLY_MARGIN_M, Bands, Strip, band_pieces, long_axis, rotate_to_sweep, strips_of,
)
from flight.planner.survey import Survey, survey_for  # noqa: E402
from patrol.config import load_city  # noqa: E402

MAV = mavutil.mavlink

SCENARIOS = {"quzhou-700km2-23-drones": ROOT / "configs" / "quzhou.yaml",
             "quzhou-2000km2-70-drones": ROOT / "configs" / "quzhou_2000.yaml"}


BALANCE_STEPS = 200  # weight updates of the balanced baseline's dock borders per round
BALANCE_STEP_M = 3000.0  # how far a border moves per unit of relative imbalance, at first
BALANCE_ROUNDS = 4  # rounds of the balanced baseline: borders, pack, compare each dock's packed work to its estimate


def baseline(city, balanced: bool) -> dict:
    """QGC-style: one direction per zone, strips span gaps, list-scheduled drones at each dock.

    Each strip is flown from the nearest dock, or (`balanced`) from the dock that an operator
    evening out the work would give it: the nearest in reach once each dock's distance is offset
    by a weight, the weights moved until every dock's estimated work per drone (sweep plus the
    transit its distance costs, with recharge) is about the mean; the estimate is then corrected
    by what each dock's sorties actually take once packed, and the round landing first is kept.
    """
    frame = MetricFrame.for_geometry(unary_union([z.area for z in city.zones]))
    infos = [dock_info(d) for d in city.docks if d.drones]
    xy = np.array([frame.forward(d.lon, d.lat) for d in infos], float)
    no_fly = unary_union([frame.to_metric(n.area) for n in city.no_fly]) if city.no_fly else None
    work: list[tuple[PatrolZone, Survey, Strip]] = []
    for z, area in ((z, part) for z in city.zones for part in shapely.get_parts(frame.to_metric(z.area))):
        angle = long_axis(area)  # one survey per polygon, as QGroundControl takes them
        origin = (float(xy[:, 0].mean()), float(xy[:, 1].mean()))
        survey = survey_for(z, infos[0].flyer.camera, infos[0].flyer.spec)
        b = band_pieces(rotate_to_sweep(area, angle, origin), survey.spacing_m)
        bands = np.unique(b.band)
        first = np.searchsorted(b.band, bands)
        spans = Bands(bands, np.minimum.reduceat(b.xa, first), np.maximum.reduceat(b.xb, first), b.yc[first],
                      b.parts[first])
        guard = rotate_to_sweep(no_fly.buffer(NO_FLY_MARGIN_M), angle, origin) if no_fly is not None else None
        strips = strips_of(spans, np.zeros(len(bands), int), survey, angle, origin, guard)
        work += [(z, survey, s) for s in chunked(strips, Flight(infos[0].flyer.spec, tuple(xy[0]), z.altitude_agl_m))]
    order = {z.id: i for i, z in enumerate(city.zones)}  # zones in config order, as the operator works through them
    if balanced:
        best, scale = None, np.ones(len(infos))
        for _ in range(BALANCE_ROUNDS):
            picks, estimate = _balanced_docks(work, infos, xy, scale)
            sorties = _baseline_sorties(city, work, picks, infos, xy)
            schedule = assign(sorties, infos, order)
            if best is None or schedule.makespan_s < best[1].makespan_s:
                best = (sorties, schedule)
            actual = np.zeros(len(infos))
            for p in sorties:
                di = next(i for i, d in enumerate(infos) if d.id == p.dock_id)
                actual[di] += (p.duration_s + recharge_s(p.duration_s, p.dock, p.dock.flyer)) / len(p.dock.drones)
            scale *= np.where((estimate > 0) & (actual > 0), actual / np.maximum(estimate, 1e-9), 1.0) ** 0.5
        sorties, schedule = best
    else:
        sorties = _baseline_sorties(city, work, np.argmin(_distances(work, xy), axis=1), infos, xy)
        schedule = assign(sorties, infos, order)
    built = build_sorties(sorties, schedule, frame)
    coverage_num = coverage_den = 0.0
    for z in city.zones:
        area = frame.to_metric(z.area)
        if no_fly is not None:
            area = area.difference(no_fly)
        coverage_num += covered_share(area, [s for s in built if s.zone_id == z.id], frame) * area.area
        coverage_den += area.area
    return {"makespan_s": schedule.makespan_s, "coverage": coverage_num / coverage_den, "sorties": len(built),
            "flight_s": sum(s.duration_s for s in built)}


def _baseline_sorties(city, work, picks: np.ndarray, infos, xy: np.ndarray) -> list[PlannedSortie]:
    """Each dock's strips of each zone packed into sorties, zone by zone."""
    groups = defaultdict(list)
    for (z, survey, s), di in zip(work, picks):
        groups[z.id, int(di)].append((survey, s))
    sorties = []
    for z in city.zones:
        for di in sorted(d for zid, d in groups if zid == z.id):
            dock, survey = infos[di], groups[z.id, di][0][0]
            flight = Flight(dock.flyer.spec, tuple(xy[di]), z.altitude_agl_m)
            for p in pack([s for _, s in groups[z.id, di]], flight, f"baseline {z.id}"):
                sorties.append(PlannedSortie.of(f"{dock.id}.{z.id}.{len(sorties):04d}", dock, z.id, p, survey, flight))
    return sorties


def _distances(work, xy: np.ndarray) -> np.ndarray:
    """Metres from each dock (columns) to each strip's middle (rows)."""
    mid = np.array([((s.x0 + s.x1) / 2, (s.y0 + s.y1) / 2) for _, _, s in work])
    return np.hypot(mid[:, None, 0] - xy[None, :, 0], mid[:, None, 1] - xy[None, :, 1])


def _balanced_docks(work, infos, xy: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each strip's dock once the docks' estimated work per drone (times `scale`, each dock's
    packed / estimated work so far) is evened out by additive weights, and that estimate per dock."""
    dist = _distances(work, xy)
    far = np.maximum(*(np.hypot(ends[:, None, 0] - xy[None, :, 0], ends[:, None, 1] - xy[None, :, 1])
                       for ends in (np.array([(s.x0, s.y0) for _, _, s in work]),
                                    np.array([(s.x1, s.y1) for _, _, s in work]))))
    reach = np.array([[Flight(d.flyer.spec, tuple(p), z.altitude_agl_m).reach_m for d, p in zip(infos, xy)]
                      for z, _, _ in work])
    allowed = far <= 0.9 * reach
    allowed[np.arange(len(work)), np.argmin(dist, axis=1)] = True
    length = np.array([s.length for _, _, s in work])
    speed = np.array([d.flyer.spec.cruise_speed_m_s for d in infos])
    per_m = np.array([2.0 / (d.flyer.spec.transit_speed_m_s * SWEEP_SHARE * d.flyer.spec.flight_budget_s) for d in infos])
    cost = length[:, None] / speed[None, :] * (1.0 + dist * per_m[None, :])  # flight seconds per strip from each dock
    capacity = np.array([sum(duty(d, r) for r in d.drones) for d in infos])
    weights = np.zeros(len(infos))
    for k in range(BALANCE_STEPS):
        pick = np.argmin(np.where(allowed, dist - weights[None, :], np.inf), axis=1)
        load = np.bincount(pick, cost[np.arange(len(work)), pick], len(infos)) / capacity * scale
        weights += BALANCE_STEP_M * (1.0 - k / BALANCE_STEPS) * (load.mean() - load) / load.mean()
    return pick, load


def time_split(plan) -> dict[str, float]:
    """Flight hours on strips, in transit (dock → first strip, last strip → dock, detours included),
    on connecting legs, in turns, and climbing/descending where not overlapped with a leg."""
    frame = MetricFrame(plan.epsg)
    out = dict.fromkeys(("strips", "transit", "connecting", "turns", "vertical"), 0.0)
    for s in plan.sorties:
        dock = plan.dock(s.dock_id)
        spec = dock.flyer.spec
        here, speed, moved = frame.forward(dock.lon, dock.lat), spec.cruise_speed_m_s, 0.0
        strip_ends = {lane.end_item - 1 for lane in s.lanes if lane.photos > 1}
        first, last = s.lanes[0].start_item, s.lanes[-1].end_item
        for k, it in enumerate(s.items[2:], start=2):
            if it.command == MAV.MAV_CMD_DO_CHANGE_SPEED:
                speed = it.param2
            elif it.command == MAV.MAV_CMD_NAV_WAYPOINT:
                there = frame.forward(it.lon, it.lat)
                t = float(np.hypot(there[0] - here[0], there[1] - here[1])) / speed
                kind = "strips" if k in strip_ends else "transit" if k <= first or k > last else "connecting"
                out[kind] += t
                here, moved = there, moved + t
        turns = spec.turn_time_s * (len(s.lanes) - 1)
        out["turns"] += turns
        out["vertical"] += s.duration_s - moved - turns
    return {k: round(v / 3600, 2) for k, v in out.items()}


def run(name: str, path: Path) -> dict:
    city = load_city(path)
    t0 = time.process_time()
    plan = plan_patrol(city.zones, city.no_fly, city.docks, name=name)
    ours_s = time.process_time() - t0
    lb = plan.lower_bound_s
    capacity = sum(duty(d, r) for d in plan.docks for r in d.drones)
    old_lb = max(plan.sweep_s / capacity, plan.farthest_round_trip_s)  # recharge after every last sortie charged
    out = {
        "scenario": name, "area_km2": round(sum(z.area_km2 for z in plan.zones), 1),
        "drones": sum(len(d.drones) for d in plan.docks),
        "lower_bound_h": round(lb / 3600, 3), "old_lower_bound_h": round(old_lb / 3600, 3),
        "sweep_h": round(plan.sweep_s / 3600, 2), "farthest_round_trip_s": plan.farthest_round_trip_s,
        "planner": {"plan_cpu_s": round(ours_s, 2), "coverage": round(plan.coverage, 5),
                    "makespan_h": round(plan.makespan_s / 3600, 3), "ratio_to_lower_bound": round(plan.makespan_s / lb, 4),
                    "ratio_to_old_lower_bound": round(plan.makespan_s / old_lb, 4), "sorties": len(plan.sorties),
                    "flight_h": round(sum(s.duration_s for s in plan.sorties) / 3600, 2),
                    "flight_split_h": time_split(plan)},
    }
    for who, balanced in (("baseline", False), ("balanced baseline", True)):
        t0 = time.process_time()
        b = baseline(city, balanced)
        out[who] = {"plan_cpu_s": round(time.process_time() - t0, 2), "coverage": round(b["coverage"], 5),
                    "makespan_h": round(b["makespan_s"] / 3600, 3), "ratio_to_lower_bound": round(b["makespan_s"] / lb, 4),
                    "ratio_to_old_lower_bound": round(b["makespan_s"] / old_lb, 4), "sorties": b["sorties"],
                    "flight_h": round(b["flight_s"] / 3600, 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--only", choices=sorted(SCENARIOS), help="run one scenario")
    args = ap.parse_args()
    results = [run(n, p) for n, p in SCENARIOS.items() if args.only in (None, n)]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    Console(width=150).print(results_table(results))
    for r in results:
        print(f"{r['scenario']}: makespan baseline/planner = "
              f"{r['baseline']['makespan_h'] / r['planner']['makespan_h']:.2f}x, balanced baseline/planner = "
              f"{r['balanced baseline']['makespan_h'] / r['planner']['makespan_h']:.2f}x; planner flight h: "
              + ", ".join(f"{k} {v:.1f}" for k, v in r["planner"]["flight_split_h"].items()))


def results_table(results: list[dict]) -> Table:
    table = Table(title="flight.planner vs QGC-style baselines (CPU seconds on one core; ratio = makespan / valid lower "
                        "bound, old = the bound that charged a recharge after each drone's last sortie)")
    for col in ("scenario", "planner", "plan s", "coverage", "makespan h", "lower bound h", "ratio", "old bound h",
                "old ratio", "sorties", "flight h"):
        table.add_column(col)
    for r in results:
        for who in ("planner", "baseline", "balanced baseline"):
            m = r[who]
            table.add_row(r["scenario"], who, f"{m['plan_cpu_s']:.1f}", f"{m['coverage']:.3%}", f"{m['makespan_h']:.2f}",
                          f"{r['lower_bound_h']:.2f}", f"{m['ratio_to_lower_bound']:.3f}", f"{r['old_lower_bound_h']:.2f}",
                          f"{m['ratio_to_old_lower_bound']:.3f}", str(m["sorties"]), f"{m['flight_h']:.1f}")
    return table


if __name__ == "__main__":
    main()
