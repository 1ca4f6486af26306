"""`patrol task add|list|cancel`: the operator's way into a running `patrol ops` (its HTTP API)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.table import Table

from flight.ops.cron import CITY_TZ
from patrol.commands.ops_cmd import DEFAULT_OPS_PORT

app = typer.Typer(help="Add, list and cancel tasks on the running fleet service (`patrol ops`).", no_args_is_help=True)
console = Console()
SERVER = typer.Option(f"http://127.0.0.1:{DEFAULT_OPS_PORT}", "--server", help="the ops service's base URL")


def _where(point: str | None, polygon: Path | None) -> dict:
    if bool(point) == bool(polygon):
        raise typer.BadParameter("give exactly one of --point LON,LAT or --polygon FILE.geojson")
    if point:
        try:
            lon, lat = (float(v) for v in point.split(","))
        except ValueError:
            raise typer.BadParameter(f"--point {point!r}: expected LON,LAT in degrees, e.g. 118.87,28.95") from None
        return {"type": "Point", "coordinates": [lon, lat]}
    try:
        data = json.loads(polygon.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise typer.BadParameter(f"--polygon {polygon}: {err}") from None
    if data.get("type") == "FeatureCollection":
        data = data["features"][0]
    return data.get("geometry", data)


def _call(method: str, url: str, **kw) -> dict:
    try:
        response = httpx.request(method, url, timeout=10.0, **kw)
    except httpx.HTTPError as err:
        console.print(f"[red]no ops service answers at {url} ({err}); is `patrol ops CONFIG` running?[/]")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        detail = response.json().get("detail") if "json" in response.headers.get("content-type", "") else response.text
        if isinstance(detail, list):
            for d in detail:
                console.print(f"[red]{'.'.join(str(p) for p in d.get('loc', [])[1:]) or 'request'}: {d.get('msg')}[/]")
        else:
            console.print(f"[red]{response.status_code}: {detail}[/]")
        raise typer.Exit(2)
    return response.json()


@app.command("add")
def add(
    point: str = typer.Option(None, "--point", help="LON,LAT"),
    polygon: Path = typer.Option(None, "--polygon", help="GeoJSON Polygon (geometry, Feature or first feature)"),
    kind: str = typer.Option("immediate", "--kind", help="immediate | timed | conditional"),
    at: str = typer.Option(None, "--at", help="timed: first start, ISO 8601 with offset (e.g. 2026-06-20T08:00+08:00)"),
    cron: str = typer.Option(None, "--cron", help="timed, recurring: 'min hour day month weekday', Asia/Shanghai"),
    type_code: str = typer.Option(None, "--type", help="taxonomy code of what to look for"),
    priority: int = typer.Option(3, "--priority", help="1 most urgent … 5"),
    min_battery: float = typer.Option(None, "--min-battery", help="conditional: launch only at this charge %"),
    window: str = typer.Option(None, "--window", help="conditional: HH:MM-HH:MM Asia/Shanghai"),
    fair_weather: bool = typer.Option(False, "--fair-weather", help="conditional: only within the weather limits"),
    note: str = typer.Option("", "--note"),
    server: str = SERVER,
) -> None:
    """Queue a task; prints its id and status (a rejected one says which field and why)."""
    conditions: dict = {"fair_weather": fair_weather}
    if min_battery is not None:
        conditions["min_battery_pct"] = min_battery
    if window:
        conditions["window"] = window.split("-", 1) if "-" in window else [window]
    body = {"kind": kind, "where": _where(point, polygon), "priority": priority, "note": note,
            "type_code": type_code, "at": at, "cron": cron, "conditions": conditions}
    task = _call("POST", f"{server}/v1/tasks", json=body)
    console.print(f"任务 task {task['id']}: {task['status']} — {task['history'][-1]['note']}")


@app.command("list")
def list_tasks(server: str = SERVER, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every task with its status and the latest reason (times in Asia/Shanghai)."""
    data = _call("GET", f"{server}/v1/tasks")
    if as_json:
        console.print_json(data=data)
        return
    table = Table(title="任务 Tasks")
    for col in ("编号 ID", "类型 Kind", "来源 Source", "状态 Status", "照片 Photos", "更新 Updated (Asia/Shanghai)", "说明 Note"):
        table.add_column(col)
    for t in data["tasks"]:
        last = t["history"][-1]
        when = datetime.fromisoformat(last["time"]).astimezone(CITY_TZ).strftime("%m-%d %H:%M:%S")
        table.add_row(t["id"], t["kind"], t["source"], t["status"], str(t["photos"]), when, last["note"][:80])
    console.print(table)


@app.command("cancel")
def cancel(task_id: str = typer.Argument(...), server: str = SERVER) -> None:
    task = _call("DELETE", f"{server}/v1/tasks/{task_id}")
    console.print(f"任务 task {task['id']}: {task['status']}")
