"""Departments as the router sees them: who they are, where they rule, what they handle."""

from __future__ import annotations

from dataclasses import dataclass

from shapely.geometry import MultiPolygon, Polygon


@dataclass(frozen=True)
class Department:
    """A receiving department. `jurisdiction` is lon/lat; None only for the city catch-all."""

    id: str
    name: str
    name_en: str
    kind: str
    handles: tuple[str, ...]
    webhook_url: str | None
    jurisdiction: Polygon | MultiPolygon | None
    jurisdiction_name: str
    catch_all: bool = False
