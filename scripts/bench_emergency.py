"""Emergency sweep: a CAP rain alert over Quzhou's urban core, 23 drones, half of them mid-patrol.

The sweep is flown for real: the `patrol ops` service with 23 simulated ArduCopters over UDP on a
scaled clock; the CAP 1.2 alert is POSTed to its API; every flood-prone point inside the alert
polygon is photographed; minutes are counted on the fleet's clock from the POST to each point's
photo (the sweep photo taken within 10 m of it). In the same run, with the same timing and
battery model the sweep plans by and the fleet as it stood at the alert:
  baseline  each point (in the file's order, FIFO) to its nearest dock's drone, one point per
            sortie, the next after landing and recharging;
  bound     max(farthest point's fly-out from its nearest dock, the work spread over drones from
            when each can first reach a point) — see flight.ops.sweep.sweep_bound_s.
The target is sweep ≤ 1.25 × bound.

    .venv/bin/python scripts/bench_emergency.py --speed 5 --json out/bench_emergency.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from shapely.geometry import Point
from shapely.ops import unary_union

from flight.assets import PatrolZone
from flight.fleet.api import open_fleet
from flight.fleet.sortie import FleetSettings, SortieState
from flight.mavlink.clock import ScaledClock
from flight.ops.app import make_app
from flight.ops.missions import area_sorties
from flight.ops.service import OpsService, OpsSettings
from flight.ops.store import TaskStore
from flight.ops.sweep import SweepPlan, SweepPlanner, load_points
from flight.ops.world import World
from flight.sim.survey import square_zone
from flight.sim.swarm import SimSetup
from patrol.rehearsal import SimulatedFleet
from patrol.config import load_city

ROOT = Path(__file__).resolve().parents[1]
CAP = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>QZ-MET-BENCH-0620</identifier><sender>衢州市气象台 Quzhou Meteorological Observatory</sender>
  <sent>2022-06-20T08:00:00+08:00</sent><status>Exercise</status><msgType>Alert</msgType><scope>Public</scope>
  <info><category>Met</category><event>暴雨红色预警 Rainstorm red warning</event><urgency>Immediate</urgency>
    <severity>Extreme</severity><certainty>Observed</certainty>
    <area><areaDesc>衢州市区 urban core</areaDesc><polygon>{polygon}</polygon></area></info>
</alert>"""


def rain_area(city, buffer_m: float):
    """The Kecheng urban core zone grown by `buffer_m` (lon/lat): where the rain falls."""
    core = next(z for z in city.zones if z.id == "kecheng-core")
    return city.frame.to_lonlat(city.frame.to_metric(core.area).buffer(buffer_m).convex_hull.simplify(50.0))


def baseline(plan: SweepPlan, points, world: World, settings: FleetSettings) -> SweepPlan:
    """Each point to its nearest dock's drone, one point per sortie, FIFO."""
    planner = SweepPlanner("baseline", list(plan.flyers), world, settings, plan.altitude_m)
    docks = {f.drone_id: world.xy(world.dock(f.dock_id).lon, world.dock(f.dock_id).lat) for f in plan.flyers}
    for p in points:
        xy = world.xy(p.lon, p.lat)
        route = planner.fresh(min(docks, key=lambda d: math.dist(docks[d], xy)))
        route.xys.append(xy)
        route.points.append(p)
        planner.routes[route.drone_id].append(route)
    return planner.finish(points)


def patrol_sorties(city, count: int):
    """One survey sortie (a 1.2 km square beside its dock) for every other dock's drone, `count` in all."""
    out = []
    for dock in [d for i, d in enumerate(city.docks) if i % 2 == 0][:count]:
        here = Point(dock.lon, dock.lat)
        zone = next((z for z in city.zones if z.area.contains(here)), city.zones[-1])
        square = PatrolZone(f"patrol-{dock.id}", "patrol", square_zone(dock.lon + 0.007, dock.lat, 1200.0),
                            zone.altitude_agl_m, zone.front_overlap, zone.side_overlap)
        sortie = area_sorties(square.id, square, dock, city.no_fly)[0]
        sortie.drone_id = dock.drones[0].id
        out.append(sortie)
    return out


