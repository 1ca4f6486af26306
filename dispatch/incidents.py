"""Incident de-duplication: a sighting joins the nearest open incident of its type within the
type's distance/time window, else opens a new one. Positions are inverse-variance weighted means."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.metric import CityMetric
from dispatch.models import IncidentRow, SightingRow
from dispatch.settings import IncidentWindows


def weight(uncertainty_m: float) -> float:
    """Inverse variance; uncertainties under 1 m are treated as 1 m so one sighting cannot dominate."""
    return 1.0 / max(uncertainty_m, 1.0) ** 2


class IncidentMatcher:
    def __init__(self, metric: CityMetric, windows: IncidentWindows):
        self.metric = metric
        self.windows = windows

    def find(self, session: Session, s: SightingRow, x: float, y: float) -> IncidentRow | None:
        """The nearest open incident of the same type that this sighting (at x, y metres) belongs to, if any."""
        win = self.windows.of(s.type)
        d, span = win.distance, timedelta(hours=win.window)
        # sum_w > 0, so x - d <= sum_wx / sum_w <= x + d is a box test in metres that an index can narrow.
        rows = session.scalars(
            select(IncidentRow).where(
                IncidentRow.type == s.type,
                IncidentRow.status == "open",
                IncidentRow.last_seen >= s.time - span,
                IncidentRow.first_seen <= s.time + span,
                IncidentRow.sum_wx >= (x - d) * IncidentRow.sum_w,
                IncidentRow.sum_wx <= (x + d) * IncidentRow.sum_w,
                IncidentRow.sum_wy >= (y - d) * IncidentRow.sum_w,
                IncidentRow.sum_wy <= (y + d) * IncidentRow.sum_w,
            ).order_by(IncidentRow.id)
        ).all()
        best, best_dist = None, math.inf
        for inc in rows:
            dist = math.hypot(inc.sum_wx / inc.sum_w - x, inc.sum_wy / inc.sum_w - y)
            if dist <= d and dist < best_dist:
                best, best_dist = inc, dist
        return best

    def open(self, s: SightingRow, x: float, y: float) -> IncidentRow:
        w = weight(s.uncertainty_m)
        return IncidentRow(
            type=s.type, status="open", first_seen=s.time, last_seen=s.time, sighting_count=1,
            lat=s.lat, lon=s.lon, uncertainty_m=max(s.uncertainty_m, 1.0),
            sum_w=w, sum_wx=w * x, sum_wy=w * y, best_sighting_key=s.key,
            best_confidence=s.confidence if s.evidence_jpeg is not None else -1.0,
        )

    def join(self, inc: IncidentRow, s: SightingRow, x: float, y: float) -> None:
        """Fold a sighting (at x, y metres) into an incident: count, times, position, best photo."""
        w = weight(s.uncertainty_m)
        inc.sum_w += w
        inc.sum_wx += w * x
        inc.sum_wy += w * y
        inc.lon, inc.lat = self.metric.to_lonlat(inc.sum_wx / inc.sum_w, inc.sum_wy / inc.sum_w)
        inc.uncertainty_m = 1.0 / math.sqrt(inc.sum_w)
        inc.sighting_count += 1
        inc.first_seen = min(inc.first_seen, s.time)
        inc.last_seen = max(inc.last_seen, s.time)
        if s.evidence_jpeg is not None and s.confidence > inc.best_confidence:
            inc.best_confidence, inc.best_sighting_key = s.confidence, s.key
