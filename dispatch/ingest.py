"""Ingest: sightings → incidents → alerts → outbox rows, all in one transaction per request."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dispatch.batches import batches
from dispatch.departments import Department
from dispatch.incidents import IncidentMatcher
from dispatch.metrics import DispatchMetrics
from dispatch.models import AlertEventRow, AlertRow, DeliveryRow, IncidentRow, SightingRow
from dispatch.router import GeoRouter, Route
from dispatch.schemas import SightingBase
from dispatch.store import Writers
from dispatch.taxonomy import Taxonomy
from dispatch.views import alert_json, iso

GROUP_MAX = 64  # requests per group commit
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


@dataclass
class _Job:
    items: list[SightingBase]
    received_at: datetime
    done: threading.Event = field(default_factory=threading.Event)
    results: list[IngestResult] | None = None
    error: BaseException | None = None


class Ingestor:
    """Group commit: requests queue up while the previous transaction commits, then go in together.

    One committer thread does all writes (so incident matching never races), and one fsync
    serves every request in the group; each request still returns only after its commit.
    """

    def __init__(self, writers: Writers, router: GeoRouter, matcher: IncidentMatcher,
                 taxonomy: Taxonomy, base_url: str, metrics: DispatchMetrics,
                 on_commit: Callable[[list[DeliveryRow]], None], lease_s: float):
        self.writers, self.router, self.matcher = writers, router, matcher
        self.taxonomy, self.base_url, self.metrics, self.on_commit = taxonomy, base_url, metrics, on_commit
        self.lease_s = lease_s
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._commit_loop, name="ingest-commit", daemon=True)
        self._thread.start()

    def ingest(self, items: list[SightingBase], received_at: datetime) -> list[IngestResult]:
        """Store what is new and return one result per item; returns only after the commit."""
        job = _Job(items, received_at)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.results is not None
        return job.results

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _commit_loop(self) -> None:
        for jobs in batches(self._queue, GROUP_MAX):
            self._commit_group(jobs)

    def _commit_group(self, jobs: list[_Job]) -> None:
        deliveries: list[DeliveryRow] = []
        opened: list[tuple[str, str]] = []
        try:
            with self.writers.begin() as s:
                if s.bind.dialect.name == "postgresql":
                    s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INGEST_LOCK_ID})
                for job in jobs:
                    try:  # _store raises KeyConflict before it writes anything, so the others go on
                        job.results = self._store(s, job.items, job.received_at, deliveries, opened)
                    except KeyConflict as exc:
                        job.error = exc
        except Exception as exc:  # the group's transaction failed: nobody's sightings were stored
            for job in jobs:
                job.results, job.error = None, job.error or exc
            deliveries, opened = [], []
        for job in jobs:
            for r in job.results or []:
                self.metrics.sightings.labels(r.status).inc()
        for inc_type, dept in opened:
            self.metrics.incidents.labels(inc_type).inc()
            self.metrics.alerts.labels(inc_type, dept).inc()
        for job in jobs:
            job.done.set()
        if deliveries:
            self.on_commit(deliveries)

    def _store(self, s: Session, items: list[SightingBase], received_at: datetime,
               deliveries: list[DeliveryRow], opened: list[tuple[str, str]]) -> list[IngestResult]:
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
        placed: dict[int, tuple[IncidentRow, AlertRow | None]] = {}
        batch_incident: dict[str, IncidentRow] = {}
        new_alerts: list[tuple[AlertRow, IncidentRow, SightingRow, Department]] = []
        for n in fresh:
            row = self._row(items[n], hashes[n], received_at)
            x, y = self.matcher.metric.to_metres(row.lon, row.lat)
            inc = self.matcher.find(s, row, x, y)  # (autoflush: the previous sighting's rows go in here)
            alert = None
            if inc is None:
                inc = self.matcher.open(row, x, y)
                alert = self._alert(s, inc, routes[n], received_at)
                new_alerts.append((alert, inc, row, routes[n].department))
                opened.append((inc.type, alert.department_id))
            else:
                self.matcher.join(inc, row, x, y)
            row.incident = inc
            s.add(row)
            placed[n] = (inc, alert)
            batch_incident[row.key] = inc
        s.flush()  # incident ids exist from here on
        for alert, inc, first, dept in new_alerts:
            if dept.webhook_url:
                deliveries.append(self._outbox(s, alert, inc, first, dept, received_at))
        out = []
        for n, item in enumerate(items):
            if n not in placed:  # a repeat, of an earlier request or of an item earlier in this one
                inc_id = batch_incident[item.key].id if item.key in batch_incident else known[item.key][1]
                out.append(IngestResult(item.key, "duplicate", inc_id))
                continue
            inc, alert = placed[n]
            if alert is None:
                out.append(IngestResult(item.key, "created", inc.id))
            else:
                out.append(IngestResult(item.key, "created", inc.id, alert.id, alert.department_id))
        return out

    @staticmethod
    def _row(item: SightingBase, sha: str, received_at: datetime) -> SightingRow:
        return SightingRow(
            key=item.key, payload_sha256=sha, type=item.type, confidence=item.confidence, lat=item.lat, lon=item.lon,
            uncertainty_m=item.uncertainty_m, time=item.time, received_at=received_at,
            footprint=item.footprint.model_dump() if item.footprint else None,
            image_ref=item.image.ref, image_box=list(item.image.box), evidence_jpeg=item.evidence_bytes,
            model_version=item.model_version, drone_id=item.drone_id, sortie_id=item.sortie_id,
        )

    def _alert(self, s: Session, inc: IncidentRow, route: Route, now: datetime) -> AlertRow:
        """The alert and its first audit entry (the routing decision), in this transaction."""
        alert = AlertRow(id="alr_" + uuid.uuid4().hex, incident=inc, department_id=route.department.id, type=inc.type,
                         status="new", explanation=route.explanation, created_at=now, updated_at=now)
        s.add(alert)
        s.add(AlertEventRow(alert=alert, at=now, actor="dispatch", from_status=None, to_status="new",
                            note=route.explanation))
        return alert

    def _outbox(self, s: Session, alert: AlertRow, inc: IncidentRow, first: SightingRow, dept: Department,
                now: datetime) -> DeliveryRow:
        """The webhook message, committed with its alert (transactional outbox). It is leased from the
        start: this process hands it to its own worker right after the commit."""
        body = {"type": "alert.created", "timestamp": iso(now),
                "data": alert_json(alert, inc, first, dept, self.taxonomy, self.base_url)}
        msg = DeliveryRow(id="msg_" + uuid.uuid4().hex, alert_id=alert.id, department_id=dept.id, url=dept.webhook_url,
                          payload=json.dumps(body, ensure_ascii=False), state="pending", attempts=0, created_at=now,
                          next_attempt_at=now, lease_until=now + timedelta(seconds=self.lease_s))
        s.add(msg)
        return msg
