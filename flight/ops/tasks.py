"""The Task: what an operator, a complaint, an alarm or a CAP alert asks of the fleet, and its history.

Tasks cross the service's edge (HTTP, SQLite), so they are pydantic models: a bad field is named
in the 422 that rejects it. Geometry is GeoJSON (lon/lat); times are UTC, shown in Asia/Shanghai.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry


class Kind(str, enum.Enum):
    IMMEDIATE = "immediate"  # fly there now, photograph it, come home
    TIMED = "timed"  # at a time, or recurring (cron, Asia/Shanghai)
    CONDITIONAL = "conditional"  # once its conditions hold (battery, time window, weather)
    SWEEP = "sweep"  # emergency sweep of flood-prone points inside an alert area
    PATROL = "patrol"  # the patrol cycle's sorties


RANK = {Kind.IMMEDIATE: 0, Kind.SWEEP: 0, Kind.TIMED: 1, Kind.CONDITIONAL: 1, Kind.PATROL: 2}


class Source(str, enum.Enum):
    """Who asked: kept on the task so a department can be told what became of its request."""

    OPERATOR = "operator"  # CLI or API
    OPEN311 = "open311"  # a citizen's complaint, GeoReport v2
    ALARM = "alarm"  # another system's webhook
    CAP = "cap"  # a CAP 1.2 warning (rain: the emergency sweep)
    PATROL = "patrol"  # the patrol cycle itself


class Status(str, enum.Enum):
    WAITING = "waiting"  # for its time or its conditions
    QUEUED = "queued"  # ready; no drone chosen yet
    DISPATCHED = "dispatched"  # sorties handed to the controller
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (Status.DONE, Status.FAILED, Status.CANCELLED)


class Conditions(BaseModel):
    """All must hold before a conditional task is dispatched."""

    min_battery_pct: float | None = Field(None, ge=0, le=100, description="a drone with at least this charge")
    window: tuple[str, str] | None = Field(None, description="HH:MM–HH:MM, Asia/Shanghai (may wrap midnight)")
    fair_weather: bool = Field(False, description="the launching dock's weather within the drone's limits")

    @field_validator("window")
    @classmethod
    def _hhmm(cls, value):
        if value is not None:
            for v in value:
                h, _, m = v.partition(":")
                if not (h.isdigit() and m.isdigit() and int(h) < 24 and int(m) < 60):
                    raise ValueError(f"{v!r} is not HH:MM")
        return value


class TaskIn(BaseModel):
    """A request for a task, as the API and `patrol task add` take it."""

    kind: Kind = Kind.IMMEDIATE
    where: dict[str, Any] = Field(description="GeoJSON Point or Polygon (lon, lat)")
    type_code: str | None = Field(None, description="taxonomy code of what to look for")
    priority: int = Field(3, ge=1, le=5, description="1 most urgent")
    source: Source = Source.OPERATOR
    ref: str | None = Field(None, description="the caller's id: Open311 request, alarm, CAP identifier")
    note: str = ""
    at: datetime | None = Field(None, description="timed: first start, ISO 8601 with offset")
    cron: str | None = Field(None, description="timed: recurring, 'min hour day month weekday', Asia/Shanghai")
    conditions: Conditions = Field(default_factory=Conditions)

    @field_validator("where")
    @classmethod
    def _geojson(cls, value):
        if value.get("type") not in ("Point", "Polygon"):
            raise ValueError(f"type {value.get('type')!r}: expected a GeoJSON Point or Polygon")
        try:
            geom = shape(value)
        except Exception as exc:  # shapely raises several kinds on malformed coordinates
            raise ValueError(f"coordinates unreadable: {exc}") from None
        if geom.is_empty or not geom.is_valid:
            raise ValueError("empty or self-intersecting geometry")
        lon, lat = geom.centroid.x, geom.centroid.y
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"({lon}, {lat}) is not lon/lat")
        return value

    @field_validator("at")
    @classmethod
    def _aware(cls, value):
        if value is not None and value.tzinfo is None:
            raise ValueError("give a UTC offset, e.g. 2026-06-20T08:00:00+08:00")
        return value.astimezone(timezone.utc) if value is not None else None  # stored in UTC

    @model_validator(mode="after")
    def _kind_fields(self):
        if self.kind == Kind.TIMED and self.at is None and self.cron is None:
            raise ValueError("a timed task needs 'at' or 'cron'")
        if self.kind != Kind.TIMED and (self.at is not None or self.cron is not None):
            raise ValueError(f"'at'/'cron' are for timed tasks, not {self.kind.value}")
        return self

    @property
    def geometry(self) -> BaseGeometry:
        return shape(self.where)


class Event(BaseModel):
    time: datetime
    status: Status
    note: str = ""
    why: dict[str, Any] | None = None  # the dispatching explanation, when a drone was chosen


class Task(TaskIn):
    id: str
    status: Status = Status.QUEUED
    created: datetime
    due: datetime | None = None  # next start of a timed task
    sorties: list[str] = Field(default_factory=list)
    photos: int = 0
    first_photo: datetime | None = None
    last_photo: datetime | None = None
    history: list[Event] = Field(default_factory=list)

    def to(self, status: Status, when: datetime, note: str = "", why: dict | None = None) -> None:
        self.status = status
        self.history.append(Event(time=when, status=status, note=note, why=why))


class TaskList(BaseModel):
    tasks: list[Task]
