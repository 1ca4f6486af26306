"""The one call other parts make: fly sorties with the fleet's drones.

    result = await run_fleet(plan, docks, vehicles=SimulatedFleet(setup), on_capture=queue.put_nowait)

Which vehicles answer (the drones' own endpoints, a simulator, SITL) is the caller's choice, made
in the app layer: `vehicles` says where the drones are and starts whatever has to run beside the
controller. The controller itself only speaks MAVLink to endpoints.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Protocol

from flight.assets import Dock, Drone
from flight.fleet.controller import CaptureSink, FleetController
from flight.fleet.hub import LinkHub
from flight.fleet.recovery import Replanner, remainder_replanner
from flight.fleet.replanning import PlanReplanner
from flight.fleet.result import FleetResult
from flight.fleet.sortie import FleetSettings
from flight.fleet.status_server import StatusServer
from flight.mavlink.clock import Clock, ScaledClock
from flight.mission import Sortie
from flight.planner import Plan


class Vehicles(Protocol):
    """Where the drones are. `start` runs once the controller's links (`hub`) are open."""

    def drones(self, docks: list[Dock]) -> list[Drone]: ...

    def clock(self) -> Clock: ...

    async def start(self, hub: LinkHub, clock: Clock) -> None: ...

    async def stop(self) -> None: ...


class Endpoints:
    """Real vehicles (or SITLs) at the endpoints the city config gives each drone, in real time."""

    def drones(self, docks: list[Dock]) -> list[Drone]:
        return [drone for dock in docks for drone in dock.drones]

    def clock(self) -> Clock:
        return ScaledClock(1.0)

    async def start(self, hub: LinkHub, clock: Clock) -> None:
        return None

    async def stop(self) -> None:
        return None


def plan_sorties(plan) -> list[Sortie]:
    sorties = plan.sorties if hasattr(plan, "sorties") else plan
    return list(sorties)


@asynccontextmanager
async def open_fleet(docks: list[Dock], clock: Clock | None = None, *, vehicles: Vehicles | None = None,
                     on_capture: CaptureSink | None = None, settings: FleetSettings | None = None,
                     replanner: Replanner = remainder_replanner):
    """A started controller holding every drone's link (the `vehicles` started beside it), closed on
    exit. `run_fleet` flies one plan with it; `patrol ops` keeps it up."""
    vehicles = vehicles or Endpoints()
    drones = vehicles.drones(docks)
    clock = clock or vehicles.clock()
    dock_of = {drone.id: dock.id for dock in docks for drone in dock.drones}
    controller = FleetController(drones, clock, settings, on_capture, replanner, dock_of)
    await controller.start()
    try:
        await vehicles.start(controller.hub, clock)
        yield controller
    finally:
        await vehicles.stop()
        controller.close()


async def run_fleet(plan, docks: list[Dock], *, vehicles: Vehicles | None = None, clock: Clock | None = None,
                    on_capture: CaptureSink | None = None, settings: FleetSettings | None = None,
                    replanner: Replanner | None = None, status_port: int | None = None,
                    on_start=None) -> FleetResult:
    """Fly `plan` (a Plan, or a list of Sorties) with `vehicles` (default: the drones' endpoints).

    Re-planning goes through flight.planner.replan (in a worker process) when `plan` is a Plan,
    else the plain remainder. `on_start(controller)` is called once links are open (e.g. to start
    a live display); `status_port` serves the controller's snapshot as JSON on 127.0.0.1 for
    `patrol status` (0 picks a free port; the URL is left in `controller.status_url`).
    """
    sorties = plan_sorties(plan)
    planner = PlanReplanner(plan) if replanner is None and isinstance(plan, Plan) else None
    try:
        async with open_fleet(docks, clock, vehicles=vehicles, on_capture=on_capture, settings=settings,
                              replanner=replanner or planner or remainder_replanner) as controller:
            if planner is not None:
                planner.warm()
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
    finally:
        if planner is not None:
            planner.close()