async def fly(args, city, points, area, world: World, settings: FleetSettings) -> dict:
    clock = ScaledClock(args.speed)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("bench_emergency.sqlite*"):
        old.unlink()
    captures: list = []
    async with open_fleet(list(city.docks), clock, vehicles=SimulatedFleet(SimSetup(speed=args.speed, ekf_ready_s=5.0)),
                          settings=settings) as fleet:
        store = TaskStore(work / "bench_emergency.sqlite")
        service = OpsService(world, fleet, store, clock, OpsSettings(type_codes=city.taxonomy.codes),
                             flood_points=points, on_capture=captures.append)
        serving = asyncio.get_running_loop().create_task(service.run())
        try:
            patrol = patrol_sorties(city, len(city.docks) // 2)
            fleet.submit(patrol)
            for _ in range(int(args.timeout_s / 0.1)):  # until every patrol drone surveys (or gave up)
                runs = [fleet.active.get(s.drone_id) for s in patrol]
                if any(runs) and all(r is None or (r.state == SortieState.SURVEYING and r.captures >= 3)
                                     for r in runs):
                    break
                await asyncio.sleep(0.1)
            busy = sorted(d for d, r in fleet.active.items() if r.state == SortieState.SURVEYING)
            transport = httpx.ASGITransport(app=make_app(service))
            async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
                polygon = " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat in area.exterior.coords)
                t0, wall0 = clock.utc(), time.perf_counter()
                got = await client.post("/v1/cap", content=CAP.format(polygon=polygon),
                                        headers={"content-type": "application/cap+xml"})
                got.raise_for_status()
            task_id = got.json()["id"]
            for _ in range(int(args.timeout_s / 0.2)):
                if service.tasks[task_id].status.final:
                    break
                await asyncio.sleep(0.2)
            return {"task": service.tasks[task_id], "plan": service.sweeps[task_id], "t0": t0,
                    "captures": [c for c in captures if c.sortie_id.startswith(task_id)],
                    "wall_s": time.perf_counter() - wall0, "busy": busy}
        finally:
            service.stop()
            for drone_id in list(fleet.active):
                fleet.return_home(drone_id, "bench over")
            try:
                await asyncio.wait_for(serving, 120.0)
            except asyncio.TimeoutError:
                Console().print("[yellow]some drones were still in the air when the bench stopped waiting[/]")
            store.close()


def photo_times(run: dict, points, world: World) -> dict[str, float]:
    """Point id → clock seconds from the CAP POST to the first sweep photo within 10 m of it."""
    out = {}
    for p in points:
        x, y = world.xy(p.lon, p.lat)
        near = [(c.time - run["t0"]).total_seconds() for c in run["captures"]
                if math.dist(world.xy(c.pose.lon, c.pose.lat), (x, y)) < 10.0]
        if near:
            out[p.id] = min(near)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs/quzhou.yaml")
    ap.add_argument("--speed", type=float, default=5.0, help="clock speed-up of the simulated fleet")
    ap.add_argument("--rain-buffer-m", type=float, default=800.0, help="rain area: the urban core grown by this")
    ap.add_argument("--timeout-s", type=float, default=900.0, help="real seconds to wait for each phase")
    ap.add_argument("--work", default=str(ROOT / "out" / "bench_emergency"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    console = Console()
    city = load_city(args.config)
    points = load_points(args.config.with_name(f"{args.config.stem}_flood_points.yaml"))
    area = rain_area(city, args.rain_buffer_m)
    inside = [p for p in points if area.contains(Point(p.lon, p.lat))]
    world = World(city.docks, city.zones, city.no_fly, keep_in=unary_union([d.area for d in city.districts]))
    settings = FleetSettings()
    run = asyncio.run(fly(args, city, points, area, world, settings))
    plan: SweepPlan = run["plan"]
    flown = photo_times(run, inside, world)
    base = baseline(plan, inside, world, settings)
    bound = plan.bound_s
    last = max(flown.values()) if flown else float("nan")
    rows = [("sweep, flown 实飞", last, len(flown)), ("sweep, as planned 计划", plan.last_photo_s, len(plan.photo_s)),
            ("baseline: nearest dock, 1 point/sortie, FIFO", base.last_photo_s, len(base.photo_s)),
            ("lower bound 下界", bound, len(inside))]
    table = Table(title=f"CAP alert → last flood point photographed · {len(inside)} points in the rain area, "
                        f"{len(city.drones)} drones, {len(run['busy'])} mid-patrol")
    for col in ("", "minutes 分钟", "× bound", "points"):
        table.add_column(col)
    for name, seconds, n in rows:
        table.add_row(name, f"{seconds / 60:.1f}", f"{seconds / bound:.2f}", str(n))
    console.print(table)
    joined = sorted({r.drone_id for r in plan.routes if r.airborne})
    console.print(f"sorties {len(plan.routes)} on {len({r.drone_id for r in plan.routes})} drones; joined from "
                  f"patrol: {len(joined)}; baseline sorties {len(base.routes)}; sweep vs baseline "
                  f"{last / base.last_photo_s:.2f}×; wall {run['wall_s']:.0f} s at ×{args.speed:g}; "
                  f"task {run['task'].status.value}, {run['task'].photos} photos")
    missing = sorted({p.id for p in inside} - set(flown))
    if missing:
        console.print(f"[red]not photographed: {', '.join(missing)}[/]")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "points": len(inside), "drones": len(city.drones), "mid_patrol": run["busy"], "speed": args.speed,
            "minutes": {"flown": last / 60, "planned": plan.last_photo_s / 60, "baseline": base.last_photo_s / 60,
                        "bound": bound / 60},
            "ratio_to_bound": {"flown": last / bound, "planned": plan.last_photo_s / bound,
                               "baseline": base.last_photo_s / bound},
            "sorties": {"sweep": len(plan.routes), "baseline": len(base.routes)}, "joined_from_patrol": joined,
            "not_photographed": missing, "per_point_flown_min": {k: v / 60 for k, v in sorted(flown.items())},
        }, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
