"""A planned sortie as a DJI WPML KMZ (wpmz/template.kml + wpmz/waylines.wpml), so a DJI dock
fleet can fly the same plan from FlightHub 2.

The MAVLink mission is read back into waypoints: each NAV_WAYPOINT / LOITER_TIME after the
take-off becomes a Placemark at its height above the take-off point, at the DO_CHANGE_SPEED in
force there; a strip (DO_SET_CAM_TRIGG_DIST d … 0) becomes an action group spanning its
waypoints that takes a photo every d metres (`multipleDistance`), with the gimbal turned to nadir
at its first waypoint; a single shot or a point hold becomes a `reachPoint` group (hover, then
takePhoto). The mission's RTL is WPML's `finishAction goHome`.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from detector.geo import MetricFrame
from flight.mission import Sortie

WPML_NS = "http://www.dji.com/wpmz/1.0.2"
KML_NS = "http://www.opengis.net/kml/2.2"


@dataclass
class _Point:
    """A WPML waypoint being built: where, how high and fast, how long to hover, its action groups."""

    lon: float
    lat: float
    height_m: float
    speed_m_s: float
    hold_s: float = 0.0
    groups: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DjiModel:
    """Drone and camera enum values from DJI's Cloud API product-support table (defaults:
    Matrice 3D, type 91 sub-type 0, with its camera, payload type 80, on Dock 2)."""

    drone_enum: int = 91
    drone_sub_enum: int = 0
    payload_enum: int = 80
    payload_position: int = 0


def _waypoints(sortie: Sortie) -> tuple[list[_Point], list[tuple[int, int, float]], list[int]]:
    """(points, strips as (first, last, spacing), single shots at point index)."""
    points: list[_Point] = []
    strips: list[tuple[int, int, float]] = []
    shots: list[int] = []
    speed, strip_from, spacing = 0.0, None, 0.0
    flying = False
    # a planned strip's own spacing: the mission's distance is shortened for ArduPilot's late trigger
    planned = {lane.start_item: lane.spacing_m for lane in sortie.lanes}
    last_wp = -1
    for i, it in enumerate(sortie.items):
        if it.command == mavlink.MAV_CMD_NAV_TAKEOFF:
            flying = True
        elif it.command == mavlink.MAV_CMD_DO_CHANGE_SPEED and it.param2 > 0:
            speed = it.param2
        elif it.command in (mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_CMD_NAV_LOITER_TIME) and flying:
            hold = it.param1 if it.command == mavlink.MAV_CMD_NAV_LOITER_TIME else 0.0
            points.append(_Point(it.lon, it.lat, it.alt, speed, hold))
            last_wp = i
        elif it.command == mavlink.MAV_CMD_DO_SET_CAM_TRIGG_DIST and points:
            if it.param1 > 0:
                strip_from, spacing = len(points) - 1, planned.get(last_wp, it.param1)
            elif strip_from is not None:
                last = len(points) - 1
                if last > strip_from:
                    strips.append((strip_from, last, spacing))
                else:
                    shots.append(last)
                strip_from = None
    return points, strips, shots


def _action(i: int, func: str, params: str) -> str:
    return (f"<wpml:action><wpml:actionId>{i}</wpml:actionId><wpml:actionActuatorFunc>{func}"
            f"</wpml:actionActuatorFunc><wpml:actionActuatorFuncParam>{params}</wpml:actionActuatorFuncParam>"
            f"</wpml:action>")


def _group(gid: int, start: int, end: int, trigger: str, actions: list[str], trigger_param: float | None = None) -> str:
    param = f"<wpml:actionTriggerParam>{trigger_param:g}</wpml:actionTriggerParam>" if trigger_param else ""
    return (f"<wpml:actionGroup><wpml:actionGroupId>{gid}</wpml:actionGroupId>"
            f"<wpml:actionGroupStartIndex>{start}</wpml:actionGroupStartIndex>"
            f"<wpml:actionGroupEndIndex>{end}</wpml:actionGroupEndIndex>"
            f"<wpml:actionGroupMode>sequence</wpml:actionGroupMode>"
            f"<wpml:actionTrigger><wpml:actionTriggerType>{trigger}</wpml:actionTriggerType>{param}</wpml:actionTrigger>"
            + "".join(actions) + "</wpml:actionGroup>")


def _attach_actions(points: list[_Point], strips, shots, model: DjiModel) -> None:
    pos = f"<wpml:payloadPositionIndex>{model.payload_position}</wpml:payloadPositionIndex>"
    nadir = _action(0, "gimbalRotate", f"<wpml:gimbalRotateMode>absoluteAngle</wpml:gimbalRotateMode>"
                    f"<wpml:gimbalPitchRotateEnable>1</wpml:gimbalPitchRotateEnable>"
                    f"<wpml:gimbalPitchRotateAngle>-90</wpml:gimbalPitchRotateAngle>{pos}")
    photo = _action(1, "takePhoto", pos)
    gid = 0
    for first, last, spacing in strips:
        points[first].groups.append(_group(gid, first, first, "reachPoint", [nadir]))
        points[first].groups.append(_group(gid + 1, first, last, "multipleDistance", [photo], spacing))
        gid += 2
    for i in shots + [k for k, p in enumerate(points) if p.hold_s > 0 and k not in shots]:
        hover = _action(2, "hover", f"<wpml:hoverTime>{points[i].hold_s or 1.0:g}</wpml:hoverTime>")
        points[i].groups.append(_group(gid, i, i, "reachPoint", [nadir, hover, photo]))
        gid += 1


def _mission_config(sortie: Sortie, model: DjiModel, transit: float) -> str:
    takeoff = next((it.alt for it in sortie.items if it.command == mavlink.MAV_CMD_NAV_TAKEOFF), 30.0)
    return (f"<wpml:missionConfig><wpml:flyToWaylineMode>safely</wpml:flyToWaylineMode>"
            f"<wpml:finishAction>goHome</wpml:finishAction><wpml:exitOnRCLost>executeLostAction</wpml:exitOnRCLost>"
            f"<wpml:executeRCLostAction>goBack</wpml:executeRCLostAction>"
            f"<wpml:takeOffSecurityHeight>{takeoff:g}</wpml:takeOffSecurityHeight>"
            f"<wpml:globalTransitionalSpeed>{transit:g}</wpml:globalTransitionalSpeed>"
            f"<wpml:droneInfo><wpml:droneEnumValue>{model.drone_enum}</wpml:droneEnumValue>"
            f"<wpml:droneSubEnumValue>{model.drone_sub_enum}</wpml:droneSubEnumValue></wpml:droneInfo>"
            f"<wpml:payloadInfo><wpml:payloadEnumValue>{model.payload_enum}</wpml:payloadEnumValue>"
            f"<wpml:payloadPositionIndex>{model.payload_position}</wpml:payloadPositionIndex></wpml:payloadInfo>"
            f"</wpml:missionConfig>")


def _placemark(i: int, p: _Point, template: bool) -> str:
    height = (f"<wpml:height>{p.height_m:g}</wpml:height><wpml:ellipsoidHeight>{p.height_m:g}</wpml:ellipsoidHeight>"
              f"<wpml:useGlobalHeight>0</wpml:useGlobalHeight><wpml:useGlobalSpeed>0</wpml:useGlobalSpeed>"
              f"<wpml:useGlobalHeadingParam>1</wpml:useGlobalHeadingParam><wpml:useGlobalTurnParam>1</wpml:useGlobalTurnParam>"
              if template else f"<wpml:executeHeight>{p.height_m:g}</wpml:executeHeight>")
    turn = "" if template else (
        "<wpml:waypointHeadingParam><wpml:waypointHeadingMode>followWayline</wpml:waypointHeadingMode>"
        "</wpml:waypointHeadingParam><wpml:waypointTurnParam><wpml:waypointTurnMode>"
        "toPointAndStopWithDiscontinuityCurvature</wpml:waypointTurnMode>"
        "<wpml:waypointTurnDampingDist>0</wpml:waypointTurnDampingDist></wpml:waypointTurnParam>")
    return (f"<Placemark><Point><coordinates>{p.lon:.8f},{p.lat:.8f}</coordinates></Point>"
            f"<wpml:index>{i}</wpml:index>{height}<wpml:waypointSpeed>{p.speed_m_s:g}</wpml:waypointSpeed>{turn}"
            + "".join(p.groups) + "</Placemark>")


def _length_m(points: list[_Point]) -> float:
    frame = MetricFrame.around(points[0].lon, points[0].lat)
    x, y = frame.forward(np.array([p.lon for p in points]), np.array([p.lat for p in points]))
    return float(np.hypot(np.diff(x), np.diff(y)).sum())


def sortie_kmz(sortie: Sortie, model: DjiModel | None = None, now: datetime | None = None) -> bytes:
    """The KMZ (zip) bytes for one sortie."""
    model = model or DjiModel()
    points, strips, shots = _waypoints(sortie)
    if not points:
        raise ValueError(f"sortie {sortie.id!r}: no waypoint after the take-off to export")
    _attach_actions(points, strips, shots, model)
    speeds = [p.speed_m_s for p in points if p.speed_m_s > 0]
    transit = max(speeds, default=10.0)
    for p in points:
        p.speed_m_s = p.speed_m_s or transit
    config = _mission_config(sortie, model, transit)
    millis = int((now or datetime.now(timezone.utc)).timestamp() * 1000)
    head = f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="{KML_NS}" xmlns:wpml="{WPML_NS}"><Document>'
    template = (head + f"<wpml:author>patrol</wpml:author><wpml:createTime>{millis}</wpml:createTime>"
                f"<wpml:updateTime>{millis}</wpml:updateTime>{config}<Folder><wpml:templateType>waypoint</wpml:templateType>"
                f"<wpml:templateId>0</wpml:templateId><wpml:waylineCoordinateSysParam>"
                f"<wpml:coordinateMode>WGS84</wpml:coordinateMode><wpml:heightMode>relativeToStartPoint</wpml:heightMode>"
                f"</wpml:waylineCoordinateSysParam><wpml:autoFlightSpeed>{transit:g}</wpml:autoFlightSpeed>"
                f"<name>{escape(sortie.id)}</name>"
                + "".join(_placemark(i, p, True) for i, p in enumerate(points)) + "</Folder></Document></kml>")
    waylines = (head + config + f"<Folder><wpml:templateId>0</wpml:templateId>"
                f"<wpml:executeHeightMode>relativeToStartPoint</wpml:executeHeightMode><wpml:waylineId>0</wpml:waylineId>"
                f"<wpml:distance>{_length_m(points):.1f}</wpml:distance><wpml:duration>{sortie.duration_s:.1f}</wpml:duration>"
                f"<wpml:autoFlightSpeed>{transit:g}</wpml:autoFlightSpeed>"
                + "".join(_placemark(i, p, False) for i, p in enumerate(points)) + "</Folder></Document></kml>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as kmz:
        kmz.writestr("wpmz/template.kml", template)
        kmz.writestr("wpmz/waylines.wpml", waylines)
    return buf.getvalue()


def write_wpml(sorties: list[Sortie], directory: Path, model: DjiModel | None = None) -> list[Path]:
    """One <sortie id>.kmz per sortie in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for s in sorties:
        path = directory / f"{s.id}.kmz"
        path.write_bytes(sortie_kmz(s, model))
        out.append(path)
    return out
