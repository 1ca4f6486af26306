"""Ingest: sightings → incidents → alerts → outbox rows, all in one transaction per request."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from dispatch.departments import Department
from dispatch.incidents import IncidentMatcher
from dispatch.metrics import DispatchMetrics
from dispatch.models import AlertEventRow, AlertRow, DeliveryRow, IncidentRow, SightingRow
from dispatch.router import GeoRouter, Route
from dispatch.schemas import SightingBase
from dispatch.taxonomy import Taxonomy
from dispatch.views import alert_json, iso

INGEST_LOCK_ID = 6_000_006  # PostgreSQL advisory lock: one incident matcher at a time across processes


@dataclass(frozen=True)
class IngestResult:
    key: str
    status: str  # created | duplicate
    incident_id: int
    alert_id: str | None = None
    department_id: str | None = None


class KeyConflict(Exception):
    """A key seen before arrived with a different body: refuse rather than silently keep either."""

    def __init__(self, index: int, key: str):
        self.index, self.key = index, key
        super().__init__(f"key {key!r} was already used for a different sighting")


def payload_hash(item: SightingBase) -> str:
    return hashlib.sha256(item.model_dump_json().encode()).hexdigest()


class Ingestor:
    def __init__(self, writers: sessionmaker[Session], router: GeoRouter, matcher: IncidentMatcher,
                 taxonomy: Taxonomy, base_url: str, metrics: DispatchMetrics, on_commit: Callable[[], None]):
        self.writers, self.router, self.matcher = writers, router, matcher
        self.taxonomy, self.base_url, self.metrics, self.on_commit = taxonomy, base_url, metrics, on_commit
        self._lock = threading.Lock()

    def ingest(self, items: list[SightingBase], received_at: datetime) -> list[IngestResult]:
        """Store what is new and return one result per item; returns only after the commit."""
        with self._lock, self.writers.begin() as s:
            if s.bind.dialect.name == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INGEST_LOCK_ID})
            results, opened = self._store(s, items, received_at)
        self.metrics.sightings.labels("created").inc(sum(r.status == "created" for r in results))
        self.metrics.sightings.labels("duplicate").inc(sum(r.status == "duplicate" for r in results))
        for inc_type, dept in opened:
            self.metrics.incidents.labels(inc_type).inc()
            self.metrics.alerts.labels(inc_type, dept).inc()
        if opened:
            self.on_commit()
        return results

    def _store(self, s: Session, items: list[SightingBase], received_at: datetime):
        hashes = [payload_hash(i) for i in items]
        known = {k: (h, inc) for k, h, inc in s.execute(
            select(SightingRow.key, SightingRow.payload_sha256, SightingRow.incident_id)
            .where(SightingRow.key.in_({i.key for i in items})))}
        fresh: list[int] = []
        for n, (item, h) in enumerate(zip(items, hashes)):
            if item.key in known:
                if known[item.key][0] != h:
                    raise KeyConflict(n, item.key)
                continue
            known[item.key] = (h, None)
            fresh.append(n)
        routes = dict(zip(fresh, self.router.route([items[n].lon for n in fresh], [items[n].lat for n in fresh],
                                                   [items[n].type for n in fresh])))
        results: dict[int, IngestResult] = {}
        opened: list[tuple[str, str]] = []
        for n in fresh:
            row = self._row(items[n], hashes[n], received_at)
            inc = self.matcher.find(s, row)
            if inc is None:
                inc = self.matcher.open(row)
                s.add(inc)
                s.flush()
                row.incident_id = inc.id
                s.add(row)
                s.flush()
                inc.best_sighting_id = row.id
                alert = self._alert(s, inc, row, routes[n], received_at)
                opened.append((inc.type, alert.department_id))
                results[n] = IngestResult(row.key, "created", inc.id, alert.id, alert.department_id)
            else:
                row.incident_id = inc.id
                s.add(row)
                s.flush()
                if self.matcher.join(inc, row):
                    inc.best_sighting_id = row.id
                results[n] = IngestResult(row.key, "created", inc.id)
            known[row.key] = (hashes[n], inc.id)
        out = [results.get(n) or IngestResult(item.key, "duplicate", known[item.key][1]) for n, item in enumerate(items)]
        return out, opened

    @staticmethod
    def _row(item: SightingBase, sha: str, received_at: datetime) -> SightingRow:
        return SightingRow(
            key=item.key, payload_sha256=sha, type=item.type, confidence=item.confidence, lat=item.lat, lon=item.lon,
            uncertainty_m=item.uncertainty_m, time=item.time, received_at=received_at,
            footprint=item.footprint.model_dump() if item.footprint else None,
            image_ref=item.image.ref, image_box=list(item.image.box), evidence_jpeg=item.evidence_bytes,
            model_version=item.model_version, drone_id=item.drone_id, sortie_id=item.sortie_id,
        )

    def _alert(self, s: Session, inc: IncidentRow, first: SightingRow, route: Route, now: datetime) -> AlertRow:
        """The alert, its first audit entry and its outbox message: committed together or not at all."""
        dept: Department = route.department
        alert = AlertRow(id="alr_" + uuid.uuid4().hex, incident_id=inc.id, department_id=dept.id, type=inc.type,
                         status="new", explanation=route.explanation, created_at=now, updated_at=now)
        s.add(alert)
        s.flush()  # no ORM relationships, so insert the parent before rows that reference it
        s.add(AlertEventRow(alert_id=alert.id, at=now, actor="dispatch", from_status=None, to_status="new",
                            note=route.explanation))
        if dept.webhook_url:
            body = {"type": "alert.created", "timestamp": iso(now),
                    "data": alert_json(alert, inc, first, dept, self.taxonomy, self.base_url)}
            s.add(DeliveryRow(id="msg_" + uuid.uuid4().hex, alert_id=alert.id, department_id=dept.id,
                              url=dept.webhook_url, payload=json.dumps(body, ensure_ascii=False), state="pending",
                              attempts=0, created_at=now, next_attempt_at=now))
        return alert
