"""Ingest: sightings → incidents → alerts → outbox rows, all in one transaction per request."""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from dispatch.batches import batches
from dispatch.departments import Department
from dispatch.incidents import IncidentMatcher
from dispatch.prometheus import DispatchMetrics
from dispatch.delivery import ENDPOINT_OFF
from dispatch.models import AlertEventRow, AlertRow, DeliveryRow, EndpointRow, IncidentRow, SightingRow
from dispatch.router import GeoRouter, Route
from dispatch.schemas import SightingBase
from dispatch.store import Writers
from dispatch.taxonomy import Taxonomy
from dispatch.views import alert_json, iso

log = logging.getLogger(__name__)
STORE_FAILED = "store: the sightings could not be stored (the server log has the cause)"
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


class StoreUnavailable(Exception):
    """Nothing was stored (store error or shutdown); the sender should retry the same request."""


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
        self._closed = False
        self._thread = threading.Thread(target=self._commit_loop, name="ingest-commit", daemon=True)
        self._thread.start()

    def ingest(self, items: list[SightingBase], received_at: datetime) -> list[IngestResult]:
        """Store what is new and return one result per item; returns only after the commit."""
        if self._closed:
            raise StoreUnavailable("dispatch is shutting down; retry against the next instance")
        job = _Job(items, received_at)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.results is not None
        return job.results

    @property
    def queue_depth(self) -> int:
        """Requests waiting for the next group commit in this process (grows when the store is slow)."""
        return self._queue.qsize()

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _commit_loop(self) -> None:
        for jobs in batches(self._queue, GROUP_MAX):
            try:
                self._commit_group(jobs)
            except Exception:  # never leave a request waiting, never let this thread die
                log.exception("ingest: group commit failed")
                for job in jobs:
                    if not job.done.is_set():
                        job.error = StoreUnavailable(STORE_FAILED)
                        job.done.set()

    def _commit_group(self, jobs: list[_Job]) -> None:
        """One transaction for the group, one savepoint per request: a request the store refuses
        (or that trips over anything else) fails alone, and its neighbours still commit."""
        deliveries: list[DeliveryRow] = []
        opened: list[tuple[str, str]] = []
        try:
            with self.writers.begin() as s:
                if s.bind.dialect.name == "postgresql":
                    s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INGEST_LOCK_ID})
                off = set(s.scalars(select(EndpointRow.department_id)))
                for job in jobs:
                    mine: list[DeliveryRow] = []
                    mine_opened: list[tuple[str, str]] = []
                    try:  # _store raises KeyConflict before it writes anything
                        with s.begin_nested():
                            job.results = self._store(s, job.items, job.received_at, mine, mine_opened, off)
                    except KeyConflict as exc:
                        job.error = exc
                    except Exception:
                        log.exception("ingest: a request of %d sighting(s) failed; the rest of its group goes on",
                                      len(job.items))
                        job.results, job.error = None, StoreUnavailable(STORE_FAILED)
                    else:
                        deliveries.extend(mine)
                        opened.extend(mine_opened)
        except Exception:  # the group's transaction failed: nobody's sightings were stored
            log.exception("ingest: group commit of %d request(s) failed", len(jobs))
            for job in jobs:
                job.results = None
                job.error = job.error or StoreUnavailable(STORE_FAILED)
            deliveries, opened = [], []
        for job in jobs:
            job.done.set()
        for job in jobs:
            for r in job.results or []:
                self.metrics.sightings.labels(r.status).inc()
        for inc_type, dept in opened:
            self.metrics.incidents.labels(inc_type).inc()
            self.metrics.alerts.labels(inc_type, dept).inc()
        if deliveries:
            self.on_commit(deliveries)

    def _store(self, s: Session, items: list[SightingBase], received_at: datetime, deliveries: list[DeliveryRow],
               opened: list[tuple[str, str]], endpoints_off: set[str]) -> list[IngestResult]:
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
        sightings: list[dict[str, Any]] = []
        alerts: list[dict[str, Any]] = []
        messages: list[DeliveryRow] = []
        out: dict[int, IngestResult] = {}
        batch_incident: dict[str, int] = {}
        for n in fresh:
            row = self._row(items[n], hashes[n], received_at)
            x, y = self.matcher.projection.to_metres(row["lon"], row["lat"])
            inc = self.matcher.find(s, row, x, y)
            if inc is None:
                opened_row = self.matcher.open(s, row, x, y)
                row["incident_id"] = opened_row["id"]
                alert = self._alert(opened_row, routes[n], received_at, held=items[n].unverified)
                alerts.append(alert)
                opened.append((row["type"], alert["department_id"]))
                if routes[n].department.webhook_url and not items[n].unverified:
                    messages.append(self._outbox(alert, opened_row, row, routes[n].department, received_at,
                                                 routes[n].department.id in endpoints_off))
                out[n] = IngestResult(row["key"], "created", opened_row["id"], alert["id"], alert["department_id"])
            else:
                self.matcher.join(s, inc, row, x, y)
                row["incident_id"] = inc.id
                out[n] = IngestResult(row["key"], "created", inc.id)
            sightings.append(row)
            batch_incident[row["key"]] = row["incident_id"]
        # Parents first: incidents are in; now sightings and alerts, then what points at alerts.
        for table, rows in ((SightingRow, sightings), (AlertRow, alerts)):
            if rows:
                s.execute(insert(table.__table__), rows)
        if alerts:
            s.execute(insert(AlertEventRow.__table__), [
                {"alert_id": a["id"], "at": a["created_at"], "actor": "dispatch", "from_status": None,
                 "to_status": a["status"], "note": a["explanation"]} for a in alerts])
        if messages:
            s.execute(insert(DeliveryRow.__table__), [_columns(d) for d in messages])
            deliveries.extend(d for d in messages if d.state == "pending")
        return [out.get(n) or IngestResult(item.key, "duplicate",
                                           batch_incident.get(item.key, known[item.key][1]))
                for n, item in enumerate(items)]

    @staticmethod
    def _row(item: SightingBase, sha: str, received_at: datetime) -> dict[str, Any]:
        return {
            "key": item.key, "payload_sha256": sha, "type": item.type, "confidence": item.confidence,
            "lat": item.lat, "lon": item.lon, "uncertainty_m": item.uncertainty_m, "time": item.time,
            "received_at": received_at, "footprint": item.footprint.model_dump() if item.footprint else None,
            "image_ref": item.image.ref, "image_box": list(item.image.box), "evidence_jpeg": item.evidence_bytes,
            "evidence_box": list(item.evidence_box) if item.evidence_box else None, "model_version": item.model_version, "drone_id": item.drone_id, "sortie_id": item.sortie_id,
        }

    @staticmethod
    def _alert(incident: dict[str, Any], route: Route, now: datetime, held: bool = False) -> dict[str, Any]:
        """The alert row; the routing decision is kept as its explanation and first audit entry. An
        alert opened by an unverified sighting is 'held': listed, but not sent until an analyst looks."""
        note = route.explanation + ("; held: type not validated on real photos (未经真实照片验证，待分析员复核)" if held else "")
        return {"id": "alr_" + uuid.uuid4().hex, "incident_id": incident["id"], "department_id": route.department.id,
                "type": incident["type"], "status": "held" if held else "new", "explanation": note,
                "created_at": now, "updated_at": now, "acknowledged_at": None, "closed_at": None}

    def _outbox(self, alert: dict[str, Any], incident: dict[str, Any], first: dict[str, Any], dept: Department,
                now: datetime, endpoint_off: bool) -> DeliveryRow:
        """The webhook message, committed with its alert (transactional outbox). It is leased from the
        start: this process hands it to its own worker right after the commit. If the department's
        endpoint was switched off (410 Gone), it starts as a dead letter instead."""
        view = alert_json(AlertRow(**alert), IncidentRow(**incident), SightingRow(**first),
                          first["evidence_jpeg"] is not None, dept, self.taxonomy, self.base_url)
        body = {"type": "alert.created", "timestamp": iso(now), "data": view}
        return DeliveryRow(id="msg_" + uuid.uuid4().hex, alert_id=alert["id"], department_id=dept.id,
                           url=dept.webhook_url, payload=json.dumps(body, ensure_ascii=False),
                           state="dead" if endpoint_off else "pending", attempts=0, created_at=now,
                           next_attempt_at=now, delivered_at=None,
                           lease_until=None if endpoint_off else now + timedelta(seconds=self.lease_s),
                           last_error=ENDPOINT_OFF if endpoint_off else None)


def _columns(row: DeliveryRow) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in DeliveryRow.__table__.columns}
