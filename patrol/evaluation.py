"""Score what a patrol reported against what was planted: recall, precision, geolocation error.

An alert counts as true when a planted violation of the same type lies within `match_radius_m`
of it and has not already been claimed by a nearer alert (one-to-one greedy matching by
distance, so two alerts for one planted pile make one true and one false).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from detector.geo import MetricFrame


@dataclass(frozen=True)
class Planted:
    id: str
    type: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Reported:
    id: str
    type: str
    lon: float
    lat: float


@dataclass
class Match:
    reported: Reported
    planted: Planted | None
    error_m: float | None


@dataclass
class Scores:
    planted: int
    reported: int
    true_positive: int
    recall: float
    precision: float
    geo_error_median_m: float | None
    geo_error_p95_m: float | None
    matches: list[Match] = field(default_factory=list)
    missed: list[Planted] = field(default_factory=list)

    def per_type(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for m in self.matches:
            row = out.setdefault(m.reported.type, {"planted": 0, "found": 0, "alerts": 0, "false": 0})
            row["alerts"] += 1
            row["false"] += m.planted is None
        for p in [m.planted for m in self.matches if m.planted] + self.missed:
            row = out.setdefault(p.type, {"planted": 0, "found": 0, "alerts": 0, "false": 0})
            row["planted"] += 1
        for m in self.matches:
            if m.planted:
                out[m.planted.type]["found"] += 1
        return out


def score(planted: list[Planted], reported: list[Reported], frame: MetricFrame, match_radius_m: float = 15.0) -> Scores:
    """Greedy one-to-one matching of reports to planted truth, nearest pairs first."""
    px, py = (np.asarray(a, float) for a in frame.forward([p.lon for p in planted], [p.lat for p in planted]))
    rx, ry = (np.asarray(a, float) for a in frame.forward([r.lon for r in reported], [r.lat for r in reported]))
    pairs = []
    for i, r in enumerate(reported):
        if not len(planted):
            break
        d = np.hypot(px - rx[i], py - ry[i])
        for j in np.nonzero(d <= match_radius_m)[0]:
            if planted[j].type == r.type:
                pairs.append((float(d[j]), i, int(j)))
    pairs.sort()
    used_r: dict[int, tuple[int, float]] = {}
    used_p: set[int] = set()
    for d, i, j in pairs:
        if i in used_r or j in used_p:
            continue
        used_r[i] = (j, d)
        used_p.add(j)
    matches = [
        Match(r, planted[used_r[i][0]], used_r[i][1]) if i in used_r else Match(r, None, None)
        for i, r in enumerate(reported)
    ]
    errors = np.array([m.error_m for m in matches if m.error_m is not None])
    tp = len(used_r)
    return Scores(
        planted=len(planted),
        reported=len(reported),
        true_positive=tp,
        recall=tp / len(planted) if planted else 1.0,
        precision=tp / len(reported) if reported else 1.0,
        geo_error_median_m=float(np.median(errors)) if len(errors) else None,
        geo_error_p95_m=float(np.percentile(errors, 95)) if len(errors) else None,
        matches=matches,
        missed=[p for j, p in enumerate(planted) if j not in used_p],
    )


def duplicate_alerts(scores: Scores, frame: MetricFrame, radius_m: float = 30.0) -> int:
    """False alerts within `radius_m` of a same-type violation another alert found: the same thing
    reported twice because de-duplication did not join the two (e.g. poses off by metres)."""
    found = [m.planted for m in scores.matches if m.planted]
    n = 0
    for m in scores.matches:
        if m.planted is not None:
            continue
        rx, ry = frame.forward(m.reported.lon, m.reported.lat)
        n += any(p.type == m.reported.type and math.hypot(px - rx, py - ry) <= radius_m
                 for p in found for px, py in [frame.forward(p.lon, p.lat)])
    return n
