"""A small city for the ops service tests: two docks, one 400 × 400 m patrol zone, a no-fly box,
flood-prone points, simulated ArduCopters over real UDP on a 60× clock, the API over ASGI."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import httpx
from shapely.geometry import box

from detector.camera import CameraModel
from detector.geo import MetricFrame
from flight.assets import Dock, Drone, DroneSpec, NoFlyZone, PatrolZone
from flight.fleet.api import open_fleet
from flight.fleet.replanning import PlanReplanner
from flight.fleet.recovery import remainder_replanner
from flight.fleet.sortie import FleetSettings
from flight.mavlink.clock import ScaledClock
from flight.ops.app import Open311Service, make_app
from flight.ops.service import OpsService, OpsSettings
from flight.ops.store import TaskStore
from flight.ops.sweep import FloodPoint
from flight.ops.world import World
from flight.planner import plan_patrol
from flight.sim.survey import square_zone
from flight.sim.swarm import SimSetup
from patrol.rehearsal import SimulatedFleet

LON, LAT = 118.87, 28.95
START = datetime(2026, 6, 20, 0, 0, tzinfo=timezone.utc)  # 08:00 in Quzhou
SPEED = 60.0
CAMERA = CameraModel(13.2, 8.8, 8.8, 5472, 3648)
SPEC = DroneSpec(cruise_speed_m_s=12, climb_rate_m_s=5, descent_rate_m_s=4, usable_flight_time_min=30, reserve_min=5,
                 transit_speed_m_s=18)
ZONE = PatrolZone("z1", "老城区 old town", square_zone(LON, LAT, 400.0), altitude_agl_m=60.0, front_overlap=0.5,
                  side_overlap=0.3)
NO_FLY = NoFlyZone("nf1", "医院 hospital pad", square_zone(LON + 0.012, LAT - 0.008, 300.0))
KEEP_IN = box(LON - 0.2, LAT - 0.2, LON + 0.2, LAT + 0.2)  # the city boundary
CODES = frozenset({"road_waterlogging", "exposed_garbage", "illegal_structure"})
SERVICES = [Open311Service(service_code=c, service_name=c, description=c) for c in sorted(CODES)]


def docks(d1=("a", "b"), d2=("c",), charge_min: float = 10.0) -> tuple[Dock, ...]:
    return (Dock("d1", LON - 0.003, LAT - 0.001, 80.0, charge_min, tuple(Drone(d, SPEC, CAMERA) for d in d1)),
            Dock("d2", LON + 0.006, LAT + 0.004, 82.0, charge_min, tuple(Drone(d, SPEC, CAMERA) for d in d2)))


def flood_points() -> tuple[FloodPoint, ...]:
    offsets = [(0.001, 0.001), (0.002, -0.001), (-0.001, 0.002), (0.004, 0.003), (0.007, 0.005), (-0.006, -0.004)]
    return tuple(FloodPoint(f"fp{i}", f"积水点{i}", f"flood point {i}", "underpass", LON + dx, LAT + dy, 1 + i % 3)
                 for i, (dx, dy) in enumerate(offsets))


def point(dx: float, dy: float) -> dict:
    return {"type": "Point", "coordinates": [LON + dx, LAT + dy]}


def uncovered(area, captures) -> float:
    """Share of `area` (lon/lat) not inside any capture's ground footprint."""
    from shapely.ops import unary_union
    from flight.fleet.captures import footprint_m
    frame = MetricFrame.for_geometry(area)
    area_m = frame.to_metric(area)
    covered = unary_union([footprint_m(c, frame) for c in captures])
    return area_m.difference(covered).area / area_m.area


class Ops:
    """A running service with its fleet, clock, API client and everything it photographed."""

    def __init__(self, service: OpsService, client: httpx.AsyncClient, clock: ScaledClock, captures: list):
        self.service, self.client, self.clock, self.captures = service, client, clock, captures

    async def until(self, predicate, timeout_s: float = 60.0, what: str = "condition"):
        """Wait (real seconds, bounded) for predicate() to be truthy; its value is returned."""
        for _ in range(int(timeout_s / 0.05)):
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def task(self, task_id: str):
        return self.service.tasks[task_id]


@asynccontextmanager
async def running(tmp_path, *, dock_set=None, plan=None, sim: SimSetup | None = None, weather=None,
                  settings: FleetSettings | None = None, points=(), store_path=None):
    dock_set = dock_set or docks()
    clock = ScaledClock(SPEED, start_utc=START)
    settings = settings or FleetSettings()
    sim = sim or SimSetup(speed=SPEED, ekf_ready_s=4.0)
    world = World(dock_set, (ZONE,), (NO_FLY,), keep_in=KEEP_IN)
    replanner = PlanReplanner(plan) if plan is not None else remainder_replanner
    captures: list = []
    store = TaskStore(store_path or tmp_path / "ops.sqlite")
    async with open_fleet(list(dock_set), clock, vehicles=SimulatedFleet(sim), settings=settings,
                          replanner=replanner) as controller:
        service = OpsService(world, controller, store, clock, OpsSettings(tick_s=2.0, type_codes=CODES),
                             weather=weather, flood_points=tuple(points), on_capture=captures.append, plan=plan)
        runner = asyncio.get_running_loop().create_task(service.run())
        transport = httpx.ASGITransport(app=make_app(service, SERVICES))
        async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
            try:
                yield Ops(service, client, clock, captures)
            finally:
                service.stop()
                for drone_id in list(controller.active):
                    controller.return_home(drone_id, "test over")
                await asyncio.wait_for(runner, 120.0)
    store.close()


def patrol_plan(dock_set, drone_id: str = "a"):
    """The zone planned from d1 alone, every sortie on one drone (the others stay free)."""
    plan = plan_patrol([ZONE], [], [d for d in dock_set if d.id == "d1"], name="cycle")
    for s in plan.sorties:
        s.drone_id = drone_id
    return plan
