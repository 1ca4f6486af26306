"""The store: sightings, incidents, alerts with their audit trail, and the webhook outbox."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class SightingRow(Base):
    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    uncertainty_m: Mapped[float] = mapped_column(Float)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    footprint: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    image_ref: Mapped[str] = mapped_column(String(500))
    image_box: Mapped[list] = mapped_column(JSON)
    evidence_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    evidence_box: Mapped[list | None] = mapped_column(JSON, nullable=True)
    model_version: Mapped[str] = mapped_column(String(100), index=True)
    drone_id: Mapped[str] = mapped_column(String(100))
    sortie_id: Mapped[str] = mapped_column(String(100))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)


class IncidentRow(Base):
    """One real-world problem seen one or more times; its position is the weighted mean of its sightings."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_open_type", "type", "status", "last_seen"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    sighting_count: Mapped[int] = mapped_column(Integer)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    uncertainty_m: Mapped[float] = mapped_column(Float)
    sum_w: Mapped[float] = mapped_column(Float)
    sum_wx: Mapped[float] = mapped_column(Float)
    sum_wy: Mapped[float] = mapped_column(Float)
    best_sighting_key: Mapped[str] = mapped_column(String(200))
    best_confidence: Mapped[float] = mapped_column(Float)


class AlertRow(Base):
    """What a department receives for one incident; `explanation` says why it went to them."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_department_created", "department_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), unique=True)
    department_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # new | acknowledged | resolved | rejected | held (unverified type, not sent)
    explanation: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AlertEventRow(Base):
    """Audit trail: every status change of an alert, who made it and their note."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)


class VerdictRow(Base):
    """Audit trail of the review queue: one analyst's call on one sighting, who made it and when.

    `true`/`false` judge the finding (with `type`/`box` set when the analyst corrected them);
    `missed` adds an object the model did not report, boxed inside the same evidence crop.
    Rows are only ever added: the latest true/false call counts, earlier ones stay as history.
    """

    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sighting_id: Mapped[int] = mapped_column(ForeignKey("sightings.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    verdict: Mapped[str] = mapped_column(String(16))  # true | false | missed
    type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    box: Mapped[list | None] = mapped_column(JSON, nullable=True)
    note: Mapped[str] = mapped_column(Text)


class DeliveryRow(Base):
    """Outbox: one webhook message; its id is the webhook-id, the same on every retry."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    department_id: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class DeliveryAttemptRow(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float)


class EndpointRow(Base):
    """A department webhook endpoint that answered 410 Gone: nothing is sent to it until re-enabled."""

    __tablename__ = "disabled_endpoints"

    department_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    disabled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)


class AccountRow(Base):
    """A person (or a department's shared login) who may act for a department; only the token's
    digest is kept. `login` goes into the audit trail."""

    __tablename__ = "accounts"
    __table_args__ = (Index("ux_accounts_login", "department_id", "login", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department_id: Mapped[str] = mapped_column(String(100))
    login: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookSecretRow(Base):
    """A department's webhook signing secrets: every one not yet retired signs each message
    (Standard Webhooks: several signatures in one header while a rotation is under way)."""

    __tablename__ = "webhook_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department_id: Mapped[str] = mapped_column(String(100), index=True)
    secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retire_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
