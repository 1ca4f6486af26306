"""The planner's own sortie, in metres: what partition, border moves, evening out, scheduling and
re-planning work on. Mission items (lon/lat) are built from it once, at the end (`items.build_sorties`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flight.planner.plan import DockInfo
from flight.planner.sorties import Flight, Packed
from flight.planner.strips import Strip
from flight.planner.survey import Survey


@dataclass(frozen=True, eq=False)
class PlannedSortie:
    """One battery's worth of flight from `dock`: `strips` in flying order and direction.

    Compared (and hashed) by identity, not value: evening out weighs trial lists that hold the
    same sortie and its re-packed variants side by side, and a schedule is keyed by sortie.
    Durations are rounded as the mission's are, so the schedule reads what the fleet will fly.
    """

    id: str
    dock: DockInfo
    zone_id: str
    survey: Survey
    flight: Flight
    strips: tuple[Strip, ...]
    duration_s: float
    sweep_s: float
    replaces: str | None = None  # the stopped sortie whose unflown strips this one flies (re-planning)

    @classmethod
    def of(cls, sortie_id: str, dock: DockInfo, zone_id: str, packed: Packed, survey: Survey, flight: Flight,
           replaces: str | None = None) -> "PlannedSortie":
        return cls(sortie_id, dock, zone_id, survey, flight, packed.strips, round(packed.duration_s, 3),
                   round(packed.sweep_s, 3), replaces)

    @property
    def dock_id(self) -> str:
        return self.dock.id

    @property
    def photo_count(self) -> int:
        return sum(s.photos for s in self.strips)
