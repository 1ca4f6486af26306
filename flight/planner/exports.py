"""Plan exports: QGroundControl .plan per sortie, QGC WPL 110 waypoint files, one GeoJSON.

All output is deterministic for a given plan (sorted keys, fixed rounding, no timestamps).
QGroundControl .plan keeps the home position apart (`plannedHomePosition`), so its item list
starts at mission seq 1; the WPL file holds every item, seq 0 (home) included.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import shapely
from pymavlink import mavutil
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from detector.geo import MetricFrame
from flight.assets import NoFlyZone, PatrolZone
from flight.mission import Sortie
from flight.planner.footprints import footprint_polygons
from flight.planner.plan import Plan

MAV = mavutil.mavlink
QGC_FIRMWARE_ARDUPILOT = 3
QGC_VEHICLE_MULTIROTOR = 2
FENCE_MARGIN_M = 300.0
DIGITS = 7  # ~1 cm


def _rings_latlon(geom: BaseGeometry) -> list[list[list[float]]]:
    """Exterior rings as [[lat, lon], ...] without the closing point (QGC's polygon order)."""
    return [[[round(y, DIGITS), round(x, DIGITS)] for x, y in list(p.exterior.coords)[:-1]]
            for p in shapely.get_parts(geom)]


def qgc_plan(plan: Plan, sortie: Sortie, no_fly: Iterable[NoFlyZone] = ()) -> dict:
    """A QGroundControl .plan document for one sortie, no-fly airspace as exclusion fences."""
    dock = plan.dock(sortie.dock_id)
    drone = dock.flyer
    items = []
    for seq, it in enumerate(sortie.items[1:], start=1):
        items.append({
            "type": "SimpleItem", "autoContinue": bool(it.autocontinue), "command": it.command, "doJumpId": seq,
            "frame": it.frame,
            "params": [it.param1, it.param2, it.param3, it.param4, round(it.lat, DIGITS), round(it.lon, DIGITS), it.alt],
        })
    frame = MetricFrame(plan.epsg)
    x, y = frame.forward(dock.lon, dock.lat)
    far = max(math.hypot(*(np.asarray(frame.forward(*p)) - (x, y))) for p in sortie_path(plan, sortie))
    return {
        "fileType": "Plan", "version": 1, "groundStation": "QGroundControl",
        "mission": {
            "version": 2, "firmwareType": QGC_FIRMWARE_ARDUPILOT, "vehicleType": QGC_VEHICLE_MULTIROTOR,
            "cruiseSpeed": drone.spec.cruise_speed_m_s, "hoverSpeed": drone.spec.cruise_speed_m_s,
            "globalPlanAltitudeMode": 1,
            "plannedHomePosition": [round(dock.lat, DIGITS), round(dock.lon, DIGITS), dock.alt_amsl_m],
            "items": items,
        },
        "geoFence": {
            "version": 2,
            "circles": [{"circle": {"center": [round(dock.lat, DIGITS), round(dock.lon, DIGITS)],
                                    "radius": round(far + FENCE_MARGIN_M, 1)}, "inclusion": True, "version": 1}],
            "polygons": [{"inclusion": False, "polygon": ring, "version": 1}
                         for n in no_fly for ring in _rings_latlon(n.area)],
        },
        "rallyPoints": {"version": 2, "points": []},
    }


def wpl(sortie: Sortie) -> str:
    """QGC WPL 110 text: seq, current, frame, command, param1-4, lat, lon, alt, autocontinue."""
    lines = ["QGC WPL 110"]
    for seq, it in enumerate(sortie.items):
        lines.append("\t".join([str(seq), "1" if seq == 0 else "0", str(it.frame), str(it.command),
                                *(f"{p:.6f}" for p in (it.param1, it.param2, it.param3, it.param4)),
                                f"{it.lat:.8f}", f"{it.lon:.8f}", f"{it.alt:.3f}", str(it.autocontinue)]))
    return "\n".join(lines) + "\n"


def _round(obj):
    if isinstance(obj, float):
        return round(obj, DIGITS)
    if isinstance(obj, (list, tuple)):
        return [_round(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    return obj


def sortie_path(plan: Plan, sortie: Sortie) -> list[tuple[float, float]]:
    """lon/lat of the flight path: dock, every waypoint after take-off (detours included), dock."""
    dock = plan.dock(sortie.dock_id)
    inner = [(it.lon, it.lat) for it in sortie.items[2:] if it.command == MAV.MAV_CMD_NAV_WAYPOINT]
    return [(dock.lon, dock.lat), *inner, (dock.lon, dock.lat)]


def geojson(plan: Plan, zones: Iterable[PatrolZone] = (), no_fly: Iterable[NoFlyZone] = (),
            footprints: bool = True) -> dict:
    """FeatureCollection; every feature's `kind` is zone, no_fly, dock, sortie or footprint."""
    reports = {z.id: z for z in plan.zones}
    features = []
    for z in zones:
        r = reports.get(z.id)
        features.append({"type": "Feature", "geometry": _round(mapping(z.area)), "properties": {
            "kind": "zone", "id": z.id, "name": z.name, "priority": z.priority, "altitude_agl_m": z.altitude_agl_m,
            "coverage": r.coverage if r else None, "done_s": r.done_s if r else None}})
    for n in no_fly:
        features.append({"type": "Feature", "geometry": _round(mapping(n.area)),
                         "properties": {"kind": "no_fly", "id": n.id, "name": n.name}})
    for d in plan.docks:
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": _round([d.lon, d.lat])},
                         "properties": {"kind": "dock", "id": d.id, "drones": [r.id for r in d.drones]}})
    frame = MetricFrame(plan.epsg)
    for s in plan.sorties:
        features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": _round(sortie_path(plan, s))},
                         "properties": {"kind": "sortie", "id": s.id, "zone": s.zone_id, "dock": s.dock_id,
                                        "drone": s.drone_id, "start_s": s.start_s, "duration_s": s.duration_s,
                                        "photos": s.photo_count, "trigger_distance_m": s.trigger_distance_m}})
        if not footprints:
            continue
        rects = frame.to_lonlat(shapely.GeometryCollection(list(footprint_polygons(s, frame))))
        for k, rect in enumerate(rects.geoms):
            ring = np.round(np.asarray(rect.exterior.coords), DIGITS).tolist()
            features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                             "properties": {"kind": "footprint", "sortie": s.id, "photo": k}})
    return {"type": "FeatureCollection", "features": features}


def write_exports(plan: Plan, directory: str | Path, zones: Iterable[PatrolZone] = (),
                  no_fly: Iterable[NoFlyZone] = ()) -> list[Path]:
    """plan.json, plan.geojson, qgc/<sortie>.plan and wpl/<sortie>.waypoints under `directory`."""
    out = Path(directory)
    no_fly = list(no_fly)
    written = [plan.save(out)]
    for sub in ("qgc", "wpl"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for s in plan.sorties:
        p = out / "qgc" / f"{s.id}.plan"
        p.write_text(json.dumps(qgc_plan(plan, s, no_fly), indent=1, sort_keys=True), encoding="utf-8")
        w = out / "wpl" / f"{s.id}.waypoints"
        w.write_text(wpl(s), encoding="utf-8")
        written += [p, w]
    g = out / "plan.geojson"
    g.write_text(json.dumps(geojson(plan, zones, no_fly), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    written.append(g)
    return written
