"""The one call other parts make: fly sorties with real drones or a simulated fleet.

    result = await run_fleet(sorties, docks, sim=SimSetup(speed=50), on_capture=queue.put_nowait)

`sorties` may be a list of flight.mission.Sortie or any plan object with a `.sorties` list.
"""

from __future__ import annotations

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
    if sim is not None:
        pairs = sim_drones(docks)
        drones = [drone for drone, _ in pairs]
        clock = clock or ScaledClock(sim.speed)
    else:
        drones = [drone for dock in docks for drone in dock.drones]
        clock = clock or ScaledClock(1.0)
    failed: set[str] = set()
    if replanner is None:
        replanner = PlanReplanner(plan, clock, failed) if isinstance(plan, Plan) else remainder_sortie
    dock_of = {drone.id: dock.id for dock in docks for drone in dock.drones}
    controller = FleetController(drones, clock, settings, on_capture, replanner, dock_of)
    controller.failed = failed
    await controller.start()
    sims = []
    server = None
    try:
        if sim is not None:
            port = next(iter(controller.hub.links.values())).local_port
            sims = await start_swarm(pairs, sim, port, clock)
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
        await stop_swarm(sims)
        controller.close()
