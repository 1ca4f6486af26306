"""Shared typed dependencies of the API routes (FastAPI `Depends`): the service, who is asking, the
alert filter, and the error answers each route declares, so every router reads them the same way."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dispatch.accounts import Caller
from dispatch.contract import Problem, Status
from dispatch.departments import Department
from dispatch.schemas import EARLIEST, Text
from dispatch.service import AlertFilter, DispatchService

bearer = HTTPBearer(auto_error=False, description="a token from the credentials file: department, admin or ingest")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)
MAX_OFFSET = 1_000_000  # paging further is a probe, not a user; it would also overflow the store's integer
WHY = {400: "malformed JSON", 401: "no token, or one that may not do this (WWW-Authenticate: Bearer)",
       404: "no such item for this token (the same answer whether it does not exist or is someone else's)",
       409: "refused in the item's current state", 413: "body too large", 415: "not application/json",
       422: "a field is invalid; `detail` names it, `errors` lists each",
       503: "nothing stored (store unavailable); retry the same request"}


PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def errors(*codes: int, why: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error codes, each a JSON Problem body (also on routes that answer
    JPEG or XML when they succeed); `why` words one differently."""
    return {c: {"description": (why or {}).get(c, WHY[c]), "content": PROBLEM} for c in codes}


def problems_published(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the Problem body in its components, and FastAPI's own 422 body
    (which `problems.request_invalid` replaces) swapped for it on every operation."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            if "HTTPValidationError" in str(op.get("responses", {}).get("422", "")):
                op["responses"]["422"] = errors(422)[422]
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def service(request: Request) -> DispatchService:
    return request.app.state.dispatch


Svc = Annotated[DispatchService, Depends(service)]


def unauthorized(why: str) -> HTTPException:
    return HTTPException(401, f"authorization: {why}", headers={"WWW-Authenticate": "Bearer"})


def caller(svc: Svc, cred: Bearer) -> Caller:
    """The department account (person or shared login) this token belongs to."""
    who = svc.caller(cred.credentials) if cred else None
    if who is None:
        raise unauthorized("a valid department token is required (Authorization: Bearer …)")
    return who


Who = Annotated[Caller, Depends(caller)]


def department(who: Who) -> Department:
    return who.department


def admin(svc: Svc, cred: Bearer) -> None:
    if cred is None or not svc.is_admin(cred.credentials):
        raise unauthorized("the city admin token is required")


Dept = Annotated[Department, Depends(department)]
Admin = Depends(admin)


def alert_filter(status: Status | None = None, type: Text | None = None,
                 since: Annotated[datetime | None, Query(
                     description="only alerts created at or after this time: ISO-8601 with a zone, e.g. 2026-07-01T00:00:00Z")] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> AlertFilter:
    if since is not None and since.utcoffset() is None:
        raise HTTPException(422, f"since: {since.isoformat()!r} has no time zone; add 'Z' for UTC or '+08:00' for Beijing time")
    if since is not None and not EARLIEST <= since <= LATEST:  # also keeps astimezone() from overflowing at year 1 or 9999
        raise HTTPException(422, f"since: {since.isoformat()!r} is outside {EARLIEST.year}..{LATEST.year}")
    return AlertFilter(status, type, since, limit, offset)


Filter = Annotated[AlertFilter, Depends(alert_filter)]
