"""The one call other parts make: fly sorties with real drones or a simulated fleet.

    result = await run_fleet(sorties, docks, sim=SimSetup(speed=50), on_capture=queue.put_nowait)

`sorties` may be a list of flight.mission.Sortie or any plan object with a `.sorties` list.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from flight.assets import Dock
from flight.fleet.controller import CaptureSink, FleetController
from flight.fleet.recovery import Replanner, remainder_sortie
from flight.fleet.replanning import PlanReplanner
from flight.fleet.result import FleetResult
from flight.fleet.sortie import FleetSettings
from flight.fleet.status_server import StatusServer
from flight.mavlink.clock import Clock, ScaledClock
from flight.mission import Sortie
from flight.planner import Plan
from flight.sim.swarm import SimSetup, sim_drones, start_swarm, stop_swarm


def plan_sorties(plan) -> list[Sortie]:
    sorties = plan.sorties if hasattr(plan, "sorties") else plan
    return list(sorties)


@asynccontextmanager
async def open_fleet(docks: list[Dock], clock: Clock, *, sim: SimSetup | None = None,
                     on_capture: CaptureSink | None = None, settings: FleetSettings | None = None,
                     replanner: Replanner = remainder_sortie, failed: set[str] | None = None):
    """A started controller holding every drone's link (with `sim`: simulated vehicles on 127.0.0.1
    in their place), closed on exit. `run_fleet` flies one plan with it; `patrol ops` keeps it up."""
    if sim is not None:
        pairs = sim_drones(docks)
        drones = [drone for drone, _ in pairs]
    else:
        drones = [drone for dock in docks for drone in dock.drones]
    dock_of = {drone.id: dock.id for dock in docks for drone in dock.drones}
    controller = FleetController(drones, clock, settings, on_capture, replanner, dock_of)
    if failed is not None:
        controller.failed = failed
    await controller.start()
    sims = []
    try:
        if sim is not None:
            port = next(iter(controller.hub.links.values())).local_port
            sims = await start_swarm(pairs, sim, port, clock)
        yield controller
    finally:
        await stop_swarm(sims)
        controller.close()


async def run_fleet(plan, docks: list[Dock], *, clock: Clock | None = None, sim: SimSetup | None = None,
                    on_capture: CaptureSink | None = None, settings: FleetSettings | None = None,
                    replanner: Replanner | None = None, status_port: int | None = None,
                    on_start=None) -> FleetResult:
    """Fly `plan`. With `sim`, every dock drone is replaced by a simulated vehicle on 127.0.0.1.

    `docks` are flight.assets.Dock (real endpoints) or the plan's DockInfo (simulation only).
    Re-planning goes through flight.planner.replan when `plan` is a Plan, else the plain remainder.
    `on_start(controller)` is called once links are open (e.g. to start a live display);
    `status_port` serves the controller's snapshot as JSON on 127.0.0.1 for `patrol status`
    (0 picks a free port; the URL is left in `controller.status_url`).
    """
    sorties = plan_sorties(plan)
    clock = clock or ScaledClock(sim.speed if sim is not None else 1.0)
    failed: set[str] = set()
    if replanner is None:
        replanner = PlanReplanner(plan, clock, failed) if isinstance(plan, Plan) else remainder_sortie
    async with open_fleet(docks, clock, sim=sim, on_capture=on_capture, settings=settings, replanner=replanner,
                          failed=failed) as controller:
        server = None
        try:
            if status_port is not None:
                server = StatusServer(controller.snapshot, status_port)
                await server.start()
                controller.status_url = f"http://127.0.0.1:{server.port}/status"
            if on_start is not None:
                on_start(controller)
            return await controller.fly(sorties)
        finally:
            if server is not None:
                server.close()
