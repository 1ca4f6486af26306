"""The department API: each token sees only its own department's alerts; anything else is 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from shapely.geometry import mapping

from dispatch.accounts import Caller
from dispatch.departments import Department
from dispatch.exports import cap_xml, feature_collection
from dispatch.schemas import NoteIn, Text
from dispatch.service import AlertFilter, DispatchService, TransitionRefused

router = APIRouter()
bearer = HTTPBearer(auto_error=False, description="the department's API token")
Status = Literal["new", "acknowledged", "resolved", "rejected", "held"]


def service(request: Request) -> DispatchService:
    return request.app.state.dispatch


def caller(request: Request, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
    who = service(request).caller(cred.credentials) if cred else None
    if who is None:
        raise HTTPException(401, "authorization: a valid department token is required (Authorization: Bearer …)",
                            headers={"WWW-Authenticate": "Bearer"})
    return who


Who = Annotated[Caller, Depends(caller)]


def department(who: Who) -> Department:
    return who.department


Dept = Annotated[Department, Depends(department)]
Svc = Annotated[DispatchService, Depends(service)]


def not_found(alert_id: str) -> HTTPException:
    """The same answer whether the alert does not exist or belongs to someone else."""
    return HTTPException(404, f"alert_id: no alert {alert_id!r} for this department")


MAX_OFFSET = 1_000_000  # paging further is a probe, not a user; it would also overflow the store's integer


def alert_filter(status: Status | None = None, type: Text | None = None,
                 since: Annotated[datetime | None, Query(
                     description="only alerts created at or after this time: ISO-8601 with a zone, e.g. 2026-07-01T00:00:00Z")] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> AlertFilter:
    if since is not None and since.utcoffset() is None:
        raise HTTPException(422, f"since: {since.isoformat()!r} has no time zone; add 'Z' for UTC or '+08:00' for Beijing time")
    return AlertFilter(status, type, since, limit, offset)


Filter = Annotated[AlertFilter, Depends(alert_filter)]


@router.get("/v1/me", summary="Who this token is, with the jurisdiction as GeoJSON")
def me(who: Who, svc: Svc) -> dict:
    dept = who.department
    return {"id": dept.id, "account": {"login": who.login, "name": who.name}, "name": dept.name,
            "name_en": dept.name_en, "kind": dept.kind,
            "kind_en": svc.settings.taxonomy.kind_en(dept.kind), "jurisdiction_name": dept.jurisdiction_name,
            "catch_all": dept.catch_all, "city": svc.settings.city_name,
            "jurisdiction": mapping(dept.jurisdiction) if dept.jurisdiction is not None else None}


@router.get("/v1/alerts", summary="This department's alerts, newest first")
def list_alerts(dept: Dept, svc: Svc, f: Filter) -> dict:
    return {"alerts": svc.list_alerts(dept.id, f)}


@router.get("/v1/alerts.geojson", summary="This department's alerts as an RFC 7946 FeatureCollection")
def alerts_geojson(dept: Dept, svc: Svc, f: Filter) -> JSONResponse:
    return JSONResponse(feature_collection(svc.list_alerts(dept.id, f)), media_type="application/geo+json")


@router.get("/v1/alerts/{alert_id}", summary="One alert with its status history")
def get_alert(alert_id: str, dept: Dept, svc: Svc) -> dict:
    alert = svc.alert(dept.id, alert_id)
    if alert is None:
        raise not_found(alert_id)
    return alert


@router.get("/v1/alerts/{alert_id}/evidence.jpg", summary="The incident's best evidence photo")
def evidence(alert_id: str, dept: Dept, svc: Svc) -> Response:
    jpeg = svc.evidence(dept.id, alert_id)
    if jpeg is None and svc.alert(dept.id, alert_id) is None:
        raise not_found(alert_id)
    if jpeg is None:
        raise HTTPException(404, "evidence: no photo came with this incident's sightings")
    return Response(jpeg, media_type="image/jpeg")


@router.get("/v1/alerts/{alert_id}/cap.xml", summary="The alert as CAP 1.2 XML")
def cap(alert_id: str, dept: Dept, svc: Svc) -> Response:
    alert = svc.alert(dept.id, alert_id)
    if alert is None:
        raise not_found(alert_id)
    return Response(cap_xml(alert, f"dispatch@{svc.settings.public_url.split('://')[-1]}", svc.settings.clock()),
                    media_type="application/cap+xml")


@router.get("/v1/alerts/{alert_id}/deliveries", summary="Webhook delivery log: every attempt, code and time")
def deliveries(alert_id: str, dept: Dept, svc: Svc) -> dict:
    log = svc.deliveries(dept.id, alert_id)
    if log is None:
        raise not_found(alert_id)
    return {"deliveries": log}


@router.get("/v1/dead-letters", summary="This department's webhook messages that were given up on")
def dead_letters(dept: Dept, svc: Svc) -> dict:
    return {"dead_letters": svc.dead_letters(dept.id)}


def _transition(action: str):
    def handler(alert_id: str, who: Who, svc: Svc, body: NoteIn | None = None) -> dict:
        try:
            out = svc.transition(who, alert_id, action, body.note if body else "")
        except TransitionRefused as exc:
            raise HTTPException(409, str(exc)) from None
        if out is None:
            raise not_found(alert_id)
        return out
    return handler


for _action, _summary in (("ack", "Acknowledge (确认)"), ("resolve", "Resolve (已处理)"),
                          ("reject", "Reject as false positive (误报)")):
    router.add_api_route(f"/v1/alerts/{{alert_id}}/{_action}", _transition(_action), methods=["POST"], summary=_summary)
