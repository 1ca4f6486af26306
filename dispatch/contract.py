"""The published answer contract (OpenAPI): the Alert and every other body the API sends back.

`extra="forbid"` on purpose: a field added to a view but not here makes the answer fail its own
contract (the route answers 500, the tests fail) instead of silently leaving the document behind.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from dispatch.schemas import PolygonGeoJSON
from dispatch.taxonomy import Severity, StandardCode

Time = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time",
                                      "description": "ISO-8601 UTC, ending in 'Z'"})]
Status = Literal["new", "acknowledged", "resolved", "rejected", "held"]
Geometry = Annotated[dict[str, Any], WithJsonSchema({"type": "object", "description": "RFC 7946 geometry ([lon, lat])"})]


class Answer(BaseModel):
    """A body the API sends: no field beyond those declared; aliases (`from`) or names both accepted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Problem(Answer):
    """Every 4xx/5xx body: `detail` names the field and the value; `errors` lists each when there are several."""

    detail: str = Field(description="'field: what is wrong (got value)'")
    errors: list[FieldError] | None = None


class FieldError(Answer):
    field: str = Field(description="the field as the sender wrote it, e.g. '[3].image.box' or 'since'")
    problem: str
    value: Any = None


class PointGeoJSON(Answer):
    type: Literal["Point"]
    coordinates: tuple[float, float] = Field(description="[lon, lat] (RFC 7946 order)")


class AlertType(Answer):
    code: str
    zh: str
    en: str
    severity: Severity
    standard: StandardCode | None


class DepartmentRef(Answer):
    id: str
    name: str
    name_en: str
    kind: str


class Evidence(Answer):
    image_ref: str
    box: tuple[float, float, float, float] = Field(description="pixel box [x0, y0, x1, y1], x0 < x1 and y0 < y1")
    confidence: float
    model_version: str
    drone_id: str
    sortie_id: str
    url: str | None = Field(description="the evidence JPEG (GET, department token), when a photo came with it")


class AlertLinks(Answer):
    self: str
    cap: str
    deliveries: str


class Alert(Answer):
    """One alert: the webhook body's `data`, a row of GET /v1/alerts, and the inbox row."""

    alert_id: str
    incident_id: int
    status: Status
    type: AlertType
    department: DepartmentRef
    location: PointGeoJSON
    uncertainty_m: float = Field(description="1-sigma position uncertainty of the incident, metres")
    area: PolygonGeoJSON | None = Field(description="footprint of the best sighting's photo")
    first_seen: Time
    last_seen: Time
    sighting_count: int
    routing: str = Field(description="why this department: the router's explanation")
    created_at: Time
    acknowledged_at: Time | None
    closed_at: Time | None
    evidence: Evidence | None
    links: AlertLinks


class StatusEvent(Answer):
    at: Time
    actor: str
    from_: Status | None = Field(alias="from")
    to: Status
    note: str


class AlertDetail(Alert):
    """An alert with its audit trail (GET /v1/alerts/{id} and the answers to ack/resolve/reject)."""

    status_history: list[StatusEvent]


class AlertList(Answer):
    alerts: list[Alert]


class Feature(Answer):
    """RFC 7946 Feature with an id."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: dict[str, Any]


class FeatureCollection(Answer):
    type: Literal["FeatureCollection"]
    features: list[Feature]


class AlertFeature(Feature):
    geometry: PointGeoJSON
    properties: dict[str, Any] = Field(description="the Alert's fields except `location`")


class AlertFeatureCollection(FeatureCollection):
    features: list[AlertFeature]


class AccountRef(Answer):
    login: str = Field(description="'department' for the department's shared token, else the person's login")
    name: str


class Me(Answer):
    id: str
    account: AccountRef
    name: str
    name_en: str
    kind: str
    kind_en: str
    jurisdiction_name: str
    catch_all: bool
    city: str
    jurisdiction: Geometry | None


class Attempt(Answer):
    at: Time
    status_code: int | None
    error: str | None
    duration_ms: float


class Delivery(Answer):
    webhook_id: str
    alert_id: str
    department_id: str
    url: str | None
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    created_at: Time
    next_attempt_at: Time | None
    delivered_at: Time | None
    last_error: str | None
    log: list[Attempt]


class Deliveries(Answer):
    deliveries: list[Delivery]


class DeadLetters(Answer):
    dead_letters: list[Delivery]


class SightingResult(Answer):
    key: str
    status: Literal["created", "duplicate"]
    incident_id: int
    alert_id: str | None = None
    department_id: str | None = None


class SightingResults(Answer):
    """The answer to a batch: one result per sighting, in the order sent."""

    results: list[SightingResult]


class TypeCount(Answer):
    code: str
    zh: str
    en: str
    count: int


class DepartmentCount(Answer):
    id: str
    name: str
    name_en: str
    open: int
    closed: int


class Stats(Answer):
    city: str
    total: int
    open: int
    closed: int
    by_type: list[TypeCount]
    by_department: list[DepartmentCount]
    median_hours_to_ack: float | None
    median_hours_to_resolve: float | None
    outbox: dict[str, int] = Field(description="webhook messages by state")


class Requeued(Answer):
    webhook_id: str
    state: Literal["pending"]


class DisabledEndpoint(Answer):
    department_id: str
    disabled_at: Time
    reason: str


class DisabledEndpoints(Answer):
    disabled: list[DisabledEndpoint]


class Account(Answer):
    department_id: str
    login: str
    name: str
    created_at: Time
    revoked_at: Time | None


class NewAccount(Account):
    token: str = Field(description="the account's token: shown this once, only its digest is kept")


class AccountList(Answer):
    accounts: list[Account]


class NewWebhookSecret(Answer):
    department_id: str
    webhook_secret: str = Field(description="Standard Webhooks secret (whsec_…): shown this once")
    previous_secrets_retire_at: Time | None = Field(description="until then the old secrets sign every webhook too")


class Reenabled(Answer):
    department_id: str
    requeued: int = Field(description="dead letters put back in the outbox")


Problem.model_rebuild()
