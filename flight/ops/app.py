"""The ops HTTP API (FastAPI) on a running OpsService: drones, tasks, intake, the patrol cycle.

Every route is `async` so it runs on the service's own event loop (never in a worker thread
beside it) and only reads or queues: dispatching happens in the scheduling pass, not in a request.
"""

from __future__ import annotations

import enum
import math
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from flight.ops.errors import TaskRejected
from flight.ops.fleetview import DroneView
from flight.ops.intake import AlarmIn, cap_sweep, open311_request, parse_cap
from flight.ops.service import OpsService
from flight.ops.tasks import Status, Task, TaskIn, TaskList

MAX_BODY = 256 * 1024


class DroneAction(str, enum.Enum):
    PAUSE = "pause"
    RESUME = "resume"
    RETURN = "return"


class DroneList(BaseModel):
    time_utc: datetime
    drones: list[DroneView]


class PatrolOut(BaseModel):
    task: str | None
    status: str | None = None
    sorties: int = 0
    flown: int = 0
    stopped_short: int = 0
    open: int = 0
    photos: int = 0
    replans: int = 0
    note: str = ""


class Open311Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: str = "realtime"
    keywords: str = ""
    group: str = ""


class Open311Created(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None = None


class Open311Error(BaseModel):
    code: int
    description: str


class Problem(BaseModel):
    detail: Any


def _printable(value):
    """JSON-safe copy of a validation error: non-finite floats and foreign objects as text."""
    if isinstance(value, dict):
        return {str(k): _printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def make_app(service: OpsService, services: list[Open311Service] | None = None) -> FastAPI:
    """`services`: the Open311 service list (taxonomy codes with their names)."""
    app = FastAPI(title="patrol ops — 无人机调度 fleet service", version="1",
                  description="Drones, tasks (immediate, timed, conditional, sweep) and intake "
                              "(Open311 GeoReport v2, alarm webhook, CAP 1.2). Times are UTC; the city runs on "
                              "Asia/Shanghai.")
    catalogue = services or []

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's own 422, but able to echo a NaN or an infinity back (its default handler crashes)."""
        return JSONResponse({"detail": _printable(exc.errors())}, status_code=422)

    @app.exception_handler(TaskRejected)
    async def rejected(_request: Request, exc: TaskRejected) -> JSONResponse:
        return JSONResponse({"detail": exc.detail()}, status_code=exc.status)

    def task_or_404(task_id: str) -> Task:
        task = service.tasks.get(task_id)
        if task is None:
            raise HTTPException(404, f"task {task_id!r} not found")
        return task

    def drone_or_404(drone_id: str) -> DroneView:
        for view in service.drones():
            if view.id == drone_id:
                return view
        raise HTTPException(404, f"drone {drone_id!r} not found")

    @app.get("/v1/drones", response_model=DroneList, summary="Every drone's state 无人机状态")
    async def drones() -> DroneList:
        return DroneList(time_utc=service.clock.utc(), drones=service.drones())

    @app.post("/v1/drones/{drone_id}/{action}", response_model=DroneView,
              responses={404: {"model": Problem}, 409: {"model": Problem}},
              summary="pause: take no new sortie 暂停 · resume 恢复 · return: back to the dock now 返航")
    async def drone_action(drone_id: str, action: DroneAction) -> DroneView:
        drone_or_404(drone_id)
        if action == DroneAction.PAUSE:
            service.pause(drone_id)
        elif action == DroneAction.RESUME:
            service.resume(drone_id)
        elif not service.return_home(drone_id):
            raise HTTPException(409, f"drone {drone_id!r} is not flying a sortie")
        return drone_or_404(drone_id)

    @app.get("/v1/tasks", response_model=TaskList, summary="Tasks, newest last 任务列表")
    async def tasks(status: Status | None = None) -> TaskList:
        return TaskList(tasks=[t for t in service.tasks.values() if status is None or t.status == status])

    @app.post("/v1/tasks", response_model=Task, status_code=201, responses={422: {"model": Problem}},
              summary="Add a task 新建任务")
    async def add_task(req: TaskIn) -> Task:
        return service.add(req)

    @app.get("/v1/tasks/{task_id}", response_model=Task, responses={404: {"model": Problem}})
    async def get_task(task_id: str) -> Task:
        return task_or_404(task_id)

    @app.delete("/v1/tasks/{task_id}", response_model=Task, responses={404: {"model": Problem}, 409: {"model": Problem}},
                summary="Cancel a task 取消任务")
    async def cancel_task(task_id: str) -> Task:
        task_or_404(task_id)
        return service.cancel(task_id)

    @app.get("/v1/patrol", response_model=PatrolOut, summary="The patrol cycle's progress 巡查进度")
    async def patrol() -> PatrolOut:
        return PatrolOut(**service.patrol_progress())

    @app.post("/v1/alarms", response_model=Task, status_code=201, responses={422: {"model": Problem}},
              summary="Alarm webhook 告警接入")
    async def alarm(body: AlarmIn) -> Task:
        return service.add(body.task(service.settings.type_codes))

    @app.post("/v1/cap", response_model=Task, status_code=201, responses={422: {"model": Problem}},
              openapi_extra={"requestBody": {"required": True, "content": {"application/cap+xml": {
                  "schema": {"type": "string"}}, "application/xml": {"schema": {"type": "string"}}}}},
              summary="CAP 1.2 alert: a rain alert starts an emergency sweep 预警接入")
    async def cap(request: Request) -> Task:
        body = await request.body()
        if len(body) > MAX_BODY:
            raise TaskRejected("body", f"{len(body)} bytes", f"larger than {MAX_BODY} bytes", status=413)
        return service.add(cap_sweep(parse_cap(body)))

    @app.get("/services.json", response_model=list[Open311Service], summary="Open311 GeoReport v2 service list")
    async def open311_services() -> list[Open311Service]:
        return catalogue

    @app.post("/requests.json", response_model=list[Open311Created], status_code=201,
              responses={400: {"model": list[Open311Error]}},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["service_code", "lat", "long"],
                                                                   "properties": {"service_code": {"type": "string"},
                                                                                  "lat": {"type": "number"},
                                                                                  "long": {"type": "number"},
                                                                                  "description": {"type": "string"}}}}}}},
              summary="Open311 GeoReport v2 service request (a complaint): an immediate task 投诉")
    async def open311_create(request: Request):
        body = await request.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return JSONResponse([{"code": 400, "description": "body: not UTF-8 form data"}], status_code=400)
        form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
        try:
            task = service.add(open311_request(form, service.settings.type_codes))
        except TaskRejected as exc:
            return JSONResponse([{"code": 400, "description": str(exc)}], status_code=400)
        return [Open311Created(service_request_id=task.id,
                               service_notice=f"已派无人机核查 queued for a drone check ({task.status.value})")]

    return app
