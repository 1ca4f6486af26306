"""The fleet as operators read it, shared by `patrol fly`, `patrol status`, `patrol run` and `patrol demo`."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table

LOCAL = ZoneInfo("Asia/Shanghai")
LANDED_STATES = {0: "?", 1: "地面 ground", 2: "空中 air", 3: "起飞 takeoff", 4: "降落 landing"}


def _local(iso: str | None) -> str:
    return datetime.fromisoformat(iso).astimezone(LOCAL).strftime("%H:%M:%S") if iso else ""


def fleet_table(snap: dict) -> Group:
    """The fleet as operators read it: one row per drone, plus a line of totals (times Asia/Shanghai)."""
    table = Table(title=f"机队 Fleet · {_local(snap['time_utc'])} 北京时间")
    for col in ("无人机 Drone", "链路 Link", "模式 Mode", "解锁 Armed", "电量 Batt", "高度 Alt m", "架次 Sortie",
                "状态 State", "进度 Items", "消息 Last message"):
        table.add_column(col)
    for d in snap["drones"]:
        link = "[red]失效 failed[/]" if d["failed"] else ("[yellow]中断 stale[/]" if d["stale"] else "[green]正常 ok[/]")
        if d["mode"] == "?":
            link = "[dim]未连接 waiting[/]"
        alt = f"{d['alt_rel_m']:.0f}" if d["alt_rel_m"] is not None else ""
        batt = f"{d['battery_pct']}%" if d["battery_pct"] is not None else ""
        table.add_row(d["drone_id"], link, d["mode"], "是 yes" if d["armed"] else "否 no", batt, alt,
                      d["sortie"] or "", d["sortie_state"] or LANDED_STATES.get(d["landed_state"], ""), d["progress"],
                      d["last_text"][:40])
    done = sum(1 for s in snap["sorties"] if s["state"] == "landed")
    totals = (f"架次 sorties: {done} landed / {len(snap['sorties'])} started / {len(snap['pending'])} waiting · "
              f"照片 photos: {snap['captures']} · 重规划 re-plans: {snap['replans']}")
    return Group(table, totals)


def refresh_live(live: Live, render: Callable[[dict], RenderableType] = fleet_table,
                 period_s: float = 0.5) -> Callable[[object], None]:
    """An `on_start` for run_fleet: redraw `live` from the controller's snapshot until the loop ends."""

    def start(controller) -> None:
        async def refresh() -> None:
            while True:
                live.update(render(controller.snapshot()))
                await asyncio.sleep(period_s)

        asyncio.get_running_loop().create_task(refresh())

    return start
