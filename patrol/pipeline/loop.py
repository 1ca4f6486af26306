"""The patrol loop, wired once for `patrol run` and `patrol demo`: fly the plan, and every photo the
drones take is fetched, detected, given its second look and posted to dispatch while they fly.

    outcome = fly_patrol(plan, docks, Reporting(camera, pool, url, token, zone), console=console)

The callers differ only in what they hand in: real drones and a photo folder, or simulated
drones (`sim`, on a faster `clock`) and a camera that renders the synthetic city.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from shapely.geometry.base import BaseGeometry

from detector.capture import Capture
from detector.detect import Detector
from flight.fleet.api import run_fleet
from flight.fleet.result import FleetResult
from flight.mavlink.clock import Clock, real_clock
from flight.sim.swarm import SimSetup
from patrol.fleet_view import fleet_table, refresh_live
from patrol.pipeline.engines import DetectionPool
from patrol.pipeline.photos import PhotoStage, PhotoStats
from patrol.rehearsal import SimulatedFleet


@dataclass(frozen=True)
class Reporting:
    """Where the photos come from and where their sightings go."""

    camera: Callable[[Capture], Capture]  # a trigger (pose, time) → the capture with its pixels
    detector: Detector | DetectionPool
    dispatch_url: str
    ingest_token: str
    zone_mask: BaseGeometry | None  # lon/lat: findings outside it are not reported


@dataclass(frozen=True)
class PatrolOutcome:
    fleet: FleetResult
    photos: PhotoStats
    fly_s: float  # wall seconds until the last sortie was over
    drain_s: float  # then until the last photo was posted


def fly_patrol(plan, docks, reporting: Reporting, *, console: Console, clock: Clock | None = None,
               sim: SimSetup | None = None, status_port: int | None = None, live: bool = True,
               totals: Callable[[], list[str]] = list) -> PatrolOutcome:
    """Fly `plan` from `docks` (with `sim`: simulated vehicles) while the photo stage reports what
    the cameras saw; returns once every sortie is over and every photo is posted. `totals` adds
    lines to the live view's figures (the demo counts delivered alerts). `clock`: the fleet's, which
    the cameras' timestamps follow too (default: real time)."""
    clock = clock or real_clock()
    photos = PhotoStage(reporting.camera, reporting.detector, reporting.dispatch_url, reporting.ingest_token,
                        reporting.zone_mask, clock=clock.utc)
    photos.start()

    def view(snapshot: dict) -> Group:
        s = photos.stats
        row = Table.grid(padding=(0, 3))
        row.add_row(f"[bold]{s.photos}[/] photos processed 已处理照片", f"[bold]{photos.backlog}[/] queued 排队",
                    f"[bold]{s.sightings}[/] sightings 目击", f"[bold]{s.refused}[/] refused 被拒", *totals())
        return Group(fleet_table(snapshot), row)

    async def fly(on_start) -> FleetResult:
        return await run_fleet(plan, docks, clock=clock, vehicles=SimulatedFleet(sim) if sim is not None else None,
                               status_port=status_port,
                               on_capture=photos.submit, on_start=on_start)

    # the fleet's event loop gets a thread of its own, so this also runs from inside code that
    # already holds a loop on this thread (a notebook, Playwright's sync API in tests)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(1, thread_name_prefix="fleet") as pool:
        if live:
            with Live(console=console, refresh_per_second=4) as display:
                fleet = pool.submit(asyncio.run, fly(refresh_live(display, view))).result()
        else:
            fleet = pool.submit(asyncio.run, fly(None)).result()
    t1 = time.perf_counter()
    stats = photos.finish()
    return PatrolOutcome(fleet, stats, t1 - t0, time.perf_counter() - t1)
