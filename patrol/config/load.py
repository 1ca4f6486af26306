"""Load a city config: parse YAML, validate fields, resolve references, check the whole."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError
from shapely.geometry import Point
from shapely.ops import unary_union

from dispatch.departments import Department
from dispatch.taxonomy import Taxonomy
from flight.assets import Dock, Drone, NoFlyZone, PatrolZone
from flight.mavlink.signing import Signing, SigningError, key_from_env, key_from_file
from patrol.config.city import City, District
from patrol.config.errors import ConfigError, ConfigIssue, field_path
from patrol.config.geometry import (ConfigIssueError, GeometryProblem, check_lonlat, issue, polygon_from_geojson,
                                    read_features, resolve)
from patrol.config.schema import CityFile, SigningEntry

MIN_ZONE_OVERLAP = 0.5  # share of a zone's area that must lie inside the jurisdictions


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError([ConfigIssue(path, "(file)", "config file not found", str(path),
                                       "an existing YAML file, e.g. configs/quzhou.yaml")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(path, f"byte {exc.start}", "not UTF-8 text", None,
                                       "a YAML file saved as UTF-8")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError([ConfigIssue(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(path, "(top level)", "expected a mapping of sections", type(data).__name__)])
    return data


def _parse(path: Path, data: dict) -> CityFile:
    try:
        return CityFile.model_validate(data)
    except ValidationError as exc:
        issues = [
            ConfigIssue(path, field_path(e["loc"]), e["msg"], e.get("input") if e["type"] != "missing" else None)
            for e in exc.errors()
        ]
        raise ConfigError(issues) from None


def _signing(path: Path, entry: SigningEntry) -> Signing:
    """The key read now, so a missing or malformed one is a config error and not a silent link."""
    if entry.key_file is not None:
        key = key_from_file((path.parent / entry.key_file).resolve())
    else:
        key = key_from_env(entry.key_env)
    return Signing(key, entry.link_id, entry.refuse_unsigned)


def _load_taxonomy(path: Path, ref: str) -> Taxonomy:
    file = (path.parent / ref).resolve()
    if not file.is_file():
        raise ConfigError([ConfigIssue(path, "taxonomy", f"file not found: {file}", ref,
                                       "path of the taxonomy YAML relative to the config, e.g. taxonomy.yaml")])
    try:
        return Taxonomy.load(file)
    except (ValidationError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError([ConfigIssue(file, "(taxonomy)", f"invalid taxonomy: {exc}")]) from None


def _load_districts(path: Path, ref: str) -> tuple[District, ...]:
    file = (path.parent / ref).resolve()
    if not file.is_file():
        raise ConfigError([ConfigIssue(path, "districts", f"file not found: {file}", ref,
                                       "a GeoJSON FeatureCollection of district polygons")])
    try:
        features = read_features(file)
    except ValueError as exc:
        raise ConfigError([ConfigIssue(path, "districts", f"not readable GeoJSON: {exc}", ref)]) from None
    districts, issues = [], []
    for i, f in enumerate(features):
        props = f.get("properties") if isinstance(f.get("properties"), dict) else {}
        try:
            area = polygon_from_geojson(f.get("geometry"))
        except GeometryProblem as p:
            issues.append(issue(file, f"features[{i}].geometry", p).issue)
            continue
        districts.append(District(str(props.get("name")), str(props.get("adcode")), area))
    if issues:
        raise ConfigError(issues)
    return tuple(districts)


def load_city(path: str | Path) -> City:
    """Read and check a city config. Raises ConfigError listing every problem found."""
    path = Path(path)
    raw = _parse(path, _read_yaml(path))
    base = path.parent
    taxonomy = _load_taxonomy(path, raw.taxonomy)
    districts = _load_districts(path, raw.districts)
    issues: list[ConfigIssue] = []

    def area_of(ref, where):
        try:
            return resolve(ref, base, path, where)
        except ConfigIssueError as err:
            issues.append(err.issue)
            return None, None

    departments: list[Department] = []
    for i, d in enumerate(raw.departments):
        where = f"departments[{i}]"
        if d.kind not in taxonomy.kinds:
            issues.append(ConfigIssue(path, f"{where}.kind", "unknown department kind", d.kind, f"one of {sorted(taxonomy.kinds)}"))
        handles = d.handles
        if handles is None:
            handles = [t.code for t in taxonomy.types if d.catch_all or d.kind in t.handled_by]
        for j, code in enumerate(handles):
            if code not in taxonomy.codes:
                issues.append(ConfigIssue(path, f"{where}.handles[{j}]", "unknown violation type", code,
                                          f"a code from {raw.taxonomy}: {sorted(taxonomy.codes)}"))
        area, label = area_of(d.jurisdiction, f"{where}.jurisdiction") if d.jurisdiction else (None, "全市 (whole city)")
        departments.append(Department(d.id, d.name, d.name_en, d.kind, tuple(handles), d.webhook, area,
                                      (label or "").split("#")[-1], d.catch_all))

    cameras, specs = raw.camera_models, raw.drone_models
    docks: list[Dock] = []
    for i, k in enumerate(raw.docks):
        where = f"docks[{i}]"
        try:
            check_lonlat(*k.position)
        except GeometryProblem as p:
            issues.append(ConfigIssue(path, f"{where}.position", p.problem, p.value, p.expected))
        drones = []
        for j, dr in enumerate(k.drones):
            if dr.model not in specs:
                issues.append(ConfigIssue(path, f"{where}.drones[{j}].model", "unknown drone model", dr.model, f"one of {sorted(specs)}"))
            if dr.camera not in cameras:
                issues.append(ConfigIssue(path, f"{where}.drones[{j}].camera", "unknown camera model", dr.camera, f"one of {sorted(cameras)}"))
            signing = None
            if dr.signing is not None:
                try:
                    signing = _signing(path, dr.signing)
                except SigningError as exc:
                    source = "key_file" if dr.signing.key_file is not None else "key_env"
                    issues.append(ConfigIssue(path, f"{where}.drones[{j}].signing.{source}", str(exc),
                                              dr.signing.key_file or dr.signing.key_env))
            if dr.model in specs and dr.camera in cameras:
                drones.append(Drone(dr.id, specs[dr.model], cameras[dr.camera], dr.endpoint, dr.system_id, signing))
        docks.append(Dock(k.id, k.position[0], k.position[1], k.alt_amsl_m, k.charge_time_min, tuple(drones)))

    zones = []
    for i, z in enumerate(raw.patrol_zones):
        area, _ = area_of(z.area, f"patrol_zones[{i}].area")
        if area is not None:
            zones.append(PatrolZone(z.id, z.name, area, z.altitude_agl_m, z.front_overlap, z.side_overlap,
                                    z.priority, z.revisit_period_h))
    no_fly = []
    for i, n in enumerate(raw.no_fly_zones):
        area, _ = area_of(n.area, f"no_fly_zones[{i}].area")
        if area is not None:
            no_fly.append(NoFlyZone(n.id, n.name, area))

    issues += _cross_checks(path, raw, departments, docks, zones, no_fly)
    if issues:
        raise ConfigError(issues)
    return City(path, raw.city, taxonomy, districts, tuple(departments), dict(cameras), dict(specs),
                tuple(docks), tuple(zones), tuple(no_fly), raw.operations)


def _cross_checks(path, raw, departments, docks, zones, no_fly) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for section, items in (("departments", departments), ("docks", docks), ("patrol_zones", zones), ("no_fly_zones", no_fly)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.id in seen:
                issues.append(ConfigIssue(path, f"{section}[{i}].id", "duplicate id", item.id, "ids unique within a section"))
            seen.add(item.id)
    drone_ids = [d.id for dock in raw.docks for d in dock.drones]
    for dup in sorted({x for x in drone_ids if drone_ids.count(x) > 1}):
        issues.append(ConfigIssue(path, "docks[*].drones[*].id", "drone id used twice", dup, "each drone id once"))
    if not any(d.catch_all for d in departments):
        issues.append(ConfigIssue(path, "departments", "no city-level catch-all department",
                                  None, "one department with catch_all: true"))
    areas = [d.jurisdiction for d in departments if d.jurisdiction is not None]
    covered = unary_union(areas) if areas else None
    for i, z in enumerate(raw.patrol_zones):
        zone = next((x for x in zones if x.id == z.id), None)
        if zone is None or covered is None:
            continue
        inside = zone.area.intersection(covered).area / zone.area.area
        if inside < MIN_ZONE_OVERLAP:
            issues.append(ConfigIssue(path, f"patrol_zones[{i}].area", "zone lies outside every department's jurisdiction",
                                      f"{inside:.0%} inside", "a zone inside some department's jurisdiction"))
    for i, dock in enumerate(docks):
        p = Point(dock.lon, dock.lat)
        for n in no_fly:
            if n.area.contains(p):
                issues.append(ConfigIssue(path, f"docks[{i}].position", f"dock {dock.id} is inside no-fly zone {n.id} ({n.name})",
                                          [dock.lon, dock.lat], "a dock position outside every no-fly zone"))
    return issues
