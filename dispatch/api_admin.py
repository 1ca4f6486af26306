"""City-level API (admin token): dashboard figures, dead letters of every department, redelivery."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from shapely.geometry import mapping

from dispatch.accounts import LoginTaken
from dispatch.contract import (Account, AccountList, DeadLetters, DisabledEndpoints, FeatureCollection, NewAccount,
                               NewWebhookSecret, Reenabled, Requeued, Stats)
from dispatch.deps import Admin, Svc, errors
from dispatch.schemas import AccountIn, RotateIn

router = APIRouter(prefix="/v1/admin", dependencies=[Admin], responses=errors(401))


@router.get("/stats", summary="Dashboard (驾驶舱) figures", response_model=Stats)
def stats(svc: Svc) -> dict:
    return svc.stats()


@router.get("/jurisdictions", summary="Every department's jurisdiction as GeoJSON (properties: name, name_en, kind, area)",
            response_model=FeatureCollection)
def jurisdictions(svc: Svc) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": d.id, "geometry": mapping(d.jurisdiction),
         "properties": {"name": d.name, "name_en": d.name_en, "kind": d.kind, "area": d.jurisdiction_name}}
        for d in svc.departments.values() if d.jurisdiction is not None]}


@router.get("/dead-letters", summary="Webhook messages given up on, all departments", response_model=DeadLetters)
def dead_letters(svc: Svc) -> dict:
    return {"dead_letters": svc.dead_letters(None)}


@router.post("/deliveries/{webhook_id}/redeliver", summary="Send a dead letter again", response_model=Requeued,
             responses=errors(404))
def redeliver(webhook_id: str, svc: Svc) -> dict:
    if not svc.redeliver(webhook_id):
        raise HTTPException(404, f"webhook_id: no dead-lettered message {webhook_id!r}")
    return {"webhook_id": webhook_id, "state": "pending"}


@router.get("/endpoints", summary="Webhook endpoints switched off after 410 Gone", response_model=DisabledEndpoints)
def disabled_endpoints(svc: Svc) -> dict:
    return {"disabled": svc.disabled_endpoints()}


@router.post("/departments/{department_id}/webhook/enable", response_model=Reenabled, responses=errors(404),
             summary="Switch a department's webhook back on; its dead letters are sent again")
def enable_webhook(department_id: str, svc: Svc) -> dict:
    if department_id not in svc.departments:
        raise HTTPException(404, f"department_id: no department {department_id!r}")
    return {"department_id": department_id, "requeued": svc.enable_endpoint(department_id)}


def known(department_id: str, svc: Svc) -> str:
    if department_id not in svc.departments:
        raise HTTPException(404, f"department_id: no department {department_id!r}")
    return department_id


Known = Annotated[str, Depends(known)]


@router.post("/departments/{department_id}/accounts", status_code=201, response_model=NewAccount,
             responses=errors(404, 409, 422, why={409: "the department already has an account with this login"}),
             summary="Give a person their own token for a department (shown once; only its digest is kept)")
def create_account(department_id: Known, body: AccountIn, svc: Svc) -> dict:
    try:
        account, token = svc.accounts.create(department_id, body.login, body.name)
    except LoginTaken as exc:
        raise HTTPException(409, str(exc)) from None
    return {**account, "token": token}


@router.get("/departments/{department_id}/accounts", summary="A department's accounts (no tokens)",
            response_model=AccountList, responses=errors(404))
def list_accounts(department_id: Known, svc: Svc) -> dict:
    return {"accounts": svc.accounts.list(department_id)}


@router.post("/departments/{department_id}/accounts/{login}/revoke", summary="Stop an account's token from working",
             response_model=Account, responses=errors(404))
def revoke_account(department_id: Known, login: str, svc: Svc) -> dict:
    account = svc.accounts.revoke(department_id, login)
    if account is None:
        raise HTTPException(404, f"login: {department_id!r} has no account {login!r}")
    return account


@router.post("/departments/{department_id}/webhook/rotate", response_model=NewWebhookSecret, responses=errors(404, 422),
             summary="New webhook secret (shown once); the old ones go on signing too for grace_hours")
def rotate_webhook_secret(department_id: Known, svc: Svc, body: RotateIn | None = None) -> dict:
    grace = timedelta(hours=(body or RotateIn()).grace_hours)
    return svc.webhook_secrets.rotate(department_id, grace).as_json()
