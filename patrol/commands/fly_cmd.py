"""`patrol fly PLAN_DIR` (real drones from the city config, or `--sim N`) and `patrol status`.

`fly` holds every drone's MAVLink link in one process, flies the plan's sorties, recovers from
low batteries, lost links and failed drones, and shows the fleet live. It serves its state as
JSON on 127.0.0.1 so that `patrol status` (another terminal) can look in.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from detector.geo import MetricFrame
from flight.fleet.api import Endpoints, run_fleet
from flight.fleet.result import FleetResult
from flight.fleet.sortie import FleetSettings
from flight.planner import Plan
from flight.sim.faults import Faults
from flight.sim.swarm import SimSetup
from patrol.commands.config_cmd import load_or_exit
from patrol.fleet_view import fleet_table, refresh_live
from patrol.rehearsal import SimulatedFleet

console = Console()
DEFAULT_STATUS_PORT = 8765
SWARM_APART, SWARM_PROCESSES = 8, 2  # from this many simulated drones, run them in processes of their own
SWARM_TICK_S = 0.05  # real seconds between the simulator's physics steps (its default, 0.02, for tests)


def outcome_table(result: FleetResult) -> Table:
    table = Table(title="架次结果 Sortie outcomes")
    for col in ("架次 Sortie", "无人机 Drone", "结果 State", "已飞 Items", "照片 Photos", "原因 Reason"):
        table.add_column(col)
    for o in result.outcomes:
        table.add_row(o.sortie_id, o.drone_id, o.state, f"{o.last_item + 1}/{o.items}", str(o.captures), o.reason)
    return table


def _drone_times(values: list[str], option: str, parts: int) -> dict[str, list[float]]:
    out = {}
    for v in values:
        bits = v.split(":")
        try:
            if len(bits) != parts:
                raise ValueError
            out[bits[0]] = [float(b) for b in bits[1:]]
        except ValueError:
            raise typer.BadParameter(f"{option} {v!r}: expected DRONE" + ":NUMBER" * (parts - 1)) from None
    return out


def _faults(drones: list[str], loss: float, outage: list[str], motor: list[str], sag: list[str]) -> dict[str, Faults]:
    outages = _drone_times(outage, "--outage", 3)
    motors = _drone_times(motor, "--motor-failure", 2)
    sags = _drone_times(sag, "--sag", 3)
    for name, given in (("--outage", outages), ("--motor-failure", motors), ("--sag", sags)):
        unknown = set(given) - set(drones)
        if unknown:
            raise typer.BadParameter(f"{name}: drone {sorted(unknown)[0]!r} is not in this rehearsal ({', '.join(drones)})")
    try:
        return {d: Faults(loss_pct=loss, outages=(tuple(outages[d]),) if d in outages else (),
                          motor_failure_at_s=motors[d][0] if d in motors else None,
                          battery_sag=tuple(sags[d]) if d in sags else None, seed=i)
                for i, d in enumerate(drones)}
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


def _sim_docks(plan: Plan, n: int):
    """The plan's docks with only the first `n` drones, taken round-robin across docks."""
    total = sum(len(d.drones) for d in plan.docks)
    if not 1 <= n <= total:
        raise typer.BadParameter(f"--sim {n}: the plan's docks hold {total} drones; choose 1..{total}")
    keep, depth = set(), 0
    while len(keep) < n:
        for dock in plan.docks:
            if depth < len(dock.drones) and len(keep) < n:
                keep.add(dock.drones[depth].id)
        depth += 1
    return [replace(d, drones=tuple(r for r in d.drones if r.id in keep)) for d in plan.docks]


