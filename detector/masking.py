"""The masking step: the patrol zone seen from one photo, in that photo's ground metres.

Tiles whose ground misses the zone are not run at all (a sortie's edge photos are mostly
outside it), and a finding whose ground point falls outside is dropped: another zone, another
patrol, perhaps another city's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from detector.georef import Georeferencer, GeorefError


class ZoneMask:
    def __init__(self, zone_lonlat: BaseGeometry, georef: Georeferencer) -> None:
        self.georef = georef
        self._zone = prep(georef.frame.to_metric(zone_lonlat))

    def tiles(self, origins: Sequence[tuple[int, int]], tile: int, scale: float) -> list[tuple[int, int]]:
        """The tiles (origins in the photo at `scale`, `tile` px square) whose ground meets the zone."""
        keep = []
        for x, y in origins:
            u = np.array([x, x + tile, x + tile, x]) / scale
            v = np.array([y, y, y + tile, y + tile]) / scale
            try:
                e, n = self.georef.pixel_to_ground_m(u, v)
            except GeorefError:  # tile reaches above the horizon: keep it, the zone test is moot
                keep.append((x, y))
                continue
            if self._zone.intersects(Polygon(zip(e, n))):
                keep.append((x, y))
        return keep

    def covers(self, e: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Which ground points (metres in the photo's frame) lie in the zone."""
        return np.array([self._zone.covers(Point(x, y)) for x, y in zip(e, n)], bool)
