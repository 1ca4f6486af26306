"""`patrol ops CONFIG`: the standing fleet service — every drone's link held, tasks taken all day.

The HTTP API (OpenAPI at /docs) listens on 127.0.0.1; tasks live in a SQLite file, so a restart
picks up every unfinished one. With `--plan DIR` the patrol cycle is flown around the tasks;
with `--sim` simulated drones stand in for the configured ones.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from shapely.ops import unary_union

from flight.fleet.api import open_fleet
from flight.fleet.recovery import remainder_replanner
from flight.fleet.replanning import PlanReplanner
from flight.fleet.sortie import FleetSettings
from flight.mavlink.clock import ScaledClock
from flight.ops.app import Open311Service, make_app
from flight.ops.service import OpsService, OpsSettings
from flight.ops.store import TaskStore
from flight.ops.sweep import load_points
from flight.ops.weather import DockWeatherFile, FairWeather
from flight.ops.world import World
from flight.planner import Plan
from flight.sim.swarm import SimSetup
from patrol.rehearsal import SimulatedFleet
from patrol.commands.config_cmd import load_or_exit

console = Console()
DEFAULT_OPS_PORT = 8770


def flood_points_file(config: Path) -> Path:
    """configs/quzhou.yaml → configs/quzhou_flood_points.yaml"""
    return config.with_name(f"{config.stem}_flood_points.yaml")


def ops(
    config: Path = typer.Argument(..., help="city config YAML (docks, drones' endpoints, zones, no-fly)"),
    plan_dir: Path = typer.Option(None, "--plan", help="fly this plan's patrol cycle around the tasks"),
    sim: bool = typer.Option(False, "--sim", help="simulated drones at the configured docks"),
    speed: float = typer.Option(1.0, "--speed", help="clock speed-up (with --sim)"),
    port: int = typer.Option(DEFAULT_OPS_PORT, "--port", help="HTTP API port on 127.0.0.1"),
    db: Path = typer.Option(Path("ops.sqlite"), "--db", help="task store (SQLite)"),
    weather: Path = typer.Option(None, "--weather", help="dock-weather JSON: {dock: {wind_m_s, gust_m_s, rain_mm_h}}"),
    flood_points: Path = typer.Option(None, "--flood-points", help="flood-prone points YAML (default: CONFIG's "
                                                                     "<city>_flood_points.yaml)"),
) -> None:
    """Run the fleet service: drones' states, a task queue, dispatching with reasons, intake."""
    city = load_or_exit(config)
    if speed != 1.0 and not sim:
        raise typer.BadParameter("--speed is for rehearsals; add --sim")
    plan = None
    if plan_dir is not None:
        try:
            plan = Plan.load(plan_dir)
        except (FileNotFoundError, ValueError) as err:
            console.print(f"[red]{err}[/]")
            raise typer.Exit(2) from None
    points_path = flood_points or flood_points_file(config)
    try:
        points = load_points(points_path) if points_path.exists() else ()
    except ValueError as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(2) from None
    world = World(city.docks, city.zones, city.no_fly, keep_in=unary_union([d.area for d in city.districts]))
    services = [Open311Service(service_code=t.code, service_name=f"{t.zh} {t.en}", description=t.label,
                               group=t.standard.category if t.standard else "") for t in city.taxonomy.types]
    console.print(f"调度服务 ops: {len(city.drones)} drones at {len(city.docks)} docks "
                  f"({'simulated ×' + format(speed, 'g') if sim else 'real drones'}); "
                  f"{len(points)} flood-prone points; API http://127.0.0.1:{port}/docs; tasks in {db}")
    try:
        asyncio.run(_serve(world, city.taxonomy.codes, services, plan, points, db, port,
                           SimSetup(speed=speed) if sim else None, speed,
                           DockWeatherFile(weather) if weather else FairWeather()))
    except OSError as err:
        console.print(f"[red]cannot open a link or port {port}: {err}[/]")
        raise typer.Exit(1) from None


async def _serve(world: World, codes, services, plan, points, db: Path, port: int, sim, speed, weather) -> None:
    clock = ScaledClock(speed)
    replanner = PlanReplanner(plan) if plan is not None else remainder_replanner
    store = TaskStore(db)
    vehicles = SimulatedFleet(sim) if sim is not None else None
    async with open_fleet(list(world.docks), clock, vehicles=vehicles, settings=FleetSettings(), replanner=replanner) as fleet:
        service = OpsService(world, fleet, store, clock, OpsSettings(type_codes=codes), weather=weather,
                             flood_points=points, plan=plan)
        server = uvicorn.Server(uvicorn.Config(make_app(service, services), host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="off"))
        running = asyncio.get_running_loop().create_task(service.run())
        try:
            await server.serve()
        finally:
            service.stop()
            await running
            store.close()
