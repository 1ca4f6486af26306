"""Turn GeometryRefs into checked lon/lat polygons, with errors that name the field."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.validation import explain_validity

from detector.geo import MetricFrame
from patrol.config.errors import ConfigIssue
from patrol.config.schema import GeometryRef

Area = Polygon | MultiPolygon


class GeometryProblem(ValueError):
    """A geometry fault, with the sub-path (e.g. 'coordinates[0][3]') and the bad value."""

    def __init__(self, problem: str, subpath: str = "", value: Any = None, expected: str | None = None):
        super().__init__(problem)
        self.problem, self.subpath, self.value, self.expected = problem, subpath, value, expected


def check_lonlat(lon: float, lat: float, subpath: str = "") -> None:
    """Reject non-finite, out-of-range and (recognisably) swapped coordinates."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise GeometryProblem("coordinate is not a finite number", subpath, [lon, lat], "[lon, lat] in degrees")
    if abs(lat) > 90 and abs(lon) <= 90:
        raise GeometryProblem(
            f"latitude {lat} is out of range [-90, 90]; lon and lat look swapped",
            subpath, [lon, lat], f"[lon, lat] = [{lat}, {lon}] (GeoJSON order, RFC 7946)",
        )
    if abs(lat) > 90:
        raise GeometryProblem(f"latitude {lat} is out of range", subpath, [lon, lat], "-90 ≤ lat ≤ 90")
    if abs(lon) > 180:
        raise GeometryProblem(f"longitude {lon} is out of range", subpath, [lon, lat], "-180 ≤ lon ≤ 180")


def _check_rings(coords: Any, subpath: str) -> None:
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        if len(coords) < 2:
            raise GeometryProblem("a position needs lon and lat", subpath, coords, "[lon, lat]")
        check_lonlat(float(coords[0]), float(coords[1]), subpath)
        return
    if not isinstance(coords, (list, tuple)):
        raise GeometryProblem("coordinates must be nested lists of [lon, lat]", subpath, coords)
    for i, c in enumerate(coords):
        _check_rings(c, f"{subpath}[{i}]")


def polygon_from_geojson(geom: dict[str, Any]) -> Area:
    """Validate a GeoJSON Polygon/MultiPolygon dict and return a valid shapely area."""
    if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        raise GeometryProblem(
            "geometry must be a GeoJSON Polygon or MultiPolygon", "type",
            geom.get("type") if isinstance(geom, dict) else geom, "'Polygon' or 'MultiPolygon'",
        )
    _check_rings(geom.get("coordinates"), "coordinates")
    try:
        area = shape(geom)
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise GeometryProblem(f"not a readable polygon: {exc}", "coordinates") from exc
    if area.is_empty:
        raise GeometryProblem("polygon is empty", "coordinates")
    if not area.is_valid:
        raise GeometryProblem(
            f"invalid polygon: {explain_validity(area)}", "coordinates", None,
            "a simple ring that does not cross itself (fix the vertex order)",
        )
    return area


@lru_cache(maxsize=32)
def read_features(path: Path) -> tuple[dict, ...]:
    """The features of a GeoJSON file; ValueError (UnicodeDecodeError, JSONDecodeError too) saying what is wrong."""
    data = json.loads(path.read_text(encoding="utf-8"))
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "Feature":
        return (data,)
    if kind != "FeatureCollection":
        raise ValueError(f"{path} is not a GeoJSON Feature or FeatureCollection")
    features = data.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise ValueError(f"{path}: 'features' must be a list of GeoJSON Feature objects")
    return tuple(features)


def feature_names(feature: dict) -> list[str]:
    props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
    return [str(v) for v in (feature.get("id"), props.get("id"), props.get("name")) if v is not None]


def resolve(ref: GeometryRef, base: Path, cfg_file: Path, path: str) -> tuple[Area, str]:
    """Resolve one ref to (area, human label). Raises a ConfigIssue-carrying GeometryProblem."""
    if ref.center is not None:
        lon, lat = ref.center
        try:
            check_lonlat(lon, lat, "center")
        except GeometryProblem as p:
            raise issue(cfg_file, path, p) from None
        frame = MetricFrame.around(lon, lat)
        x, y = frame.forward(lon, lat)
        return frame.to_lonlat(Point(x, y).buffer(ref.radius_m, 64)), f"circle r={ref.radius_m:g} m"
    if ref.geometry is not None:
        try:
            return polygon_from_geojson(ref.geometry), "inline polygon"
        except GeometryProblem as p:
            raise issue(cfg_file, f"{path}.geometry", p) from None
    file = (base / ref.file).resolve()
    if not file.is_file():
        raise ConfigIssueError(ConfigIssue(cfg_file, f"{path}.file", f"file not found: {file}", ref.file,
                                           "a GeoJSON file path relative to the config file"))
    try:
        features = read_features(file)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ConfigIssueError(ConfigIssue(cfg_file, f"{path}.file", f"not readable GeoJSON: {exc}", ref.file)) from None
    chosen = [f for f in features if ref.feature is None or ref.feature in feature_names(f)]
    if ref.feature is None and len(features) != 1:
        raise ConfigIssueError(ConfigIssue(cfg_file, f"{path}.feature", f"{ref.file} has {len(features)} features; name one",
                                           None, f"one of {[n for f in features for n in feature_names(f)[-1:]]}"))
    if not chosen:
        names = [feature_names(f)[-1] for f in features if feature_names(f)]
        raise ConfigIssueError(ConfigIssue(cfg_file, f"{path}.feature", f"no feature with this name in {ref.file}",
                                           ref.feature, f"one of {names}"))
    try:
        return polygon_from_geojson(chosen[0].get("geometry")), f"{ref.file}#{ref.feature or feature_names(chosen[0])[-1]}"
    except GeometryProblem as p:
        raise issue(cfg_file, f"{path} ({ref.file}#{ref.feature}).geometry", p) from None


class ConfigIssueError(Exception):
    def __init__(self, issue: ConfigIssue):
        super().__init__(str(issue))
        self.issue = issue


def issue(cfg_file: Path, path: str, p: GeometryProblem) -> ConfigIssueError:
    full = f"{path}.{p.subpath}" if p.subpath and not p.subpath.startswith("[") else f"{path}{p.subpath}"
    return ConfigIssueError(ConfigIssue(cfg_file, full, p.problem, p.value, p.expected))
