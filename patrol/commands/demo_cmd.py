"""`patrol demo`: the whole loop on this machine, then a report of what it found."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def demo(
    config: Path = typer.Option(Path("configs/quzhou.yaml"), "--config", "-c", help="city config YAML"),
    area: float = typer.Option(2.0, "--area", help="km² of patrol area (split across two districts)"),
    drones: int = typer.Option(5, help="simulated drones (the docks nearest the area)"),
    speed: float = typer.Option(60.0, help="simulated seconds per real second"),
    seed: int = typer.Option(7, help="seed of the synthetic city"),
    no_fault: bool = typer.Option(False, "--no-fault", help="skip the injected battery sag"),
    model: Path = typer.Option(None, help="detector model card (default: the shipped model)"),
    report: Path = typer.Option(Path("report"), "--report", "-o", help="report folder"),
    work: Path = typer.Option(Path("out/demo"), help="working folder (photos, dispatch store)"),
    live: bool = typer.Option(True, help="live fleet table"),
    pose_errors: str = typer.Option(None, "--pose-errors",
                                    help="report photo poses with real drones' errors: gnss (no RTK) or rtk"),
) -> None:
    """Patrol part of Quzhou with simulated drones: plan, fly, detect, route, deliver, and score it."""
    from patrol.demo.pipeline import DemoOptions, run_demo
    from patrol.demo.pose_errors import PROFILES
    from patrol.demo.report import write_report

    if pose_errors is not None and pose_errors not in PROFILES:
        raise typer.BadParameter(f"{pose_errors!r} is not one of {sorted(PROFILES)}", param_hint="--pose-errors")

    opts = DemoOptions(config=config, area_km2=area, drones=drones, speed=speed, seed=seed,
                       battery_sag=not no_fault, work_dir=work, live=live, pose_errors=pose_errors)
    if model is not None:
        opts.model = model
    result = run_demo(opts, console)
    figures = write_report(result, report)
    table = Table(title="综合飞一次 演示结果 · demo result")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target met", justify="center")
    for key in ("recall", "precision", "geo_error_median_m", "coverage", "routing_correct"):
        value = figures[key]
        table.add_row(key, "—" if value is None else f"{value:.3f}", "✓" if figures["targets_met"][key] else "✗")
    for key in ("photos", "sightings", "alerts_delivered", "duplicate_alerts", "replanned_sorties", "photo_to_webhook_p50_s",
                "photo_to_webhook_p95_s", "total_time_s"):
        value = figures[key]
        table.add_row(key, "—" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value), "")
    console.print(table)
    look = figures["second_look"]
    console.print(f"second look: {look['confirmed']} confirmed, {look['dropped']} dropped, {look['unconfirmed']} seen in one photo only")
    console.print(f"report: {report / 'index.html'}")
    if not all(figures["targets_met"].values()):
        raise typer.Exit(1)
