"""Metric frames: every distance and area in patrol is computed in UTM, never in degrees."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyproj import CRS, Transformer
import shapely
from shapely.geometry.base import BaseGeometry


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone that contains (lon, lat)."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


@dataclass(frozen=True)
class MetricFrame:
    """A UTM projection chosen for one place; converts lon/lat geometry to metres and back."""

    epsg: int
    _fwd: Transformer = field(init=False, repr=False, compare=False)
    _inv: Transformer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        crs = CRS.from_epsg(self.epsg)
        object.__setattr__(self, "_fwd", Transformer.from_crs(4326, crs, always_xy=True))
        object.__setattr__(self, "_inv", Transformer.from_crs(crs, 4326, always_xy=True))

    @classmethod
    def around(cls, lon: float, lat: float) -> "MetricFrame":
        return cls(utm_epsg(lon, lat))

    @classmethod
    def for_geometry(cls, geom: BaseGeometry) -> "MetricFrame":
        c = geom.centroid
        return cls.around(c.x, c.y)

    def forward(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """lon/lat (degrees) → easting/northing (metres); accepts scalars or arrays."""
        return self._fwd.transform(lon, lat)

    def inverse(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """easting/northing (metres) → lon/lat (degrees)."""
        return self._inv.transform(x, y)

    def to_metric(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, self._fwd.transform, interleaved=False)

    def to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, self._inv.transform, interleaved=False)

    def area_km2(self, geom: BaseGeometry) -> float:
        return self.to_metric(geom).area / 1e6
