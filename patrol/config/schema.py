"""The city config file as written (YAML), validated by pydantic before anything is resolved."""

from __future__ import annotations

import math
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from detector.camera import CameraModel
from flight.assets import DroneSpec
from flight.mavlink.links import parse_endpoint

Lon = Annotated[float, Field(ge=-180, le=180)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Overlap = Annotated[float, Field(ge=0, lt=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeometryRef(Strict):
    """A polygon, given one of three ways: a feature of a GeoJSON file, inline GeoJSON, or a circle."""

    file: str | None = None
    feature: str | None = Field(None, description="matched against the feature's `id`, properties.id or properties.name")
    geometry: dict[str, Any] | None = None
    center: tuple[float, float] | None = Field(None, description="[lon, lat] of a circle")
    radius_m: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_form(self) -> "GeometryRef":
        forms = [self.file is not None, self.geometry is not None, self.center is not None]
        if sum(forms) != 1:
            raise ValueError("give exactly one of: file (+ feature), geometry, center (+ radius_m)")
        if self.center is not None and self.radius_m is None:
            raise ValueError("a circle needs radius_m next to center")
        return self


class DepartmentEntry(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    name_en: str
    kind: str
    jurisdiction: GeometryRef | None = None
    catch_all: bool = False
    webhook: str | None = None
    handles: list[str] | None = Field(None, description="type codes; default: every type whose handled_by lists this kind")

    @model_validator(mode="after")
    def _has_area(self) -> "DepartmentEntry":
        if self.jurisdiction is None and not self.catch_all:
            raise ValueError("a department needs a jurisdiction unless it is the city catch-all (catch_all: true)")
        return self


class SigningEntry(Strict):
    """MAVLink 2 signing on a drone's link. Where the key is, never the key: configs get shared and committed."""

    key_file: str | None = Field(None, description="file with the 32-byte key as 64 hex digits, relative to the config")
    key_env: str | None = Field(None, description="environment variable holding the key as 64 hex digits")
    link_id: int = Field(0, ge=0, le=255, description="our link id in each signature")
    refuse_unsigned: bool = Field(True, description="drop unsigned incoming packets (false: accept them too)")

    @model_validator(mode="after")
    def _one_source(self) -> "SigningEntry":
        if (self.key_file is None) == (self.key_env is None):
            raise ValueError("give exactly one of key_file, key_env")
        return self


class DroneEntry(Strict):
    id: str
    model: str
    camera: str
    endpoint: str | None = Field(None, description="MAVLink endpoint: udp:HOST:PORT, udpin:, tcp:, or a serial device")
    system_id: int = Field(1, ge=1, le=255)
    signing: SigningEntry | None = None

    @field_validator("endpoint")
    @classmethod
    def _known_scheme(cls, v: str | None) -> str | None:
        """Parsed as the fleet will parse it, so `patrol fly` never meets an endpoint it cannot open."""
        if v is not None:
            parse_endpoint(v)  # EndpointError is a ValueError: reported under this field
        return v


class DockEntry(Strict):
    id: str
    name: str | None = None
    position: tuple[float, float] = Field(description="[lon, lat]")
    alt_amsl_m: float = 0.0
    charge_time_min: float = Field(gt=0)
    drones: list[DroneEntry] = Field(min_length=1)

    @field_validator("position")
    @classmethod
    def _finite(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(math.isfinite(c) for c in v):
            raise ValueError("coordinates must be finite numbers")
        return v


class ZoneEntry(Strict):
    id: str
    name: str
    area: GeometryRef
    altitude_agl_m: float = Field(gt=0)
    front_overlap: Overlap = 0.7
    side_overlap: Overlap = 0.6
    priority: int = Field(1, ge=1, le=5, description="1 = fly first")
    revisit_period_h: float = Field(24.0, gt=0)


class NoFlyEntry(Strict):
    id: str
    name: str
    area: GeometryRef


class CityInfo(Strict):
    name: str
    name_en: str
    timezone: str = Field("Asia/Shanghai", description="IANA time zone for what people read, e.g. Asia/Shanghai")
    center: tuple[float, float] = Field(description="[lon, lat] used to open maps")
    base_map_tiles: str | None = Field(None, description="XYZ tile URL template for the HTML map, e.g. a local tile server")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as Asia/Shanghai") from None
        return v


class OperationsEntry(Strict):
    """How `patrol run` reaches the rest of the system in production."""

    dispatch_url: str = Field("http://127.0.0.1:8600", description="base URL of the dispatch service")
    photos_dir: str = Field("photos", description="folder the docks sync photos into, one sub-folder per drone id")
    photo_wait_s: float = Field(120.0, gt=0, description="how long to wait for a photo after its trigger")
    model: str | None = Field(None, description="detector model card (YAML); default: the shipped model")


class CityFile(Strict):
    """Top level of configs/<city>.yaml."""

    city: CityInfo
    taxonomy: str = Field(description="path of the taxonomy YAML, relative to this file")
    districts: str = Field(description="GeoJSON of the administrative districts, relative to this file")
    departments: list[DepartmentEntry] = Field(min_length=1)
    camera_models: dict[str, CameraModel]
    drone_models: dict[str, DroneSpec]
    docks: list[DockEntry] = Field(min_length=1)
    patrol_zones: list[ZoneEntry] = Field(min_length=1)
    no_fly_zones: list[NoFlyEntry] = []
    operations: OperationsEntry = OperationsEntry()
