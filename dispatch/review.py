"""The analysts' review queue: sightings with their evidence, verdicts on them (audited), and the
labels that reviewed evidence turns into for training.

A sighting's label comes from the latest analyst verdict on it; without one, from what the owning
department did with its alert (resolved: the finding was real; rejected: a false alarm). Objects
the model missed, added by an analyst, are labels of their own. Nothing here ever deletes or
rewrites a verdict: a new call is a new row, so who said what, and when, stays on record.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Literal

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session, defer, sessionmaker

from dispatch.models import AlertRow, SightingRow, VerdictRow
from dispatch.schemas import is_storable
from dispatch.store import Writers
from dispatch.taxonomy import Taxonomy
from dispatch.views import iso

Queue = Literal["all", "rejected", "confirmed", "unverified", "low_confidence"]
QUEUE_STATUS = {"rejected": ("rejected",), "confirmed": ("resolved",), "unverified": ("held",)}
DEPARTMENT_LABEL = {"resolved": True, "rejected": False}  # alert status → was the finding real?


class VerdictRefused(ValueError):
    """A verdict that cannot be stored as given (unknown type, box outside the crop, nothing to box)."""


@dataclass(frozen=True)
class QueueFilter:
    queue: Queue = "all"
    below: float = 0.5  # low_confidence: confidence under this
    reviewed: bool | None = None  # None: both
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class VerdictIn:
    verdict: Literal["true", "false", "missed"]
    type: str | None
    box: tuple[float, float, float, float] | None
    note: str


class ReviewQueue:
    def __init__(self, readers: sessionmaker[Session], writers: Writers, taxonomy: Taxonomy,
                 clock: Callable[[], datetime], base_url: str):
        self.readers, self.writers, self.taxonomy, self.clock, self.base_url = readers, writers, taxonomy, clock, base_url

    def _query(self, dept_id: str | None):
        q = (select(SightingRow, AlertRow, SightingRow.evidence_jpeg.is_not(None))
             .join(AlertRow, AlertRow.incident_id == SightingRow.incident_id)
             .options(defer(SightingRow.evidence_jpeg)))
        return q if dept_id is None else q.where(AlertRow.department_id == dept_id)

    def items(self, dept_id: str | None, f: QueueFilter) -> list[dict[str, Any]]:
        """One page of the queue, newest sighting first. `dept_id` None: the whole city (admin)."""
        q = self._query(dept_id)
        if f.queue in QUEUE_STATUS:
            q = q.where(AlertRow.status.in_(QUEUE_STATUS[f.queue]))
        elif f.queue == "low_confidence":
            q = q.where(SightingRow.confidence < f.below)
        has_verdict = select(VerdictRow.id).where(VerdictRow.sighting_id == SightingRow.id).exists()
        if f.reviewed is not None:
            q = q.where(has_verdict if f.reviewed else ~has_verdict)
        with self.readers() as s:
            rows = s.execute(q.order_by(SightingRow.received_at.desc(), SightingRow.id.desc())
                             .limit(f.limit).offset(f.offset)).all()
            verdicts = self._verdicts(s, [r.id for r, _, _ in rows])
        return [self._item(r, a, photo, verdicts.get(r.id, [])) for r, a, photo in rows]

    def item(self, dept_id: str | None, key: str) -> dict[str, Any] | None:
        if not is_storable(key):
            return None
        with self.readers() as s:
            row = s.execute(self._query(dept_id).where(SightingRow.key == key)).first()
            if row is None:
                return None
            return self._item(*row, self._verdicts(s, [row[0].id]).get(row[0].id, []))

    def evidence(self, dept_id: str | None, key: str) -> bytes | None:
        if not is_storable(key):
            return None
        with self.readers() as s:
            row = s.execute(select(SightingRow.evidence_jpeg).join(AlertRow, AlertRow.incident_id == SightingRow.incident_id)
                            .where(SightingRow.key == key, *([AlertRow.department_id == dept_id] if dept_id else []))).first()
        return None if row is None else row[0]

    @staticmethod
    def _verdicts(s: Session, ids: list[int]) -> dict[int, list[VerdictRow]]:
        out: dict[int, list[VerdictRow]] = {}
        if ids:
            for v in s.scalars(select(VerdictRow).where(VerdictRow.sighting_id.in_(ids)).order_by(VerdictRow.id)):
                out.setdefault(v.sighting_id, []).append(v)
        return out

    def _item(self, r: SightingRow, a: AlertRow, photo: bool, verdicts: list[VerdictRow]) -> dict[str, Any]:
        vt = self.taxonomy.type(r.type)
        return {
            "key": r.key, "type": {"code": vt.code, "zh": vt.zh, "en": vt.en}, "confidence": r.confidence,
            "model_version": r.model_version, "time": iso(r.time), "received_at": iso(r.received_at),
            "lon": r.lon, "lat": r.lat, "image_ref": r.image_ref, "image_box": r.image_box,
            "evidence_box": r.evidence_box, "drone_id": r.drone_id, "sortie_id": r.sortie_id,
            "alert": {"id": a.id, "status": a.status, "department_id": a.department_id},
            "evidence_url": f"{self.base_url}/v1/review/{r.key}/evidence.jpg" if photo else None,
            "verdicts": [{"id": v.id, "at": iso(v.at), "actor": v.actor, "verdict": v.verdict, "type": v.type,
                          "box": v.box, "note": v.note} for v in verdicts],
            "label": _label(r, a, verdicts),
        }

    def add_verdict(self, dept_id: str | None, actor: str, key: str, v: VerdictIn) -> dict[str, Any] | None:
        """Store one verdict (None when the sighting is not this reviewer's to judge)."""
        if v.type is not None and v.type not in self.taxonomy.codes:
            raise VerdictRefused(f"type: {v.type!r} is not a taxonomy code (known: {sorted(self.taxonomy.codes)})")
        if v.verdict == "missed" and (v.type is None or v.box is None):
            raise VerdictRefused("box: a missed object needs both `type` and `box` (pixels in the evidence crop)")
        if v.verdict == "false" and (v.type is not None or v.box is not None):
            raise VerdictRefused("verdict: a false finding has no type or box to correct; send them with 'true'")
        with self.writers.begin() as s:
            row = s.execute(self._query(dept_id).where(SightingRow.key == key)).first() if is_storable(key) else None
            if row is None:
                return None
            sighting = row[0]
            if v.box is not None:
                _check_in_crop(v.box, s.scalar(select(SightingRow.evidence_jpeg).where(SightingRow.id == sighting.id)))
            s.add(VerdictRow(sighting_id=sighting.id, at=self.clock(), actor=actor, verdict=v.verdict, type=v.type,
                             box=list(v.box) if v.box else None, note=v.note))
        return self.item(dept_id, key)

    def labels(self, limit: int, offset: int) -> list[dict[str, Any]]:
        """Every reviewed sighting with evidence, as training labels: boxes in crop pixels; no
        boxes means a hard negative (the crop shows nothing the model should report)."""
        reviewed = select(VerdictRow.id).where(VerdictRow.sighting_id == SightingRow.id).exists()
        q = (self._query(None).where(SightingRow.evidence_jpeg.is_not(None))
             .where(reviewed | AlertRow.status.in_(tuple(DEPARTMENT_LABEL))))
        with self.readers() as s:
            rows = s.execute(q.order_by(SightingRow.id).limit(limit).offset(offset)).all()
            verdicts = self._verdicts(s, [r.id for r, _, _ in rows])
        out = []
        for r, a, _ in rows:
            label = _label(r, a, verdicts.get(r.id, []))
            if label is not None:
                out.append({"key": r.key, "model_version": r.model_version, "time": iso(r.time),
                            "evidence_url": f"{self.base_url}/v1/review/{r.key}/evidence.jpg", **label})
        return out


def _check_in_crop(box: tuple[float, float, float, float], jpeg: bytes | None) -> None:
    if jpeg is None:
        raise VerdictRefused("box: this sighting came without an evidence crop, so there is nothing to draw a box in")
    try:
        w, h = Image.open(io.BytesIO(jpeg)).size
    except (UnidentifiedImageError, OSError):
        raise VerdictRefused("box: the stored evidence crop cannot be read") from None
    if box[2] > w or box[3] > h:
        raise VerdictRefused(f"box: {list(box)} reaches outside the {w}×{h} px evidence crop")


def _label(r: SightingRow, a: AlertRow, verdicts: list[VerdictRow]) -> dict[str, Any] | None:
    """What the evidence crop shows, by the latest call on it; None while nobody has judged it."""
    calls = [v for v in verdicts if v.verdict in ("true", "false")]
    boxes = [{"type": v.type, "box": v.box, "by": f"analyst:{v.actor}"} for v in verdicts if v.verdict == "missed"]
    if calls:
        last = calls[-1]
        real, by, at = last.verdict == "true", f"analyst:{last.actor}", iso(last.at)
        box, code = last.box or r.evidence_box, last.type or r.type
    elif a.status in DEPARTMENT_LABEL:
        real, by, at = DEPARTMENT_LABEL[a.status], f"department:{a.department_id}", iso(a.closed_at)
        box, code = r.evidence_box, r.type
    else:
        return None
    if real:
        if box is None:  # the sender did not say where the finding sits in its crop: unusable as a box
            return None
        boxes.insert(0, {"type": code, "box": box, "by": by})
    return {"finding_real": real, "decided_by": by, "decided_at": at, "boxes": boxes}
