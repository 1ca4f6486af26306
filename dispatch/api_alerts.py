"""The department API: each token sees only its own department's alerts; anything else is 404."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response
from shapely.geometry import mapping

from dispatch.contract import AlertDetail, AlertFeatureCollection, AlertList, DeadLetters, Deliveries, Me
from dispatch.deps import Dept, Filter, Svc, Who, errors
from dispatch.exports import cap_xml, feature_collection
from dispatch.schemas import NoteIn
from dispatch.service import TransitionRefused

router = APIRouter(responses=errors(401))
BINARY = {"type": "string", "format": "binary"}


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


class JPEGResponse(Response):
    media_type = "image/jpeg"


class CAPResponse(Response):
    media_type = "application/cap+xml"


def not_found(alert_id: str) -> HTTPException:
    """The same answer whether the alert does not exist or belongs to someone else."""
    return HTTPException(404, f"alert_id: no alert {alert_id!r} for this department")


@router.get("/v1/me", summary="Who this token is, with the jurisdiction as GeoJSON", response_model=Me)
def me(who: Who, svc: Svc) -> dict:
    dept = who.department
    return {"id": dept.id, "account": {"login": who.login, "name": who.name}, "name": dept.name,
            "name_en": dept.name_en, "kind": dept.kind,
            "kind_en": svc.settings.taxonomy.kind_en(dept.kind), "jurisdiction_name": dept.jurisdiction_name,
            "catch_all": dept.catch_all, "city": svc.settings.city_name,
            "jurisdiction": mapping(dept.jurisdiction) if dept.jurisdiction is not None else None}


@router.get("/v1/alerts", summary="This department's alerts, newest first", response_model=AlertList,
            responses=errors(422))
def list_alerts(dept: Dept, svc: Svc, f: Filter) -> dict:
    return {"alerts": svc.list_alerts(dept.id, f)}


@router.get("/v1/alerts.geojson", summary="This department's alerts as an RFC 7946 FeatureCollection",
            response_class=GeoJSONResponse, responses={200: {"model": AlertFeatureCollection}, **errors(422)})
def alerts_geojson(dept: Dept, svc: Svc, f: Filter) -> GeoJSONResponse:
    return GeoJSONResponse(feature_collection(svc.list_alerts(dept.id, f)))


@router.get("/v1/alerts/{alert_id}", summary="One alert with its status history", response_model=AlertDetail,
            responses=errors(404))
def get_alert(alert_id: str, dept: Dept, svc: Svc) -> dict:
    alert = svc.alert(dept.id, alert_id)
    if alert is None:
        raise not_found(alert_id)
    return alert


@router.get("/v1/alerts/{alert_id}/evidence.jpg", summary="The incident's best evidence photo",
            response_class=JPEGResponse, responses={200: {"content": {"image/jpeg": {"schema": BINARY}}},
                                                    **errors(404, why={404: "no such alert, or no photo came with it"})})
def evidence(alert_id: str, dept: Dept, svc: Svc) -> JPEGResponse:
    jpeg = svc.evidence(dept.id, alert_id)
    if jpeg is None and svc.alert(dept.id, alert_id) is None:
        raise not_found(alert_id)
    if jpeg is None:
        raise HTTPException(404, "evidence: no photo came with this incident's sightings")
    return JPEGResponse(jpeg)


@router.get("/v1/alerts/{alert_id}/cap.xml", summary="The alert as CAP 1.2 XML", response_class=CAPResponse,
            responses={200: {"content": {"application/cap+xml": {"schema": {
                "type": "string", "description": "an OASIS CAP 1.2 <alert> (urn:oasis:names:tc:emergency:cap:1.2)"}}}},
                **errors(404)})
def cap(alert_id: str, dept: Dept, svc: Svc) -> CAPResponse:
    alert = svc.alert(dept.id, alert_id)
    if alert is None:
        raise not_found(alert_id)
    return CAPResponse(cap_xml(alert, f"dispatch@{svc.settings.public_url.split('://')[-1]}", svc.settings.clock()))


@router.get("/v1/alerts/{alert_id}/deliveries", summary="Webhook delivery log: every attempt, code and time",
            response_model=Deliveries, responses=errors(404))
def deliveries(alert_id: str, dept: Dept, svc: Svc) -> dict:
    log = svc.deliveries(dept.id, alert_id)
    if log is None:
        raise not_found(alert_id)
    return {"deliveries": log}


@router.get("/v1/dead-letters", summary="This department's webhook messages that were given up on",
            response_model=DeadLetters)
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
    router.add_api_route(f"/v1/alerts/{{alert_id}}/{_action}", _transition(_action), methods=["POST"], summary=_summary,
                         response_model=AlertDetail, responses=errors(404, 409, 422))
