"""Rehearsal vehicles: the plan's drones as `flight.sim` vehicles on 127.0.0.1, for `run_fleet`.

Choosing simulated or real drones is the app's call, so the fleet controller never imports the
simulator: `run_fleet(plan, docks, vehicles=SimulatedFleet(setup))` flies the same code path as
real drones, with every drone re-pointed at one local port and the clock sped up. A city-sized
swarm runs in processes of its own (`processes`), so the vehicles' physics and the controller's
links do not share one event loop, as they would not share one computer in the field.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from dataclasses import replace
from datetime import datetime, timedelta

from flight.assets import Dock, Drone
from flight.fleet.hub import LinkHub
from flight.fleet.sortie import FleetSettings
from flight.mavlink.clock import Clock, ScaledClock
from flight.mavlink.mission_protocol import Timing
from flight.sim.swarm import SimSetup, sim_drones, start_swarm, stop_swarm
from flight.sim.vehicle import SimVehicle

LINK_WALL_S = 1.0  # a protocol reply may take this much real time, however fast the clock runs
SILENCE_WALL_S = 10.0  # real seconds without a heartbeat before a drone counts as lost
START_WAIT_S = 120.0  # real seconds a swarm process may take to import and bind


class SimulatedFleet:
    """One simulated vehicle per dock drone (`flight.sim.swarm`), started once the links are open:
    in this event loop (`processes=0`) or split over that many processes of their own."""

    def __init__(self, setup: SimSetup | None = None, processes: int = 0) -> None:
        self.setup = setup or SimSetup()
        self.processes = processes
        self._pairs: list[tuple[Drone, Dock]] = []
        self._sims: list[SimVehicle] = []
        self._procs: list = []
        self._stop = None

    def drones(self, docks: list[Dock]) -> list[Drone]:
        self._pairs = sim_drones(docks)
        return [drone for drone, _ in self._pairs]

    def clock(self) -> Clock:
        return ScaledClock(self.setup.speed)

    def settings(self, base: FleetSettings | None = None) -> FleetSettings:
        """`base` fitted to a sped-up clock, which shortens every clock-second timeout but not the time
        a datagram takes or a busy machine's pauses, and multiplies the messages each second carries:
        timeouts get real time enough, and telemetry is asked for at the real-time rates per real second."""
        base = base or FleetSettings()
        speed = self.setup.speed
        return replace(base, timing=replace(base.timing, timeout_s=max(base.timing.timeout_s, LINK_WALL_S * speed)),
                       failed_after_s=max(base.failed_after_s, SILENCE_WALL_S * speed),
                       stream_scale=min(base.stream_scale, 1.0 / speed))

    async def start(self, hub: LinkHub, clock: Clock) -> None:
        port = next(iter(hub.links.values())).local_port
        if not self.processes:
            self._sims = await start_swarm(self._pairs, self.setup, port, clock)
            return
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        n = min(self.processes, len(self._pairs))
        for k in range(n):
            ready = ctx.Event()
            proc = ctx.Process(target=_swarm_process, daemon=True, name=f"sim-swarm-{k}",
                               args=(self._pairs[k::n], self.setup, port, clock.monotonic_at(0.0),
                                     clock.utc() - timedelta(seconds=clock.now()), ready, self._stop))
            proc.start()
            self._procs.append((proc, ready))
        for proc, ready in self._procs:
            if not await asyncio.to_thread(ready.wait, START_WAIT_S):
                raise RuntimeError(f"simulated vehicles ({proc.name}) did not start within {START_WAIT_S:.0f} s")

    async def stop(self) -> None:
        await stop_swarm(self._sims)
        if self._stop is not None:
            self._stop.set()
        for proc, _ in self._procs:
            await asyncio.to_thread(proc.join, 10.0)
            if proc.is_alive():
                proc.terminate()


def _swarm_process(pairs, setup: SimSetup, port: int, real0: float, utc0: datetime, ready, stop) -> None:
    asyncio.run(_swarm(pairs, setup, port, ScaledClock(setup.speed, utc0, real0=real0), ready, stop))


async def _swarm(pairs, setup: SimSetup, port: int, clock: Clock, ready, stop) -> None:
    sims = await start_swarm(pairs, setup, port, clock)
    ready.set()
    try:
        while not stop.is_set():
            await asyncio.sleep(0.2)
    finally:
        await stop_swarm(sims)
