"""Planned photo footprints: where each photo lands on the ground, and how much of a zone they cover."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from detector.geo import MetricFrame
from flight.mission import Sortie


def photo_centres(sorties: Iterable[Sortie], frame: MetricFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Metric x, y of every planned photo, the unit flight direction (ux, uy) at each; vectorised."""
    lanes = [lane for s in sorties for lane in s.lanes]
    if not lanes:
        empty = np.empty(0)
        return empty, empty, empty, empty
    ends = np.array([(*lane.start, *lane.end) for lane in lanes])
    x0, y0 = frame.forward(ends[:, 0], ends[:, 1])
    x1, y1 = frame.forward(ends[:, 2], ends[:, 3])
    x0, y0, x1, y1 = map(np.asarray, (x0, y0, x1, y1))
    photos = np.array([lane.photos for lane in lanes])
    length = np.hypot(x1 - x0, y1 - y0)
    ux = np.divide(x1 - x0, length, out=np.ones_like(length), where=length > 0)
    uy = np.divide(y1 - y0, length, out=np.zeros_like(length), where=length > 0)
    step = np.divide(length, photos - 1, out=np.zeros_like(length), where=photos > 1)
    lane = np.repeat(np.arange(len(lanes)), photos)
    k = np.arange(photos.sum()) - np.repeat(np.cumsum(photos) - photos, photos)
    return x0[lane] + ux[lane] * step[lane] * k, y0[lane] + uy[lane] * step[lane] * k, ux[lane], uy[lane]


def footprint_polygons(sortie: Sortie, frame: MetricFrame) -> np.ndarray:
    """Metric ground rectangle of each photo of a sortie (long side across the flight line)."""
    x, y, ux, uy = photo_centres([sortie], frame)
    across, along = sortie.footprint_m
    ax, ay = -uy * across / 2.0, ux * across / 2.0  # half-width, across the track
    bx, by = ux * along / 2.0, uy * along / 2.0  # half-height, along the track
    corners = np.stack([
        np.stack([x + ax + bx, y + ay + by], 1), np.stack([x - ax + bx, y - ay + by], 1),
        np.stack([x - ax - bx, y - ay - by], 1), np.stack([x + ax - bx, y + ay - by], 1),
        np.stack([x + ax + bx, y + ay + by], 1),
    ], 1)
    return shapely.polygons(corners)


def covered_share(area: BaseGeometry, sorties: Iterable[Sortie], frame: MetricFrame) -> float:
    """Union of all planned photo footprints within `area` (metres) / area of `area`."""
    if area.area <= 0:
        return 1.0
    rects = [footprint_polygons(s, frame) for s in sorties]
    rects = [r for r in rects if len(r)]
    if not rects:
        return 0.0
    # union sortie by sortie, then of the sorties: far faster than one union of every photo
    union = shapely.union_all(np.array([shapely.union_all(r) for r in rects], dtype=object))
    return float(shapely.intersection(union, area).area / area.area)
