"""What one demo run produced, in the shape the report and summary.json need."""

from __future__ import annotations

from dataclasses import dataclass, field

from shapely.geometry.base import BaseGeometry

from flight.assets import PatrolZone
from patrol.evaluation import Planted, Scores
from detector.second_look import LookStats


@dataclass(frozen=True)
class AlertRecord:
    """One alert as a department's webhook receiver got it, with what the demo expected."""

    incident_id: str
    type: str
    lon: float
    lat: float
    department_id: str
    expected_department_id: str
    sightings: int
    photo_to_webhook_s: float


@dataclass(frozen=True)
class FleetEvent:
    time_s: float
    drone_id: str
    text: str


@dataclass
class DemoResult:
    zones: list[PatrolZone]
    zone_km2: float
    coverage: float
    coverage_by_zone: dict[str, float]
    tracks: dict[str, BaseGeometry]          # drone id → flown track (lon/lat LineString)
    footprints: list[BaseGeometry]          # every photo's ground footprint (lon/lat)
    docks: list[tuple[str, float, float]]
    planted: list[Planted]
    alerts: list[AlertRecord]
    scores: Scores
    photos: int
    photo_errors: int
    sightings: int
    second_look: LookStats
    sorties_planned: int
    sorties_flown: int
    replanned_sorties: int
    events: list[FleetEvent]
    sim_time_s: float
    stage_s: dict[str, float]
    total_s: float
    department_names: dict[str, str] = field(default_factory=dict)
    type_names: dict[str, str] = field(default_factory=dict)
    pose_errors: str | None = None     # profile of reported-pose errors (None: exact poses)
    duplicate_alerts: int = 0          # false alerts next to a found violation of the same type

    @property
    def routing_correct(self) -> float:
        if not self.alerts:
            return 1.0
        return sum(a.department_id == a.expected_department_id for a in self.alerts) / len(self.alerts)
