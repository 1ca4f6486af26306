"""create_app(settings): the dispatch FastAPI application (API, web pages, /metrics)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dispatch import api_admin, api_alerts, api_review, api_sightings
from dispatch.deps import problems_published
from dispatch.problems import request_invalid
from dispatch.schemas import sighting_model
from dispatch.service import DispatchService
from dispatch.settings import Settings
from dispatch.strict_query import known_query

WEB = Path(__file__).with_name("web")
SCRIPTS = {p.name: p for p in WEB.glob("*.js")}
# Scripts only from this server (no inline script, so injected markup cannot run); the evidence
# photo is a blob: URL; nothing may frame the pages.
CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' blob:; "
       "style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                "X-Frame-Options": "DENY"}


def page(name: str) -> HTMLResponse:
    return HTMLResponse((WEB / name).read_text(encoding="utf-8"), headers=PAGE_HEADERS)


def create_app(settings: Settings) -> FastAPI:
    """Open the store (migrating it), build router and worker; the worker runs while the app is served."""
    svc = DispatchService(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        svc.start()
        try:
            yield
        finally:
            svc.close()

    app = FastAPI(title="patrol dispatch — 巡查告警分派", version="1", lifespan=lifespan, dependencies=[Depends(known_query)],
                  description="Sightings in; typed, geotagged, signed alerts out to the department that owns them.")
    app.state.dispatch = svc
    app.add_exception_handler(RequestValidationError, request_invalid)
    model = sighting_model([t.code for t in settings.taxonomy.types])
    api_sightings.install(app, model, settings.max_batch)
    app.include_router(api_alerts.router)
    app.include_router(api_admin.router)
    app.include_router(api_review.router)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(defs.pop("$defs", {}))
            components["Sighting"] = defs
            app.openapi_schema = problems_published(schema)
        return app.openapi_schema

    app.openapi = openapi

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        for state, n in svc.outbox_counts().items():
            svc.metrics.outbox.labels(state).set(n)
        svc.metrics.outbox_lag.set(svc.outbox_lag_s())
        svc.metrics.ingest_queue.set(svc.ingestor.queue_depth)
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    @app.get("/inbox/{department_id}", response_class=HTMLResponse, include_in_schema=False)
    def inbox(department_id: str) -> HTMLResponse:
        """The page is the same for everyone; the token in the URL fragment decides what it shows."""
        return page("inbox.html")

    @app.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return page("dashboard.html")

    @app.get("/review", response_class=HTMLResponse, include_in_schema=False)
    def review() -> HTMLResponse:
        return page("review.html")

    @app.get("/web/{name}", include_in_schema=False)
    def script(name: str) -> Response:
        if name not in SCRIPTS:
            raise HTTPException(404, f"name: no script {name!r}")
        return Response(SCRIPTS[name].read_bytes(), media_type="text/javascript; charset=utf-8", headers=PAGE_HEADERS)

    return app
