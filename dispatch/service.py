"""The running service: store, router, matcher, ingest and delivery wired together, plus the queries
the department API, the inbox and the dashboard need."""

from __future__ import annotations

import hmac
import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, defer

from dispatch.accounts import Accounts, Caller
from dispatch.credentials import digest
from dispatch.delivery import ENDPOINT_OFF, DeliveryWorker
from dispatch.departments import Department
from dispatch.incidents import IncidentMatcher
from dispatch.ingest import Ingestor
from dispatch.projection import CityExtent, CityProjection
from dispatch.prometheus import DispatchMetrics
from dispatch.models import (AlertEventRow, AlertRow, DeliveryAttemptRow, DeliveryRow, EndpointRow, IncidentRow,
                             SightingRow)
from dispatch.review import ReviewQueue
from dispatch.router import GeoRouter
from dispatch.schemas import is_storable
from dispatch.settings import Settings
from dispatch.store import migrate, open_engine, session_factories
from dispatch.views import alert_json, iso
from dispatch.webhook_secrets import WebhookSecrets

TRANSITIONS = {  # action → (allowed from, new status)
    "ack": ({"new"}, "acknowledged"),
    "resolve": ({"new", "acknowledged", "held"}, "resolved"),
    "reject": ({"new", "acknowledged", "held"}, "rejected"),
}
CLOSED = {"resolved", "rejected"}


class TransitionRefused(Exception):
    pass


@dataclass(frozen=True)
class AlertFilter:
    status: str | None = None
    type: str | None = None
    since: datetime | None = None
    limit: int = 100
    offset: int = 0


