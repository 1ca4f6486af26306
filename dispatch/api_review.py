"""The review queue API: analysts (the city admin token, every department) or a department (its own
alerts' sightings) page through evidence and record verdicts; the labels feed `patrol dataset build`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dispatch.api_alerts import BINARY, JPEGResponse
from dispatch.deps import PROBLEM, Bearer, Svc, errors, unauthorized
from dispatch.review import QueueFilter, VerdictIn, VerdictRefused
from dispatch.schemas import ImageRef, Number, Text

router = APIRouter(prefix="/v1/review", responses=errors(401))


@dataclass(frozen=True)
class Reviewer:
    """Who is reviewing: `scope` None sees the whole city; `actor` is what the audit trail records
    (`admin`, or the department and the person whose account token it is)."""

    actor: str
    scope: str | None


def reviewer(svc: Svc, cred: Bearer) -> Reviewer:
    if cred is not None and svc.is_admin(cred.credentials):
        return Reviewer("admin", None)
    who = svc.caller(cred.credentials) if cred else None
    if who is None:
        raise unauthorized("the city admin token or a department token is required")
    return Reviewer(f"{who.department.id}: {who.actor}"[:100], who.department.id)  # the person, as the alert trail names them


def analyst(who: Annotated[Reviewer, Depends(reviewer)]) -> Reviewer:
    if who.scope is not None:
        raise HTTPException(403, "authorization: training labels are for the city's analysts (admin token)")
    return who


Who = Annotated[Reviewer, Depends(reviewer)]


class VerdictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    verdict: Literal["true", "false", "missed"] = Field(
        description="true: a real finding (type/box may correct it); false: a false alarm; missed: an object the model did not report")
    type: str | None = Field(None, description="taxonomy code: the corrected type, or the missed object's type")
    box: tuple[Number, Number, Number, Number] | None = Field(
        None, description="[x0, y0, x1, y1] in pixels of the evidence crop: the corrected box, or the missed object's")
    note: Annotated[Text, Field(max_length=2000)] = ""

    @field_validator("box")
    @classmethod
    def _box(cls, v: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        return None if v is None else ImageRef._ordered(v)


def queue_filter(queue: Literal["all", "rejected", "confirmed", "unverified", "low_confidence"] = "all",
                 below: Annotated[float, Query(ge=0, le=1, description="low_confidence: confidence under this")] = 0.5,
                 reviewed: bool | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> QueueFilter:
    return QueueFilter(queue, below, reviewed, limit, offset)


def _not_found(key: str) -> HTTPException:
    return HTTPException(404, f"key: no sighting {key!r} for this reviewer")


@router.get("", summary="The review queue (复核队列): sightings with evidence, newest first", responses=errors(422))
def queue(who: Who, svc: Svc, f: Annotated[QueueFilter, Depends(queue_filter)]) -> dict:
    types = [{"code": t.code, "zh": t.zh, "en": t.en} for t in svc.settings.taxonomy.types]
    return {"items": svc.review.items(who.scope, f), "reviewer": who.actor, "types": types}


@router.get("/labels", summary="Reviewed evidence as training labels (analysts only)",
            responses={403: {"description": "a department token: labels are for the city's analysts", "content": PROBLEM},
                       **errors(422)})
def labels(who: Annotated[Reviewer, Depends(analyst)], svc: Svc, limit: Annotated[int, Query(ge=1, le=1000)] = 500,
           offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    return {"labels": svc.review.labels(limit, offset)}


@router.get("/{key}", summary="One sighting of the queue with its verdict history", responses=errors(404))
def item(key: str, who: Who, svc: Svc) -> dict:
    out = svc.review.item(who.scope, key)
    if out is None:
        raise _not_found(key)
    return out


@router.get("/{key}/evidence.jpg", summary="The sighting's evidence crop", response_class=JPEGResponse,
            responses={200: {"content": {"image/jpeg": {"schema": BINARY}}}, **errors(404)})
def evidence(key: str, who: Who, svc: Svc) -> JPEGResponse:
    jpeg = svc.review.evidence(who.scope, key)
    if jpeg is None:
        raise _not_found(key) if svc.review.item(who.scope, key) is None else HTTPException(
            404, "evidence: this sighting came without a photo")
    return JPEGResponse(jpeg)


@router.post("/{key}/verdict", summary="Record a verdict: true / false (with corrections) or a missed object",
             responses=errors(404, 422))
def verdict(key: str, body: VerdictBody, who: Who, svc: Svc) -> dict:
    try:
        out = svc.review.add_verdict(who.scope, who.actor, key, VerdictIn(body.verdict, body.type, body.box, body.note))
    except VerdictRefused as exc:
        raise HTTPException(422, str(exc)) from None
    if out is None:
        raise _not_found(key)
    return out
