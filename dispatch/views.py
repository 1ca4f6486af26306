"""The Alert contract: one JSON shape for the webhook body, the API detail and the inbox row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatch.departments import Department
from dispatch.models import AlertEventRow, AlertRow, IncidentRow, SightingRow
from dispatch.taxonomy import Taxonomy


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def alert_json(alert: AlertRow, inc: IncidentRow, best: SightingRow | None, has_photo: bool, dept: Department,
               taxonomy: Taxonomy, base_url: str, history: list[AlertEventRow] | None = None) -> dict[str, Any]:
    """`best`: the incident's best sighting (its photo column need not be loaded; `has_photo` says)."""
    vt = taxonomy.type(alert.type)
    link = f"{base_url}/v1/alerts/{alert.id}"
    out: dict[str, Any] = {
        "alert_id": alert.id,
        "incident_id": inc.id,
        "status": alert.status,
        "type": {"code": vt.code, "zh": vt.zh, "en": vt.en, "severity": vt.severity,
                 "standard": vt.standard.model_dump() if vt.standard else None},
        "department": {"id": dept.id, "name": dept.name, "name_en": dept.name_en, "kind": dept.kind},
        "location": {"type": "Point", "coordinates": [round(inc.lon, 7), round(inc.lat, 7)]},
        "uncertainty_m": round(inc.uncertainty_m, 2),
        "area": best.footprint if best is not None else None,
        "first_seen": iso(inc.first_seen),
        "last_seen": iso(inc.last_seen),
        "sighting_count": inc.sighting_count,
        "routing": alert.explanation,
        "created_at": iso(alert.created_at),
        "acknowledged_at": iso(alert.acknowledged_at),
        "closed_at": iso(alert.closed_at),
        "evidence": None if best is None else {
            "image_ref": best.image_ref, "box": best.image_box, "confidence": best.confidence,
            "model_version": best.model_version, "drone_id": best.drone_id, "sortie_id": best.sortie_id,
            "url": f"{link}/evidence.jpg" if has_photo else None,
        },
        "links": {"self": link, "cap": f"{link}/cap.xml", "deliveries": f"{link}/deliveries"},
    }
    if history is not None:
        out["status_history"] = [
            {"at": iso(e.at), "actor": e.actor, "from": e.from_status, "to": e.to_status, "note": e.note} for e in history
        ]
    return out