class DispatchService:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.departments: dict[str, Department] = {d.id: d for d in settings.departments}
        missing = [d for d in self.departments if d not in settings.credentials.departments]
        if missing:
            raise ValueError(f"credentials: no token/webhook secret for departments {missing}")
        self.metrics = DispatchMetrics()
        self.engine = open_engine(settings.database_url)
        migrate(self.engine)
        self.readers, self.writers = session_factories(self.engine)
        self.accounts = Accounts(self.readers, self.writers, self.departments, settings.clock)
        self.accounts.seed(settings.credentials)
        self.webhook_secrets = WebhookSecrets(self.readers, self.writers, settings.clock)
        self.webhook_secrets.seed(settings.credentials)
        self.router = GeoRouter(settings.departments, settings.taxonomy)
        boxes = [d.jurisdiction.bounds for d in settings.departments if d.jurisdiction is not None]
        self.extent = CityExtent.around(boxes, settings.extent_margin_deg)
        lon, lat = (self.extent.west + self.extent.east) / 2, (self.extent.south + self.extent.north) / 2
        self.matcher = IncidentMatcher(CityProjection(lon, lat), settings.windows)
        self.worker = DeliveryWorker(
            self.readers, self.writers, self.webhook_secrets,
            settings.retry, settings.seed, self.metrics, settings.clock, settings.delivery_threads)
        self.ingestor = Ingestor(self.writers, self.router, self.matcher, settings.taxonomy, settings.public_url,
                                 self.metrics, self.worker.hand_over, self.worker.lease_s)
        self.review = ReviewQueue(self.readers, self.writers, settings.taxonomy, settings.clock, settings.public_url)

    def start(self) -> None:
        if self.settings.start_worker:
            self.worker.start()
            self.worker.wake()

    def close(self) -> None:
        self.ingestor.close()
        self.worker.stop()
        self.engine.dispose()

    # --- who is asking ---
    def caller(self, token: str) -> Caller | None:
        """The department account this token belongs to (None: unknown or revoked)."""
        return self.accounts.caller(token)

    def is_admin(self, token: str) -> bool:
        return is_storable(token) and hmac.compare_digest(digest(token), self.settings.credentials.admin_sha256)

    def may_ingest(self, token: str) -> bool:
        """The ingest token posts sightings (the admin's may too); department tokens may not."""
        ingest = is_storable(token) and hmac.compare_digest(digest(token), self.settings.credentials.ingest_sha256)
        return ingest or self.is_admin(token)

    # --- alerts ---
    def _views(self, s: Session, alerts: list[AlertRow], history: bool = False) -> list[dict[str, Any]]:
        """Alert JSON for several alerts with two queries (incidents + best sightings, photos not loaded)."""
        if not alerts:
            return []
        rows = s.execute(
            select(IncidentRow, SightingRow, SightingRow.evidence_jpeg.is_not(None))
            .outerjoin(SightingRow, SightingRow.key == IncidentRow.best_sighting_key)
            .where(IncidentRow.id.in_([a.incident_id for a in alerts]))
            .options(defer(SightingRow.evidence_jpeg))).all()
        by_incident = {inc.id: (inc, best, bool(photo)) for inc, best, photo in rows}
        out = []
        for a in alerts:
            inc, best, photo = by_incident[a.incident_id]
            events = None
            if history:
                events = list(s.scalars(select(AlertEventRow).where(AlertEventRow.alert_id == a.id)
                                        .order_by(AlertEventRow.id)))
            out.append(alert_json(a, inc, best, photo, self.departments[a.department_id], self.settings.taxonomy,
                                  self.settings.public_url, events))
        return out

    def list_alerts(self, dept_id: str | None, f: AlertFilter) -> list[dict[str, Any]]:
        with self.readers() as s:
            q = select(AlertRow)
            if dept_id is not None:
                q = q.where(AlertRow.department_id == dept_id)
            if f.status:
                q = q.where(AlertRow.status == f.status)
            if f.type:
                q = q.where(AlertRow.type == f.type)
            if f.since:
                q = q.where(AlertRow.created_at >= f.since)
            rows = s.scalars(q.order_by(AlertRow.created_at.desc(), AlertRow.id).limit(f.limit).offset(f.offset)).all()
            return self._views(s, list(rows))

    def _owned(self, s: Session, dept_id: str | None, alert_id: str, lock: bool = False) -> AlertRow | None:
        """The alert if this department owns it (admin: dept_id None); else None — callers answer 404.
        `lock`: hold the row (PostgreSQL) so two clicks at once cannot both change the status."""
        a = s.get(AlertRow, alert_id, with_for_update=lock) if is_storable(alert_id) else None
        if a is None or (dept_id is not None and a.department_id != dept_id):
            return None
        return a

    def alert(self, dept_id: str | None, alert_id: str) -> dict[str, Any] | None:
        with self.readers() as s:
            a = self._owned(s, dept_id, alert_id)
            return None if a is None else self._views(s, [a], history=True)[0]

    def evidence(self, dept_id: str | None, alert_id: str) -> bytes | None:
        with self.readers() as s:
            a = self._owned(s, dept_id, alert_id)
            if a is None:
                return None
            best = _sighting(s, s.get(IncidentRow, a.incident_id).best_sighting_key)
            return best.evidence_jpeg if best else None

    def transition(self, who: Caller, alert_id: str, action: str, note: str) -> dict[str, Any] | None:
        allowed, to = TRANSITIONS[action]
        now, dept_id = self.settings.clock(), who.department.id
        with self.writers.begin() as s:
            a = self._owned(s, dept_id, alert_id, lock=True)
            if a is None:
                return None
            if a.status not in allowed:
                raise TransitionRefused(f"status: alert is {a.status!r}; '{action}' needs one of {sorted(allowed)}")
            s.add(AlertEventRow(alert_id=a.id, at=now, actor=who.actor, from_status=a.status, to_status=to, note=note))
            a.status, a.updated_at = to, now
            if to == "acknowledged":
                a.acknowledged_at = now
            if to in CLOSED:
                a.closed_at = now
                s.get(IncidentRow, a.incident_id).status = "closed"
        self.metrics.transitions.labels(to).inc()
        return self.alert(dept_id, alert_id)

    def deliveries(self, dept_id: str | None, alert_id: str) -> list[dict[str, Any]] | None:
        with self.readers() as s:
            if self._owned(s, dept_id, alert_id) is None:
                return None
            rows = s.scalars(select(DeliveryRow).where(DeliveryRow.alert_id == alert_id).order_by(DeliveryRow.created_at))
            return [self._delivery_json(s, d) for d in rows]

    def _delivery_json(self, s: Session, d: DeliveryRow) -> dict[str, Any]:
        attempts = s.scalars(select(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id == d.id)
                             .order_by(DeliveryAttemptRow.id))
        return {
            "webhook_id": d.id, "alert_id": d.alert_id, "department_id": d.department_id, "url": d.url,
            "state": d.state, "attempts": d.attempts, "created_at": iso(d.created_at),
            "next_attempt_at": iso(d.next_attempt_at) if d.state == "pending" else None,
            "delivered_at": iso(d.delivered_at), "last_error": d.last_error,
            "log": [{"at": iso(x.at), "status_code": x.status_code, "error": x.error,
                     "duration_ms": round(x.duration_ms, 1)} for x in attempts],
        }

    def dead_letters(self, dept_id: str | None) -> list[dict[str, Any]]:
        with self.readers() as s:
            q = select(DeliveryRow).where(DeliveryRow.state == "dead")
            if dept_id is not None:
                q = q.where(DeliveryRow.department_id == dept_id)
            return [self._delivery_json(s, d) for d in s.scalars(q.order_by(DeliveryRow.created_at))]

    def redeliver(self, webhook_id: str) -> bool:
        """Put a dead-lettered message back in the outbox (same webhook-id, so receivers can de-duplicate)."""
        with self.writers.begin() as s:
            d = s.get(DeliveryRow, webhook_id) if is_storable(webhook_id) else None
            if d is None or d.state != "dead":
                return False
            d.state, d.next_attempt_at, d.lease_until, d.attempts = "pending", self.settings.clock(), None, 0
        self.worker.wake()
        return True

    def enable_endpoint(self, dept_id: str) -> int:
        """Switch a department's webhook back on after a 410; its dead letters go back in the outbox
        (same webhook-ids). Returns how many."""
        now = self.settings.clock()
        with self.writers.begin() as s:
            s.execute(delete(EndpointRow).where(EndpointRow.department_id == dept_id))
            requeued = s.execute(update(DeliveryRow).where(
                DeliveryRow.department_id == dept_id, DeliveryRow.state == "dead",
                or_(DeliveryRow.last_error.startswith("410"), DeliveryRow.last_error == ENDPOINT_OFF),
            ).values(state="pending", next_attempt_at=now, lease_until=None, attempts=0)).rowcount
        self.worker.wake()
        return requeued

    def disabled_endpoints(self) -> list[dict[str, Any]]:
        with self.readers() as s:
            return [{"department_id": e.department_id, "disabled_at": iso(e.disabled_at), "reason": e.reason}
                    for e in s.scalars(select(EndpointRow).order_by(EndpointRow.department_id))]

    def outbox_counts(self) -> dict[str, int]:
        with self.readers() as s:
            return dict(s.execute(select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)).all())

    def outbox_lag_s(self) -> float:
        """Age of the oldest message not yet delivered (0 when the outbox is empty): alerts waiting this long."""
        with self.readers() as s:
            oldest = s.scalar(select(func.min(DeliveryRow.created_at)).where(DeliveryRow.state == "pending"))
        if oldest is None:
            return 0.0
        return max(0.0, (self.settings.clock() - oldest).total_seconds())

    def stats(self) -> dict[str, Any]:
        """City dashboard figures: alerts by type, by department, open/closed, median hours to ack and close."""
        with self.readers() as s:
            rows = s.execute(select(AlertRow.type, AlertRow.department_id, AlertRow.status, AlertRow.created_at,
                                    AlertRow.acknowledged_at, AlertRow.closed_at)).all()
        by_type: dict[str, int] = {}
        by_dept: dict[str, dict[str, int]] = {}
        to_ack, to_close = [], []
        for t, d, status, created, acked, closed in rows:
            by_type[t] = by_type.get(t, 0) + 1
            slot = by_dept.setdefault(d, {"open": 0, "closed": 0})
            slot["closed" if status in CLOSED else "open"] += 1
            if acked:
                to_ack.append((acked - created).total_seconds() / 3600)
            if closed and status == "resolved":
                to_close.append((closed - created).total_seconds() / 3600)
        tax = self.settings.taxonomy
        return {
            "city": self.settings.city_name,
            "total": len(rows),
            "open": sum(v["open"] for v in by_dept.values()),
            "closed": sum(v["closed"] for v in by_dept.values()),
            "by_type": [{"code": c, "zh": tax.type(c).zh, "en": tax.type(c).en, "count": n}
                        for c, n in sorted(by_type.items(), key=lambda kv: -kv[1])],
            "by_department": [{"id": d, "name": self.departments[d].name, "name_en": self.departments[d].name_en, **v}
                              for d, v in sorted(by_dept.items())],
            "median_hours_to_ack": statistics.median(to_ack) if to_ack else None,
            "median_hours_to_resolve": statistics.median(to_close) if to_close else None,
            "outbox": self.outbox_counts(),
        }


def _sighting(s: Session, key: str) -> SightingRow | None:
    return s.scalar(select(SightingRow).where(SightingRow.key == key))
