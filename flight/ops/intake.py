"""Tasks from outside: an Open311 GeoReport v2 service request, an alarm webhook and a CAP 1.2
alert. Each parser turns its body into a `TaskIn` or raises TaskRejected naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lxml import etree
from pydantic import BaseModel, Field

from flight.ops.errors import TaskRejected
from flight.ops.tasks import Kind, Source, TaskIn

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
RAIN_WORDS = ("暴雨", "大雨", "降雨", "内涝", "积水", "洪", "rain", "flood", "storm")
_CAP_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


def open311_request(form: dict[str, Any], type_codes: frozenset[str]) -> TaskIn:
    """POST /requests: `service_code` (a taxonomy code), `lat`, `long`, optional `description`."""
    code = str(form.get("service_code") or "").strip()
    if not code:
        raise TaskRejected("service_code", code, "required (GeoReport v2)", status=400)
    if type_codes and code not in type_codes:
        raise TaskRejected("service_code", code, f"unknown service; GET /services lists {len(type_codes)}",
                           status=400)
    coords = {}
    for name in ("lat", "long"):
        raw = form.get(name)
        if raw in (None, ""):
            raise TaskRejected(name, raw, "required: this service locates requests by lat/long only", status=400)
        try:
            coords[name] = float(raw)
        except (TypeError, ValueError):
            raise TaskRejected(name, raw, "not a number", status=400) from None
    if not -90 <= coords["lat"] <= 90 or not -180 <= coords["long"] <= 180:
        raise TaskRejected("lat/long", f"{coords['lat']},{coords['long']}", "not a WGS84 position", status=400)
    return TaskIn(kind=Kind.IMMEDIATE, where={"type": "Point", "coordinates": [coords["long"], coords["lat"]]},
                  type_code=code, priority=2, source=Source.OPEN311,
                  ref=str(form.get("device_id") or form.get("email") or "") or None,
                  note=str(form.get("description") or "")[:500])


class AlarmIn(BaseModel):
    """An alarm from another system (camera analytics, sensors, 12345 hotline triage)."""

    id: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, description="taxonomy code")
    priority: int = Field(2, ge=1, le=5)
    geometry: dict[str, Any] = Field(description="GeoJSON Point or Polygon")
    note: str = ""

    def task(self, type_codes: frozenset[str]) -> TaskIn:
        if type_codes and self.type not in type_codes:
            raise TaskRejected("type", self.type, f"unknown type code; known: {', '.join(sorted(type_codes))}")
        return TaskIn(kind=Kind.IMMEDIATE, where=self.geometry, type_code=self.type, priority=self.priority,
                      source=Source.ALARM, ref=self.id, note=self.note)


class CapAlert(BaseModel):
    identifier: str
    sender: str
    sent: datetime
    msg_type: str
    event: str
    severity: str
    expires: datetime | None
    polygons: list[list[tuple[float, float]]]  # (lon, lat) rings
    references: str = ""


def _text(node, path: str) -> str:
    found = node.find(path, {"c": CAP_NS})
    return (found.text or "").strip() if found is not None else ""


def parse_cap(body: bytes) -> CapAlert:
    """A CAP 1.2 <alert>; its <info><area><polygon>s are 'lat,lon lat,lon …' closed rings."""
    try:
        root = etree.fromstring(body, _CAP_PARSER)
    except etree.XMLSyntaxError as exc:
        raise TaskRejected("body", "XML", f"not well-formed XML: {exc}") from None
    if root.tag != f"{{{CAP_NS}}}alert":
        raise TaskRejected("alert", root.tag, f"expected a CAP 1.2 <alert> in namespace {CAP_NS}")
    values = {}
    for name in ("identifier", "sender", "sent", "status", "msgType", "scope"):
        values[name] = _text(root, f"c:{name}")
        if not values[name]:
            raise TaskRejected(f"alert.{name}", "", "required by CAP 1.2")
    info = root.find("c:info", {"c": CAP_NS})
    if info is None:
        raise TaskRejected("alert.info", "", "no <info>: nothing says what or where")
    rings = []
    for k, poly in enumerate(info.findall("c:area/c:polygon", {"c": CAP_NS})):
        ring = []
        for pair in (poly.text or "").split():
            try:
                lat, lon = (float(v) for v in pair.split(","))
            except ValueError:
                raise TaskRejected(f"info.area.polygon[{k}]", pair, "expected 'lat,lon' pairs") from None
            ring.append((lon, lat))
        if len(ring) < 4 or ring[0] != ring[-1]:
            raise TaskRejected(f"info.area.polygon[{k}]", (poly.text or "")[:80],
                               "a CAP polygon is at least 4 pairs, first equal to last")
        rings.append(ring)
    if not rings and values["msgType"] != "Cancel":
        raise TaskRejected("info.area.polygon", "", "no polygon: the sweep needs the alert's area")
    try:
        sent = datetime.fromisoformat(values["sent"])
        expires_text = _text(info, "c:expires")
        expires = datetime.fromisoformat(expires_text) if expires_text else None
    except ValueError as exc:
        raise TaskRejected("alert.sent", values["sent"], f"not a CAP dateTime: {exc}") from None
    if sent.tzinfo is None:
        raise TaskRejected("alert.sent", values["sent"], "CAP times carry a UTC offset")
    return CapAlert(identifier=values["identifier"], sender=values["sender"], sent=sent, msg_type=values["msgType"],
                    event=_text(info, "c:event"), severity=_text(info, "c:severity"), expires=expires,
                    polygons=rings, references=_text(root, "c:references"))


def cap_sweep(alert: CapAlert) -> TaskIn:
    """A rain or flood alert → an emergency sweep of its area (one polygon per task)."""
    if not any(w in alert.event.lower() for w in RAIN_WORDS):
        raise TaskRejected("info.event", alert.event, "not a rain or flood alert; only those start a sweep")
    if len(alert.polygons) != 1:
        raise TaskRejected("info.area.polygon", len(alert.polygons), "expected one polygon per alert")
    severity = {"Extreme": 1, "Severe": 1, "Moderate": 2}.get(alert.severity, 3)
    return TaskIn(kind=Kind.SWEEP, where={"type": "Polygon", "coordinates": [[list(p) for p in alert.polygons[0]]]},
                  type_code="road_waterlogging", priority=severity, source=Source.CAP, ref=alert.identifier,
                  note=f"{alert.event} ({alert.sender})")
