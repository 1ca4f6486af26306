"""`patrol plan CONFIG -o DIR`: plan one complete patrol of the city and write everything to fly it."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from shapely.geometry import LineString

from flight.planner import Plan, PlanningError, plan_patrol
from flight.ops.wpml import write_wpml
from flight.planner.exports import sortie_path, write_exports
from patrol.commands.config_cmd import load_or_exit
from patrol.maps import Feature, Layer, Style, city_layers, write_map

console = Console()


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h"


def plan_table(plan: Plan) -> Table:
    """Sorties and flight hours per drone, with the plan's makespan and lower bound."""
    table = Table(title=f"巡查计划 Patrol plan · {plan.name}", show_lines=False)
    for col, justify in (("无人机 Drone", "left"), ("机巢 Dock", "left"), ("架次 Sorties", "right"),
                         ("飞行 Flight", "right"), ("完成 Done at", "right")):
        table.add_column(col, justify=justify)
    per: dict[str, list] = defaultdict(list)
    for s in plan.sorties:
        per[s.drone_id].append(s)
    for dock in plan.docks:
        for drone in dock.drones:
            mine = per.get(drone.id, [])
            done = max((s.start_s + s.duration_s for s in mine), default=0.0)
            table.add_row(drone.id, dock.id, str(len(mine)), _hours(sum(s.duration_s for s in mine)), _hours(done))
    return table


def zone_table(plan: Plan) -> Table:
    table = Table(title="巡查区 Zones")
    for col in ("区 Zone", "优先 Priority", "面积 km²", "覆盖 Coverage", "架次 Sorties", "照片 Photos", "完成 Done at",
                "巡查周期 Revisit"):
        table.add_column(col)
    for z in plan.zones:
        revisit = f"{z.revisit_period_h:g} h: {'ok' if z.revisit_ok else 'NOT MET'} · {z.revisit_drones:.1f} drones"
        table.add_row(z.name, str(z.priority), f"{z.area_km2:.1f}", f"{z.coverage:.3%}", str(z.sortie_count),
                      str(z.photo_count), _hours(z.done_s), revisit)
    return table


def plan(
    config: Path = typer.Argument(..., help="city config YAML, e.g. configs/quzhou.yaml"),
    output: Path = typer.Option(..., "-o", "--output", help="directory for plan.json, exports and maps"),
    priority_first: bool = typer.Option(False, "--priority-first",
                                        help="finish priority-1 zones city-wide first (longer whole patrol)"),
) -> None:
    """Plan coverage sorties for every zone from every dock; write plan.json, QGC .plan/WPL files, GeoJSON, maps."""
    city = load_or_exit(config)
    started = time.perf_counter()
    try:
        with console.status("planning 规划中…"):
            result = plan_patrol(city.zones, city.no_fly, city.docks, name=city.info.name_en,
                                 priority_first=priority_first)
    except PlanningError as err:
        console.print(f"[bold red]cannot plan {config}:[/] {err}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    elapsed = time.perf_counter() - started
    with console.status("writing exports 导出中…"):
        files = write_exports(result, output, city.zones, city.no_fly)
        files += write_wpml(result.sorties, output / "wpml")  # DJI docks fly the same sorties from FlightHub 2
        layers = city_layers(city) + [Layer(
            "架次 Sorties", tuple(Feature(LineString(sortie_path(result, s)), f"{s.id} · {s.drone_id}") for s in result.sorties),
            Style(stroke="#ef6c00", width=0.6))]
        title = f"{city.info.name} 巡查计划 patrol plan"
        for name in ("map.html", "map.png"):
            write_map(layers, output / name, title=title, tiles=city.info.base_map_tiles)
    console.print(plan_table(result))
    console.print(zone_table(result))
    console.print(
        f"makespan 完成时间 [bold]{_hours(result.makespan_s)}[/] · lower bound 下界 {_hours(result.lower_bound_s)} "
        f"(ratio {result.ratio:.2f}) · coverage 覆盖率 {result.coverage:.3%} · {len(result.sorties)} sorties · "
        f"planned in {elapsed:.1f} s")
    console.print(f"wrote {len(files) + 2} files to {output}/ (plan.json, plan.geojson, qgc/, wpl/, wpml/, map.html, map.png)")
