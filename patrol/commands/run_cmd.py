"""`patrol run CONFIG`: the production loop — fly the real drones, detect on their photos, report to dispatch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console

console = Console()


def run(
    config: Path = typer.Argument(..., help="city config YAML (drone endpoints, operations.dispatch_url, photos_dir)"),
    plan_dir: Path = typer.Option(None, "--plan", help="plan folder from `patrol plan`; default: plan the whole city now"),
    status_port: int = typer.Option(8765, help="serve the fleet's state on 127.0.0.1 for `patrol status`"),
    ingest_token: str = typer.Option(..., envvar="PATROL_INGEST_TOKEN", show_default=False,
                                     help="dispatch's ingest token (`patrol serve` shows it once, when it makes its credentials)"),
    engine: str = typer.Option("inprocess", help="where detection runs: inprocess (threads here) or ray (actors on a Ray cluster)"),
    ray_address: str = typer.Option(None, help="Ray cluster to join with --engine ray (host:port, ray://host:10001 or auto); "
                                               "default: start a local one"),
    workers: int = typer.Option(None, min=1, help="detector workers (models loaded); default 1 in process, "
                                                  "as many as the Ray cluster's CPUs/GPUs hold with --engine ray"),
    drone_wait: float = typer.Option(30.0, min=1.0, max=600.0, help="seconds to wait for every drone's first heartbeat "
                                                                   "before flying; none heard → exit 2"),
) -> None:
    """Fly the plan with the drones in CONFIG; every photo is detected and its sightings posted to dispatch."""
    from detector.detect import DEFAULT_MODEL
    from flight.planner import Plan, plan_patrol
    from patrol.commands.config_cmd import load_or_exit
    from patrol.pipeline.engines import open_pool
    from patrol.pipeline.loop import Reporting, fly_patrol
    from patrol.pipeline.preflight import PreflightError, call_roll, check_dispatch
    from patrol.pipeline.sources import DirectoryCamera
    from shapely.ops import unary_union

    city = load_or_exit(config)
    ops = city.operations
    drones = [drone for dock in city.docks for drone in dock.drones]
    try:
        check_dispatch(ops.dispatch_url, ingest_token)
        console.print(f"dispatch at {ops.dispatch_url}: up, ingest token accepted; waiting up to {drone_wait:.0f} s "
                      f"for {len(drones)} drones' heartbeats")
        roll = asyncio.run(call_roll(drones, drone_wait, lambda d: console.print(f"  heard {d}")))
    except PreflightError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for drone_id, why in roll.why_silent.items():
        console.print(f"[red]{drone_id}:[/] {why}", highlight=False, soft_wrap=True)
    if not roll.heard:
        where = ", ".join(f"{d.id} ({d.endpoint})" for d in drones)
        console.print(f"[red]error:[/] no drone answered within {drone_wait:.0f} s: {where}; check the drones are "
                      "powered and their endpoints in the config (drones[].endpoint)", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    if roll.silent:
        console.print(f"[yellow]not heard yet (the fleet controller keeps listening for them):[/] {', '.join(roll.silent)}", highlight=False)
    try:
        pool = open_pool(engine, city.resolve(ops.model) if ops.model else DEFAULT_MODEL, city.taxonomy.codes,
                         workers=workers or (None if engine == "ray" else 1), ray_address=ray_address)
    except (ValueError, ConnectionError) as exc:
        console.print(f"[red]--engine {engine}:[/] {exc}")
        raise typer.Exit(2) from exc
    plan = Plan.load(plan_dir) if plan_dir else plan_patrol(city.zones, city.no_fly, city.docks, name=city.info.name_en)
    camera = DirectoryCamera(city.resolve(ops.photos_dir), ops.photo_wait_s)
    reporting = Reporting(camera, pool, ops.dispatch_url, ingest_token, unary_union([z.area for z in city.zones]))
    console.print(f"flying {len(plan.sorties)} sorties with {len(city.drones)} drones; photos from {camera.root}; "
                  f"detection: {engine}, up to {pool.max_in_flight} photos in flight; sightings to {ops.dispatch_url}")
    try:
        outcome = fly_patrol(plan, list(city.docks), reporting, console=console, status_port=status_port)
    finally:
        pool.close()
    result, stats = outcome.fleet, outcome.photos
    console.print(f"landed: {sum(o.state == 'landed' for o in result.outcomes)}/{len(result.outcomes)} sorties · "
                  f"photos {stats.photos} · sightings posted {stats.sightings} · refused by dispatch {stats.refused} · "
                  f"photo errors {len(stats.errors)}")
    for err in stats.errors[:20]:
        console.print(f"  [red]•[/] {err}", highlight=False)
    if result.unflown:
        console.print(f"[yellow]unflown sorties:[/] {', '.join(result.unflown)}")
        raise typer.Exit(1)
