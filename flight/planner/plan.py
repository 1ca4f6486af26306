"""The Plan: sorties with their mission items, who flies them when, and how well they cover.

`Plan.save(dir)` writes plan.json; `Plan.load(path)` reads it back to an equal Plan. The fleet
controller (`patrol fly`) loads it, and hands it to `flight.planner.replan` when a drone stops.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from detector.camera import CameraModel
from flight.assets import DroneSpec
from flight.mission import MissionItem, Sortie, SurveyLane

PLAN_FILE = "plan.json"
FORMAT = "patrol-plan/2"
# /1 kept a sortie's survey and lineage in an untyped `meta` dict; /2 has them as fields.
READABLE = ("patrol-plan/1", FORMAT)
V1_META = {"gsd_cm": "gsd_cm", "strip_spacing_m": "strip_spacing_m", "replaces": "replaces",
           "reason": "replan_reason"}


@dataclass(frozen=True)
class DroneInfo:
    id: str
    spec: DroneSpec
    camera: CameraModel


@dataclass(frozen=True)
class DockInfo:
    """A dock as the plan needs it (the fleet and re-planning read it without the city config)."""

    id: str
    lon: float
    lat: float
    alt_amsl_m: float
    charge_time_min: float
    drones: tuple[DroneInfo, ...]

    @property
    def flyer(self) -> DroneInfo:
        """The drone whose limits (shortest reach, narrowest photo) the dock's sorties respect."""
        return min(self.drones, key=lambda r: (r.spec.flight_budget_s * r.spec.transit_speed_m_s,
                                               r.camera.footprint_m(100.0)[0], r.id))


@dataclass(frozen=True)
class ZoneReport:
    """How one zone fares under the plan, and what its revisit period asks of the fleet."""

    id: str
    name: str
    priority: int
    area_km2: float  # zone less no-fly airspace
    coverage: float  # union of planned photo footprints / area
    sortie_count: int
    photo_count: int
    flight_s: float  # all its sorties, transit included
    done_s: float  # when its last sortie lands, from plan start
    revisit_period_h: float
    revisit_drones: float  # drones needed to fly this zone alone once per revisit period
    revisit_ok: bool  # the whole plan finishes within this zone's revisit period


@dataclass
class Plan:
    name: str
    epsg: int
    docks: list[DockInfo]
    sorties: list[Sortie]
    zones: list[ZoneReport]
    makespan_s: float
    lower_bound_s: float
    sweep_s: float  # time spent flying photo strips, all sorties
    farthest_round_trip_s: float
    revision: int = 0
    notes: list[str] = field(default_factory=list)
    no_fly: list[dict] = field(default_factory=list)  # GeoJSON geometries (lon/lat) legs are routed around

    @property
    def ratio(self) -> float:
        return self.makespan_s / self.lower_bound_s if self.lower_bound_s else float("inf")

    @property
    def coverage(self) -> float:
        total = sum(z.area_km2 for z in self.zones)
        return sum(z.coverage * z.area_km2 for z in self.zones) / total if total else 0.0

    def dock(self, dock_id: str) -> DockInfo:
        return next(d for d in self.docks if d.id == dock_id)

    def sortie(self, sortie_id: str) -> Sortie:
        return next(s for s in self.sorties if s.id == sortie_id)

    def drone_dock(self) -> dict[str, str]:
        return {dr.id: d.id for d in self.docks for dr in d.drones}

    def sorties_of(self, drone_id: str) -> list[Sortie]:
        return sorted((s for s in self.sorties if s.drone_id == drone_id), key=lambda s: s.start_s or 0.0)

    def to_dict(self) -> dict:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> "Plan":
        if data.get("format") not in READABLE:
            raise ValueError(f"not a patrol plan: format = {data.get('format')!r}, expected one of {READABLE}")
        docks = [DockInfo(d["id"], d["lon"], d["lat"], d["alt_amsl_m"], d["charge_time_min"],
                          tuple(DroneInfo(r["id"], DroneSpec(**r["spec"]),
                                          CameraModel(**{**r["camera"], "distortion": tuple(r["camera"]["distortion"])}))
                                for r in d["drones"]))
                 for d in data["docks"]]
        sorties = [_sortie(s) for s in data["sorties"]]
        zones = [ZoneReport(**z) for z in data["zones"]]
        keys = ("name", "epsg", "makespan_s", "lower_bound_s", "sweep_s", "farthest_round_trip_s", "revision", "notes",
                "no_fly")
        return cls(docks=docks, sorties=sorties, zones=zones, **{k: data[k] for k in keys})

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / PLAN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Plan":
        path = Path(path)
        if path.is_dir():
            path = path / PLAN_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no plan at {path}; make one with `patrol plan CONFIG -o DIR`")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def _sortie(s: dict) -> Sortie:
    lanes = [SurveyLane(l["start_item"], l["end_item"], tuple(l["start"]), tuple(l["end"]), l["photos"], l["spacing_m"])
             for l in s["lanes"]]
    items = [MissionItem(**i) for i in s["items"]]
    rest = {k: v for k, v in s.items() if k not in ("lanes", "items", "footprint_m", "meta")}
    rest.update({V1_META[k]: v for k, v in s.get("meta", {}).items() if k in V1_META})
    return Sortie(items=items, lanes=lanes, footprint_m=tuple(s["footprint_m"]), **rest)