def fly(
    plan_dir: Path = typer.Argument(..., help="directory holding plan.json (from `patrol plan CONFIG -o DIR`)"),
    config: Path = typer.Option(None, "--config", help="city config whose drone endpoints to fly (real drones)"),
    sim: int = typer.Option(0, "--sim", help="rehearse with N simulated drones instead of real ones"),
    speed: float = typer.Option(20.0, "--speed", help="simulation time speed-up (with --sim)"),
    max_sorties: int = typer.Option(0, "--max-sorties", help="fly only the first K sorties of the plan (0 = all)"),
    loss: float = typer.Option(0.0, "--loss", help="simulated packet loss %, both directions"),
    outage: list[str] = typer.Option([], "--outage", help="DRONE:START_S:DURATION_S link outage after arming"),
    motor_failure: list[str] = typer.Option([], "--motor-failure", help="DRONE:SECONDS after arming"),
    sag: list[str] = typer.Option([], "--sag", help="DRONE:SECONDS:FRACTION battery sag after arming"),
    status_port: int = typer.Option(DEFAULT_STATUS_PORT, "--status-port", help="JSON status on 127.0.0.1 (0: off)"),
    json_out: Path = typer.Option(None, "--json", help="write sortie outcomes, re-plans and link counters here"),
) -> None:
    """Fly a plan: upload, launch and watch every sortie; recover from low battery, lost links, failed drones."""
    try:
        plan = Plan.load(plan_dir)
    except (FileNotFoundError, ValueError) as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(2) from None
    if bool(sim) == bool(config):
        raise typer.BadParameter("give exactly one of --sim N (rehearsal) or --config CITY (real drones)")
    if max_sorties:
        chosen = sorted(plan.sorties, key=lambda s: s.start_s or 0.0)[:max_sorties]
        plan = replace(plan, sorties=chosen)
    vehicles, settings = Endpoints(), FleetSettings()
    if sim:
        docks = _sim_docks(plan, sim)
        ids = [r.id for d in docks for r in d.drones]
        vehicles = SimulatedFleet(SimSetup(speed=speed, faults=_faults(ids, loss, outage, motor_failure, sag),
                                           tick_s=SWARM_TICK_S),
                                  processes=SWARM_PROCESSES if sim >= SWARM_APART else 0)
        settings = vehicles.settings(settings)
        known = set(ids)
        plan = replace(plan, sorties=[s if s.drone_id in known else replace(s, drone_id=None) for s in plan.sorties])
    else:
        docks = load_or_exit(config).docks
    where = f"; status: http://127.0.0.1:{status_port}/status" if status_port else ""
    console.print(f"飞行 Flying {len(plan.sorties)} sorties of plan {plan.name!r} "
                  f"({'simulated ×' + format(speed, 'g') if sim else 'real drones'}){where}")
    with Live(console=console, refresh_per_second=4) as live:
        try:
            result = asyncio.run(run_fleet(plan, docks, vehicles=vehicles, settings=settings,
                                           status_port=status_port or None,
                                           on_start=refresh_live(live)))
        except OSError as err:
            console.print(f"[red]cannot open a link or the status port: {err}[/]")
            raise typer.Exit(1) from None
    console.print(outcome_table(result))
    coverage = result.footprint_coverage(plan.sorties, MetricFrame(plan.epsg))
    console.print(f"照片 photos: {len(result.captures)} · 重规划 re-plans: {len(result.replans)} · "
                  f"未飞 unflown: {len(result.unflown)} {', '.join(result.unflown)} · 失效 failed drones: "
                  f"{', '.join(result.failed_drones) or 'none'} · 归队 rejoined: {', '.join(result.rejoined) or 'none'} · "
                  f"覆盖 coverage from footprints: {coverage:.2%} of the plan's", highlight=False)
    for sortie_id, why in result.unflown_reasons.items():
        console.print(f"[red]未飞 unflown {sortie_id}:[/] " + "; ".join(f"{d}: {r}" for d, r in sorted(why.items())),
                      highlight=False)
    if json_out:
        out = {**result.to_dict(), "footprint_coverage": coverage}
        json_out.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    if result.unflown:  # a stopped or refused sortie another drone flew is not unflown coverage
        raise typer.Exit(1)


def status(
    port: int = typer.Option(DEFAULT_STATUS_PORT, "--port", help="the controller's status port on 127.0.0.1"),
    as_json: bool = typer.Option(False, "--json", help="print the raw JSON snapshot"),
) -> None:
    """Show the fleet as a running `patrol fly` sees it."""
    url = f"http://127.0.0.1:{port}/status"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            snap = json.loads(response.read())
    except (urllib.error.URLError, OSError) as err:
        console.print(f"[red]no controller answers at {url} ({err}); is `patrol fly` running with --status-port {port}?[/]")
        raise typer.Exit(1) from None
    if as_json:
        console.print_json(data=snap)
    else:
        console.print(fleet_table(snap))


def register(app: typer.Typer) -> None:
    app.command("fly")(fly)
    app.command("status")(status)
