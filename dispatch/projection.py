"""Lon/lat ↔ metres for incident matching: positions projected to the UTM zone of the city (pyproj), never degrees."""

from __future__ import annotations

from dataclasses import dataclass

from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info


class CityProjection:
    """Forward/inverse projection between lon/lat and the WGS 84 UTM zone covering the city's centre."""

    def __init__(self, lon: float, lat: float):
        info = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat))[0]
        crs = CRS.from_epsg(int(info.code))
        self.epsg = int(info.code)
        self._fwd = Transformer.from_crs(4326, crs, always_xy=True)
        self._inv = Transformer.from_crs(crs, 4326, always_xy=True)

    def to_metres(self, lon: float, lat: float) -> tuple[float, float]:
        return self._fwd.transform(lon, lat)

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        return self._inv.transform(x, y)


@dataclass(frozen=True)
class CityExtent:
    """Where the city's sightings can come from: its jurisdictions' box grown by a margin. Beyond
    it the city's UTM projection distorts (and far enough returns infinity), so matching is wrong."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def around(cls, bounds: list[tuple[float, float, float, float]], margin_deg: float) -> "CityExtent":
        return cls(max(-180.0, min(b[0] for b in bounds) - margin_deg), max(-90.0, min(b[1] for b in bounds) - margin_deg),
                   min(180.0, max(b[2] for b in bounds) + margin_deg), min(90.0, max(b[3] for b in bounds) + margin_deg))

    def contains(self, lon: float, lat: float) -> bool:
        return self.west <= lon <= self.east and self.south <= lat <= self.north

    def __str__(self) -> str:
        return f"the city's extent (lon {self.west:.2f} to {self.east:.2f}, lat {self.south:.2f} to {self.north:.2f})"
