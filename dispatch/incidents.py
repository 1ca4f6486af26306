"""Incident de-duplication: a sighting joins the nearest open incident of its type within the
type's distance/time window, else opens a new one. Positions are inverse-variance weighted means.

Works on table rows directly (SQLAlchemy Core): this is the hot path of every sighting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from dispatch.projection import CityProjection
from dispatch.models import IncidentRow
from dispatch.settings import IncidentWindows

INCIDENTS = IncidentRow.__table__


def weight(uncertainty_m: float) -> float:
    """Inverse variance; uncertainties under 1 m are treated as 1 m so one sighting cannot dominate."""
    return 1.0 / max(uncertainty_m, 1.0) ** 2


@dataclass
class OpenIncident:
    """What matching needs to know of an open incident (sums are in the city's metric frame)."""

    id: int
    sum_w: float
    sum_wx: float
    sum_wy: float
    sighting_count: int
    first_seen: datetime
    last_seen: datetime
    best_confidence: float


class IncidentMatcher:
    def __init__(self, projection: CityProjection, windows: IncidentWindows):
        self.projection = projection
        self.windows = windows

    def find(self, session: Session, s: dict[str, Any], x: float, y: float) -> OpenIncident | None:
        """The nearest open incident of the sighting's type that it (at x, y metres) belongs to, if any."""
        win = self.windows.of(s["type"])
        d, span = win.distance, timedelta(hours=win.window)
        c = INCIDENTS.c
        # sum_w > 0, so x - d <= sum_wx / sum_w <= x + d is a box test in metres.
        rows = session.execute(
            select(c.id, c.sum_w, c.sum_wx, c.sum_wy, c.sighting_count, c.first_seen, c.last_seen, c.best_confidence)
            .where(c.type == s["type"], c.status == "open",
                   c.last_seen >= s["time"] - span, c.first_seen <= s["time"] + span,
                   c.sum_wx >= (x - d) * c.sum_w, c.sum_wx <= (x + d) * c.sum_w,
                   c.sum_wy >= (y - d) * c.sum_w, c.sum_wy <= (y + d) * c.sum_w)
            .order_by(c.id)
        ).all()
        best, best_dist = None, math.inf
        for r in rows:
            dist = math.hypot(r.sum_wx / r.sum_w - x, r.sum_wy / r.sum_w - y)
            if dist <= d and dist < best_dist:
                best, best_dist = OpenIncident(*r), dist
        return best

    def open(self, session: Session, s: dict[str, Any], x: float, y: float) -> dict[str, Any]:
        """Insert a new incident for this sighting; returns its row (with id)."""
        w = weight(s["uncertainty_m"])
        row = {
            "type": s["type"], "status": "open", "first_seen": s["time"], "last_seen": s["time"],
            "sighting_count": 1, "lat": s["lat"], "lon": s["lon"], "uncertainty_m": max(s["uncertainty_m"], 1.0),
            "sum_w": w, "sum_wx": w * x, "sum_wy": w * y, "best_sighting_key": s["key"],
            "best_confidence": s["confidence"] if s["evidence_jpeg"] is not None else -1.0,
        }
        row["id"] = session.execute(insert(INCIDENTS).returning(INCIDENTS.c.id), row).scalar_one()
        return row

    def join(self, session: Session, inc: OpenIncident, s: dict[str, Any], x: float, y: float) -> None:
        """Fold a sighting into an incident: count, times, refined position, best photo."""
        w = weight(s["uncertainty_m"])
        inc.sum_w, inc.sum_wx, inc.sum_wy = inc.sum_w + w, inc.sum_wx + w * x, inc.sum_wy + w * y
        lon, lat = self.projection.to_lonlat(inc.sum_wx / inc.sum_w, inc.sum_wy / inc.sum_w)
        values: dict[str, Any] = {
            "sum_w": inc.sum_w, "sum_wx": inc.sum_wx, "sum_wy": inc.sum_wy, "lon": lon, "lat": lat,
            "uncertainty_m": 1.0 / math.sqrt(inc.sum_w), "sighting_count": inc.sighting_count + 1,
            "first_seen": min(inc.first_seen, s["time"]), "last_seen": max(inc.last_seen, s["time"]),
        }
        if s["evidence_jpeg"] is not None and s["confidence"] > inc.best_confidence:
            values.update(best_confidence=s["confidence"], best_sighting_key=s["key"])
        session.execute(update(INCIDENTS).where(INCIDENTS.c.id == inc.id).values(**values))
