"""City-level API (admin token): dashboard figures, dead letters of every department, redelivery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials
from shapely.geometry import mapping

from dispatch.api_alerts import Svc, bearer, service

router = APIRouter(prefix="/v1/admin")


def admin(request: Request, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    if cred is None or not service(request).is_admin(cred.credentials):
        raise HTTPException(401, "authorization: the city admin token is required", headers={"WWW-Authenticate": "Bearer"})


Admin = Depends(admin)


@router.get("/stats", dependencies=[Admin], summary="Dashboard (驾驶舱) figures")
def stats(svc: Svc) -> dict:
    return svc.stats()


@router.get("/jurisdictions", dependencies=[Admin], summary="Every department's jurisdiction as GeoJSON")
def jurisdictions(svc: Svc) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": d.id, "geometry": mapping(d.jurisdiction),
         "properties": {"name": d.name, "name_en": d.name_en, "kind": d.kind, "area": d.jurisdiction_name}}
        for d in svc.departments.values() if d.jurisdiction is not None]}


@router.get("/dead-letters", dependencies=[Admin], summary="Webhook messages given up on, all departments")
def dead_letters(svc: Svc) -> dict:
    return {"dead_letters": svc.dead_letters(None)}


@router.post("/deliveries/{webhook_id}/redeliver", dependencies=[Admin], summary="Send a dead letter again")
def redeliver(webhook_id: str, svc: Svc) -> dict:
    if not svc.redeliver(webhook_id):
        raise HTTPException(404, f"webhook_id: no dead-lettered message {webhook_id!r}")
    return {"webhook_id": webhook_id, "state": "pending"}


@router.get("/endpoints", dependencies=[Admin], summary="Webhook endpoints switched off after 410 Gone")
def disabled_endpoints(svc: Svc) -> dict:
    return {"disabled": svc.disabled_endpoints()}


@router.post("/departments/{department_id}/webhook/enable", dependencies=[Admin],
             summary="Switch a department's webhook back on; its dead letters are sent again")
def enable_webhook(department_id: str, svc: Svc) -> dict:
    if department_id not in svc.departments:
        raise HTTPException(404, f"department_id: no department {department_id!r}")
    return {"department_id": department_id, "requeued": svc.enable_endpoint(department_id)}
