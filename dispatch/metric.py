"""Metres for incident matching: positions projected to the UTM zone of the city (pyproj), never degrees."""

from __future__ import annotations

from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info


class CityMetric:
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
