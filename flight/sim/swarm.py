"""A simulated fleet for a city config: one SimVehicle per drone, at its dock, in this process."""

from __future__ import annotations

from dataclasses import dataclass, field

from flight.assets import Dock, Drone
from flight.mavlink.clock import Clock
from flight.sim.copter import Performance
from flight.sim.faults import Faults
from flight.sim.vehicle import SimConfig, SimVehicle


@dataclass
class SimSetup:
    """How to rehearse: clock speed-up, EKF start-up delay, per-drone faults and charge."""

    speed: float = 20.0
    ekf_ready_s: float = 5.0
    faults: dict[str, Faults] = field(default_factory=dict)
    initial_soc: dict[str, float] = field(default_factory=dict)
    endurance_s: dict[str, float] = field(default_factory=dict)  # default: the drone model's usable time
    batt_low_pct: dict[str, float] = field(default_factory=dict)  # failsafe; default: the model's reserve
    gcs_failsafe_s: float | None = None
    tick_s: float = 0.02


def sim_drones(docks: list[Dock]) -> list[tuple[Drone, Dock]]:
    """Every drone re-pointed at one local listening port, system ids 1..N (all sims share it).

    Accepts city-config Docks or a plan's DockInfo (anything with id/spec/camera drones)."""
    pairs = [(drone, dock) for dock in docks for drone in dock.drones]
    if len(pairs) > 250:
        raise ValueError(f"{len(pairs)} drones: one simulated link carries at most 250 system ids")
    return [(Drone(drone.id, drone.spec, drone.camera, endpoint="udpin:127.0.0.1:0", system_id=i + 1), dock)
            for i, (drone, dock) in enumerate(pairs)]


def sim_config(drone: Drone, dock: Dock, setup: SimSetup, gcs_port: int) -> SimConfig:
    spec = drone.spec
    return SimConfig(
        system_id=drone.system_id, lat=dock.lat, lon=dock.lon, alt_amsl=dock.alt_amsl_m, gcs_port=gcs_port,
        ekf_ready_s=setup.ekf_ready_s, endurance_s=setup.endurance_s.get(drone.id, spec.usable_flight_time_min * 60.0),
        initial_soc=setup.initial_soc.get(drone.id, 1.0), charge_s=dock.charge_time_min * 60.0,
        gcs_failsafe_s=setup.gcs_failsafe_s, batt_low_pct=setup.batt_low_pct.get(drone.id, spec.battery.reserve_pct),
        perf=Performance(cruise_m_s=spec.cruise_speed_m_s, climb_m_s=spec.climb_rate_m_s,
                         descent_m_s=spec.descent_rate_m_s),
        faults=setup.faults.get(drone.id, Faults()), tick_s=setup.tick_s, signing=drone.signing)


async def start_swarm(pairs: list[tuple[Drone, Dock]], setup: SimSetup, gcs_port: int, clock: Clock) -> list[SimVehicle]:
    sims = [SimVehicle(sim_config(drone, dock, setup, gcs_port), clock) for drone, dock in pairs]
    for sim in sims:
        await sim.start()
    return sims


async def stop_swarm(sims: list[SimVehicle]) -> None:
    for sim in sims:
        await sim.stop()
