"""The demo's live view: the fleet, photos processed and alerts delivered, refreshed in place."""

from __future__ import annotations

from typing import Callable

from rich.console import Group
from rich.table import Table


def fleet_table(snapshot: dict) -> Table:
    table = Table(title=f"机队 Fleet · sim {snapshot.get('time_utc', '')[:19]}Z", expand=False)
    for col in ("drone", "mode", "armed", "battery", "alt m", "sortie", "state", "progress"):
        table.add_column(col)
    for d in snapshot.get("drones", []):
        battery = d.get("battery_pct")
        table.add_row(
            d["drone_id"], str(d.get("mode", "")), "✓" if d.get("armed") else "",
            "" if battery is None else f"{battery:.0f}%", f"{d.get('alt_rel_m', 0) or 0:.0f}",
            d.get("sortie") or "", d.get("sortie_state") or ("failed" if d.get("failed") else ""), d.get("progress", ""),
        )
    return table


def live_view(snapshot: Callable[[], dict], counters: Callable[[], dict[str, int]]) -> Group:
    c = counters()
    totals = Table.grid(padding=(0, 3))
    totals.add_row(*(f"[bold]{v}[/] {k}" for k, v in c.items()))
    return Group(fleet_table(snapshot()), totals)
