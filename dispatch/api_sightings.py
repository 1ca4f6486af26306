"""POST /v1/sightings: one Sighting object or an array of them; 2xx only after the commit."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from dispatch.contract import SightingResult, SightingResults
from dispatch.deps import bearer, errors
from dispatch.ingest import KeyConflict, StoreUnavailable
from dispatch.problems import invalid, problem
from dispatch.service import DispatchService


async def _read_body(request: Request, limit: int) -> bytes | JSONResponse:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return problem(413, f"body: {declared} bytes is over the limit of {limit} bytes; send smaller batches")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return problem(413, f"body: over the limit of {limit} bytes; send smaller batches")
    return bytes(body)


def sightings_openapi(batch_limit: int) -> dict[str, Any]:
    schema = {"oneOf": [{"$ref": "#/components/schemas/Sighting"},
                        {"type": "array", "minItems": 1, "maxItems": batch_limit,
                         "items": {"$ref": "#/components/schemas/Sighting"}}]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def post_sightings(request: Request) -> JSONResponse:
    response = await _post_sightings(request)
    if response.status_code >= 400:
        request.app.state.dispatch.metrics.sightings.labels("rejected").inc()
    return response


async def _post_sightings(request: Request) -> JSONResponse:
    svc: DispatchService = request.app.state.dispatch
    cfg = svc.settings
    cred = await bearer(request)  # checked before the body is read: an unknown sender's bytes are not buffered
    token = cred.credentials if cred else None
    if token is None or not svc.may_ingest(token):
        why = "a Bearer ingest token is required" if token is None else "this token may not post sightings"
        return JSONResponse({"detail": f"authorization: {why} (the ingest token from the credentials file)"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
    ctype = request.headers.get("content-type", "")
    if not ctype.split(";")[0].strip().lower() == "application/json":
        return problem(415, f"content-type: expected application/json, got {ctype!r}")
    body = await _read_body(request, cfg.max_body_bytes)
    if isinstance(body, JSONResponse):
        return body
    try:
        data = json.loads(body)
    except RecursionError:
        return problem(400, "body: JSON nested too deeply; a Sighting is at most a few levels deep")
    except ValueError as exc:  # malformed JSON, bad UTF-8, or an integer of thousands of digits
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        return problem(400, f"body: malformed JSON{where}: {getattr(exc, 'msg', exc)}")
    batch = isinstance(data, list)
    if not batch and not isinstance(data, dict):
        return problem(422, f"body: expected a Sighting object or an array of them, got {type(data).__name__}")
    if batch and not 1 <= len(data) <= cfg.max_batch:
        return problem(422 if not data else 413, f"body: a batch holds 1 to {cfg.max_batch} sightings, got {len(data)}")
    now = cfg.clock()
    ctx = {"now": now, "skew_s": cfg.future_skew_s, "max_evidence_bytes": cfg.max_evidence_bytes}
    try:
        items = request.app.state.sightings_adapter.validate_python(data if batch else [data], context=ctx)
    except ValidationError as exc:
        return invalid(exc.errors(include_url=False), skip=0 if batch else 1)
    far = [(n, i) for n, i in enumerate(items) if not svc.extent.contains(i.lon, i.lat)]
    if far:
        n, item = far[0]
        field = f"[{n}].lon" if batch else "lon"
        return problem(422, f"{field}: position [{item.lon}, {item.lat}] is outside {svc.extent}; "
                            "check the lon/lat order and the drone's position fix")
    try:
        results = await run_in_threadpool(svc.ingestor.ingest, items, now)
    except KeyConflict as exc:
        field = f"[{exc.index}].key" if batch else "key"
        return problem(409, f"{field}: {exc}")
    except StoreUnavailable as exc:
        return problem(503, f"{exc}; nothing was stored, retry the same request")
    out = [r.__dict__ for r in results]
    status = 201 if any(r.status == "created" for r in results) else 200
    return JSONResponse({"results": out} if batch else out[0], status_code=status)


def install(app: FastAPI, model: type, max_batch: int) -> None:
    """Add POST /v1/sightings for this taxonomy's Sighting model, with the request schema published."""
    app.state.sightings_adapter = TypeAdapter(list[model])
    app.add_api_route(
        "/v1/sightings", post_sightings, methods=["POST"], status_code=201, openapi_extra=sightings_openapi(max_batch),
        summary="Report sightings (one object or an array)", response_model=SightingResult | SightingResults,
        responses={200: {"model": SightingResult | SightingResults,
                         "description": "all duplicates of earlier posts; nothing new stored"},
                   201: {"description": "stored and committed: one result per sighting, in the order sent"},
                   **errors(400, 401, 409, 413, 415, 422, 503,
                            why={401: "no ingest token, or one that may not post",
                                 409: "key reused for a different sighting"})})
