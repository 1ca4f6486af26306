"""Exports for other systems: GeoJSON FeatureCollection (RFC 7946) and CAP 1.2 XML (OASIS)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from xml.etree import ElementTree as ET

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_SEVERITY = {"critical": "Extreme", "high": "Severe", "medium": "Moderate", "low": "Minor"}
CAP_URGENCY = {"critical": "Immediate", "high": "Expected", "medium": "Future", "low": "Future"}
CST = timezone(timedelta(hours=8), "Asia/Shanghai")


def feature_collection(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Each alert as a Point feature ([lon, lat], WGS 84 as RFC 7946 requires) with its fields as properties."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": a["alert_id"], "geometry": a["location"],
             "properties": {k: v for k, v in a.items() if k not in ("location",)}}
            for a in alerts
        ],
    }


def cap_time(t: datetime) -> str:
    """CAP dateTime: local offset written out, never 'Z' (CAP 1.2 §3.3.2)."""
    return t.astimezone(CST).replace(microsecond=0).isoformat()


def cap_xml(alert: dict[str, Any], sender: str, sent: datetime) -> bytes:
    root = ET.Element("alert", xmlns=CAP_NS)
    _sub(root, "identifier", alert["alert_id"])
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(sent))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Alert" if alert["status"] in ("new", "acknowledged") else "Update")
    _sub(root, "scope", "Restricted")
    _sub(root, "restriction", f"for {alert['department']['id']} only")
    t, sev = alert["type"], alert["type"]["severity"]
    lon, lat = alert["location"]["coordinates"]
    for lang, event, dept, kind in (("zh-CN", t["zh"], alert["department"]["name"], "无人机巡查发现"),
                                    ("en-US", t["en"], alert["department"]["name_en"], "Drone patrol finding")):
        info = ET.SubElement(root, "info")
        _sub(info, "language", lang)
        _sub(info, "category", "Env" if t["code"] in ("burning_smoke", "illegal_logging") else "Infra")
        _sub(info, "event", event)
        _sub(info, "urgency", CAP_URGENCY[sev])
        _sub(info, "severity", CAP_SEVERITY[sev])
        _sub(info, "certainty", "Observed" if alert["sighting_count"] > 1 else "Likely")
        _sub(info, "senderName", dept)
        _sub(info, "headline", f"{kind}: {event}")
        _sub(info, "description", f"{event} — {alert['sighting_count']} sighting(s), first {alert['first_seen']}, "
                                  f"last {alert['last_seen']}. {alert['routing']}")
        if alert["evidence"] and alert["evidence"]["url"]:
            res = ET.SubElement(info, "resource")
            _sub(res, "resourceDesc", "evidence photo")
            _sub(res, "mimeType", "image/jpeg")
            _sub(res, "uri", alert["evidence"]["url"])
        area = ET.SubElement(info, "area")
        _sub(area, "areaDesc", alert["routing"].split(" | ")[0].split("；")[0])
        if alert["area"]:
            ring = alert["area"]["coordinates"][0]
            _sub(area, "polygon", " ".join(f"{p[1]},{p[0]}" for p in ring))
        radius_km = max(alert["uncertainty_m"], 1.0) / 1000
        _sub(area, "circle", f"{lat},{lon} {radius_km:.3f}")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = text
    return el
