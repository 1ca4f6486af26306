"""The resolved city: every reference followed, every geometry checked, ready for the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from detector.camera import CameraModel
from detector.geo import MetricFrame
from dispatch.departments import Department
from dispatch.taxonomy import Taxonomy
from flight.assets import Dock, Drone, DroneSpec, NoFlyZone, PatrolZone
from patrol.config.geometry import Area
from patrol.config.schema import CityInfo, OperationsEntry


@dataclass(frozen=True)
class District:
    name: str
    adcode: str | None
    area: Area


@dataclass(frozen=True)
class City:
    source: Path
    info: CityInfo
    taxonomy: Taxonomy
    districts: tuple[District, ...]
    departments: tuple[Department, ...]
    cameras: dict[str, CameraModel]
    drone_specs: dict[str, DroneSpec]
    docks: tuple[Dock, ...]
    zones: tuple[PatrolZone, ...]
    no_fly: tuple[NoFlyZone, ...]
    operations: OperationsEntry

    def resolve(self, relative: str) -> Path:
        """A path written in the config, relative to the config file's folder."""
        return (self.source.parent / relative).resolve()

    @property
    def frame(self) -> MetricFrame:
        return MetricFrame.around(*self.info.center)

    @property
    def drones(self) -> tuple[Drone, ...]:
        return tuple(d for dock in self.docks for d in dock.drones)

    def district(self, name: str) -> District:
        return next(d for d in self.districts if d.name == name)
