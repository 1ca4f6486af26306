"""What the fleet is made of and where it may fly: drone specs, docks, patrol and no-fly zones.

The city config (patrol.config) builds these; the planner and the fleet controller read them.
Geometry is lon/lat (WGS84); planners project it to metres with `detector.MetricFrame`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field
from shapely.geometry import MultiPolygon, Polygon

from detector.camera import CameraModel
from flight.mavlink.signing import Signing

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]


@dataclass(frozen=True)
class DroneSpec:
    """Performance envelope of one drone model, as the flight-time budget needs it.

    `cruise_speed_m_s` is the survey speed on photo strips (photo spacing, motion blur);
    `transit_speed_m_s` the faster speed flown to, between and from strips (default: the
    survey speed, so configs written before it existed plan as before).
    """

    cruise_speed_m_s: Positive
    climb_rate_m_s: Positive
    descent_rate_m_s: Positive
    usable_flight_time_min: Positive
    reserve_min: NonNegative
    wind_margin: Fraction = 0.1
    turn_time_s: NonNegative = 6.0
    max_altitude_agl_m: Positive = 120.0
    transit_speed_m_s: Positive | None = None

    def __post_init__(self) -> None:
        if self.transit_speed_m_s is None:
            object.__setattr__(self, "transit_speed_m_s", self.cruise_speed_m_s)
        elif self.transit_speed_m_s < self.cruise_speed_m_s:
            raise ValueError(f"transit_speed_m_s = {self.transit_speed_m_s} is below cruise_speed_m_s = "
                             f"{self.cruise_speed_m_s}; expected a transit speed at least the survey speed")

    @property
    def battery(self) -> "Battery":
        return Battery(self.usable_flight_time_min * 60.0, self.reserve_min * 60.0, self.wind_margin)

    @property
    def flight_budget_s(self) -> float:
        """Seconds a sortie may last: usable time less reserve, shrunk by the wind margin."""
        return self.battery.budget_s


@dataclass(frozen=True)
class Battery:
    """A drone model's battery, read one way by the planner (how long a sortie may be), the fleet
    controller (when to launch, when to turn home) and the simulator (when its failsafe fires).

    A full charge is `full_s` of flight, drawn linearly. `reserve_s` is left on landing and never
    planned; the wind margin is kept in hand against headwind, so the controller allows for it both
    when charging for a sortie and when judging the way home. A sortie the plan sized
    (duration ≤ budget) and launched at `launch_pct(duration)` reaches its dock with ≥ the reserve
    and never crosses `return_pct`, however far out it is.
    """

    full_s: float
    reserve_s: float
    wind_margin: float

    @property
    def budget_s(self) -> float:
        return (self.full_s - self.reserve_s) * (1.0 - self.wind_margin)

    @property
    def reserve_pct(self) -> float:
        return 100.0 * self.reserve_s / self.full_s

    def launch_pct(self, duration_s: float) -> float:
        """Charge (%) to take off with for a sortie planned to last `duration_s`."""
        return min(100.0, 100.0 * (duration_s / (1.0 - self.wind_margin) + self.reserve_s) / self.full_s)

    def return_pct(self, home_s: float) -> float:
        """Below this charge (%) a drone `home_s` of flight from its dock must turn home now."""
        return 100.0 * (home_s / (1.0 - self.wind_margin) + self.reserve_s) / self.full_s


@dataclass(frozen=True)
class Drone:
    """One airframe on a dock: its spec, its camera and how the controller reaches it."""

    id: str
    spec: DroneSpec
    camera: CameraModel
    endpoint: str | None = None
    system_id: int = 1
    signing: Signing | None = None  # MAVLink 2 signing on this drone's link


@dataclass(frozen=True)
class Dock:
    """A charging dock: drones take off and land here, and recharge between sorties."""

    id: str
    lon: float
    lat: float
    alt_amsl_m: float
    charge_time_min: float
    drones: tuple[Drone, ...] = field(default=())


@dataclass(frozen=True)
class PatrolZone:
    """An area to photograph completely once per patrol, at one altitude and overlap."""

    id: str
    name: str
    area: Polygon | MultiPolygon
    altitude_agl_m: float
    front_overlap: float
    side_overlap: float
    priority: int = 1
    revisit_period_h: float = 24.0


@dataclass(frozen=True)
class NoFlyZone:
    """Airspace no sortie may enter (airport clearance, military, crowds)."""

    id: str
    name: str
    area: Polygon | MultiPolygon
