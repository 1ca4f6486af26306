"""The standing fleet service: a task queue over one controller that never stops serving.

Every few clock seconds it lifts and sets weather holds, releases timed and conditional tasks
whose moment has come, and dispatches queued tasks in rank order (immediate and sweeps, then
timed and conditional, then the patrol cycle), each with the reasons for its drone. Task state
lives in the TaskStore; the controller only ever sees sorties, tagged back to their task here.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable

from shapely.geometry import Point, mapping
from shapely.ops import unary_union

from detector.capture import Capture
from flight.fleet.controller import FleetController
from flight.fleet.sortie import SortieRun, SortieState
from flight.mavlink.clock import Clock
from flight.mission import Sortie
from flight.ops.cron import CITY_TZ, Cron, CronError
from flight.ops.dispatching import Job, Unit, choose
from flight.ops.errors import TaskRejected
from flight.ops.fleetview import DroneStatus, DroneView, drone_views
from flight.ops.missions import area_sorties
from flight.ops.store import TaskStore
from flight.ops.sweep import FloodPoint, Flyer, SweepPlan, plan_sweep
from flight.ops.tasks import RANK, Kind, Source, Status, Task, TaskIn
from flight.ops.weather import FairWeather, Limits, WeatherSource
from flight.ops.world import World
from flight.planner import Plan

RETRIES = 3  # an aborted sortie (upload or launch failed) is queued again this often before its task gives up


@dataclass
class OpsSettings:
    tick_s: float = 2.0  # clock seconds between scheduling passes
    limits: dict[str, Limits] = field(default_factory=dict)  # drone id → weather limits (default Limits())
    type_codes: frozenset[str] = frozenset()  # taxonomy codes a task may name (empty: any)


class OpsService:
    def __init__(self, world: World, controller: FleetController, store: TaskStore, clock: Clock,
                 settings: OpsSettings | None = None, weather: WeatherSource | None = None,
                 flood_points: tuple[FloodPoint, ...] = (), on_capture: Callable[[Capture], object] | None = None,
                 plan: Plan | None = None) -> None:
        self.world, self.controller, self.store, self.clock = world, controller, store, clock
        self.settings = settings or OpsSettings()
        self.weather = weather or FairWeather()
        self.flood_points = flood_points
        self.on_capture = on_capture
        self.plan = plan
        self.dock_of = {d.id: dock.id for dock in world.docks for d in dock.drones}
        self.paused: dict[str, str] = {}
        self.weather_hold: dict[str, str] = {}
        self.tasks: dict[str, Task] = {}
        self.sweeps: dict[str, SweepPlan] = {}
        self._sortie_task: dict[str, str] = {}
        self._open: dict[str, set[str]] = {}  # task → its sorties not yet flown to the end
        self._replans_seen = 0
        self._preempting: set[str] = set()
        self._retries: dict[str, int] = {}  # sortie → times re-queued after an aborted start
        self._stopping = asyncio.Event()
        self._changed = asyncio.Event()
        self._background: set[asyncio.Task] = set()
        controller.on_run_end.append(self._run_ended)
        controller.on_capture = self._captured
        self._restore()

    # ---- lifecycle -------------------------------------------------------------------------
    def _restore(self) -> None:
        """Tasks from the store: unfinished dispatched ones are queued again (their sorties died
        with the last process), waiting ones keep waiting."""
        for task in self.store.load():
            self.tasks[task.id] = task
            if task.status == Status.DISPATCHED:
                if task.kind == Kind.PATROL:
                    task.to(Status.CANCELLED, self._now(), "service restarted; a new patrol cycle starts")
                else:
                    task.sorties, task.photos = [], 0
                    task.to(Status.QUEUED, self._now(), "service restarted; dispatching again")
                self.store.save(task)

    async def run(self) -> None:
        """Serve until `stop()`: the controller's workers and the scheduling loop."""
        serving = asyncio.get_running_loop().create_task(self.controller.serve())
        if self.plan is not None:
            self.start_patrol(self.plan)
        try:
            while not self._stopping.is_set():
                await self.tick()
                try:
                    await self.clock.wait_for(self._changed.wait(), self.settings.tick_s)
                except asyncio.TimeoutError:
                    pass
                self._changed.clear()
        finally:
            for drone in self.controller.drone_list:
                self.controller.hold(drone.id, "service stopping")
            self.controller.stop_serving()
            await serving

    def stop(self) -> None:
        self._stopping.set()
        self._changed.set()

    def _now(self) -> datetime:
        return self.clock.utc()

    def _save(self, task: Task) -> None:
        self.store.save(task)
        self._changed.set()

    # ---- tasks in --------------------------------------------------------------------------
    def add(self, req: TaskIn) -> Task:
        """Check and queue a task; TaskRejected names the field that makes it impossible."""
        now = self._now()
        codes = self.settings.type_codes
        if req.type_code is not None and codes and req.type_code not in codes:
            raise TaskRejected("type_code", req.type_code, f"unknown type code; known: {', '.join(sorted(codes))}")
        number = self.store.next_number()
        task_id = f"T{number:05d}"
        if req.kind != Kind.SWEEP:
            self.world.task_zone(task_id, req.geometry)  # keep-in, keep-out, reach: reject now, not at launch
        due = None
        if req.kind == Kind.TIMED:
            if req.cron is not None:
                try:
                    due = Cron.parse(req.cron).next_after(req.at or now)
                except CronError as exc:
                    raise TaskRejected("cron", req.cron, str(exc)) from None
            else:
                if req.at <= now:
                    raise TaskRejected("at", req.at.isoformat(), f"in the past (now {now.astimezone(CITY_TZ):%Y-%m-%d %H:%M} "
                                                                 "Asia/Shanghai)")
                due = req.at
        task = Task(**req.model_dump(), id=task_id, created=now, due=due)
        waiting = req.kind in (Kind.TIMED, Kind.CONDITIONAL)
        task.to(Status.WAITING if waiting else Status.QUEUED, now, f"from {req.source.value}"
                + (f", first start {due.astimezone(CITY_TZ):%Y-%m-%d %H:%M} Asia/Shanghai" if due else ""))
        self.tasks[task_id] = task
        self._save(task)
        return task

    def cancel(self, task_id: str) -> Task:
        task = self.tasks[task_id]
        if task.status.final:
            raise TaskRejected("task", task_id, f"already {task.status.value}", status=409)
        for sortie_id in list(self._open.get(task_id, ())):
            if not self.controller.withdraw(sortie_id):
                for drone_id, run in list(self.controller.active.items()):
                    if run.sortie.id == sortie_id:
                        self.controller.return_home(drone_id, f"task {task_id} cancelled")
        self._open.pop(task_id, None)
        task.to(Status.CANCELLED, self._now(), "cancelled by the operator")
        self._save(task)
        return task

    def start_patrol(self, plan: Plan) -> Task:
        """The patrol cycle as one task: the plan's sorties, in the plan's priority order. Its `due`
        is when the next cycle starts: the shortest revisit period among the plan's zones."""
        hull = plan_hull(plan, self.world)
        cycle = 1 + sum(1 for t in self.tasks.values() if t.kind == Kind.PATROL)
        req = TaskIn(kind=Kind.PATROL, where=hull, source=Source.PATROL, priority=5, note=f"{plan.name}, cycle {cycle}")
        now = self._now()
        period_h = min((z.revisit_period_h for z in plan.zones), default=24.0)
        task = Task(**req.model_dump(), id=f"P{self.store.next_number():05d}", created=now,
                    due=now + timedelta(hours=period_h))
        sorties = list(plan.sorties) if cycle == 1 else [replace(s, id=f"{s.id}@{cycle}") for s in plan.sorties]
        self._track(task, sorties)
        task.to(Status.DISPATCHED, now, f"patrol cycle: {len(sorties)} sorties")
        self.tasks[task.id] = task
        self._save(task)
        self.controller.submit(sorties)
        return task

    # ---- drones ----------------------------------------------------------------------------
    def drones(self) -> list[DroneView]:
        return drone_views(self.controller, self.dock_of, self.paused, self.weather_hold)

    def pause(self, drone_id: str, why: str = "paused by the operator") -> None:
        self.paused[drone_id] = why
        self._apply_hold(drone_id)

    def resume(self, drone_id: str) -> None:
        self.paused.pop(drone_id, None)
        self._apply_hold(drone_id)

    def return_home(self, drone_id: str) -> bool:
        return self.controller.return_home(drone_id, "return ordered by the operator")

    def _apply_hold(self, drone_id: str) -> None:
        why = self.paused.get(drone_id) or self.weather_hold.get(drone_id)
        if why:
            self.controller.hold(drone_id, why)
        else:
            self.controller.release(drone_id)
        self._changed.set()

    # ---- the scheduling pass ---------------------------------------------------------------
    async def tick(self) -> None:
        now = self._now()
        self._weather()
        self._follow_replans()
        patrols = [t for t in self.tasks.values() if t.kind == Kind.PATROL]
        if self.plan is not None and patrols and patrols[-1].status.final and (patrols[-1].due or now) <= now:
            self.start_patrol(self.plan)  # the revisit period has come round: fly the cycle again
        for task in list(self.tasks.values()):
            if task.status == Status.WAITING and task.kind == Kind.TIMED and task.due is not None and task.due <= now:
                self._release_timed(task, now)
        order = sorted((t for t in self.tasks.values() if t.status == Status.QUEUED
                        or (t.status == Status.WAITING and t.kind == Kind.CONDITIONAL)),
                       key=lambda t: (RANK[t.kind], t.priority, t.created))
        for task in order:
            if task.kind == Kind.CONDITIONAL and not self._window_open(task, now):
                self._note(task, "waiting for its time window")
                continue
            try:
                await self._dispatch(task)
            except TaskRejected as exc:
                task.to(Status.FAILED, self._now(), str(exc))
                self._save(task)

    def _weather(self) -> None:
        now_s = self.clock.now()
        for drone in self.controller.drone_list:
            dock = self.dock_of[drone.id]
            why = self.settings.limits.get(drone.id, Limits()).hold_reason(self.weather.at(dock, now_s))
            was = self.weather_hold.get(drone.id)
            if why and not was:
                self.weather_hold[drone.id] = f"weather hold at {dock}: {why}"
            elif not why and was:
                del self.weather_hold[drone.id]
            if bool(why) != bool(was):
                self._apply_hold(drone.id)

    def _release_timed(self, task: Task, now: datetime) -> None:
        """A due timed task: a one-off is queued; a recurring one queues a run and waits for its next."""
        if task.cron is None:
            task.to(Status.QUEUED, now, "its time has come")
            self._save(task)
            return
        run_req = TaskIn(**{**task.model_dump(include=set(TaskIn.model_fields)), "cron": None, "at": None,
                            "kind": Kind.IMMEDIATE, "ref": task.id})
        child = Task(**run_req.model_dump(), id=f"{task.id}.{len(task.history)}", created=now)
        child.to(Status.QUEUED, now, f"run of recurring task {task.id} due {task.due.astimezone(CITY_TZ):%H:%M}")
        self.tasks[child.id] = child
        self._save(child)
        task.due = Cron.parse(task.cron).next_after(now)
        task.to(Status.WAITING, now, f"next start {task.due.astimezone(CITY_TZ):%Y-%m-%d %H:%M} Asia/Shanghai")
        self._save(task)

    def _window_open(self, task: Task, now: datetime) -> bool:
        window = task.conditions.window
        if window is None:
            return True
        local = now.astimezone(CITY_TZ).strftime("%H:%M")
        a, b = window
        return a <= local < b if a <= b else (local >= a or local < b)

    def _note(self, task: Task, note: str, why: dict | None = None) -> None:
        """Record why a task still waits, once per change of reason."""
        if task.history and task.history[-1].note == note:
            return
        task.to(task.status, self._now(), note, why)
        self._save(task)

    # ---- dispatching -----------------------------------------------------------------------
    def _units(self, altitude_m: float, rank: int, fair_weather: bool) -> list[Unit]:
        units = []
        queued_for = {s.drone_id for s in self.controller.pending if s.drone_id is not None}
        for view in self.drones():
            if view.id in queued_for or view.id in self._preempting:
                view = DroneView(**{**view.__dict__, "status": DroneStatus.PAUSED, "reason": "has a sortie queued"})
            elif view.status == DroneStatus.FLYING:
                task = self.tasks.get(self._sortie_task.get(view.sortie or "", ""))
                if task is not None and RANK[task.kind] <= rank:
                    view = DroneView(**{**view.__dict__, "status": DroneStatus.PAUSED,
                                        "reason": f"flying {task.kind.value} task {task.id}, not preempted for it"})
            if fair_weather and view.id in self.weather_hold:
                continue
            drone = self.controller.hub.drones[view.id].drone
            xy = self.world.xy(view.lon, view.lat) if view.lon is not None else None
            units.append(Unit(view, drone.spec, self.world.flight(view.dock_id, altitude_m), xy,
                              self._strip_left(view.id, xy), self.world.dock(view.dock_id).charge_time_min * 60.0))
        return units

    def _strip_left(self, drone_id: str, xy) -> float:
        run = self.controller.active.get(drone_id)
        if run is None or xy is None:
            return 0.0
        for lane in run.sortie.lanes:
            if lane.start_item <= run.last_item < lane.end_item:
                ex, ey = self.world.xy(*lane.end)
                return ((ex - xy[0]) ** 2 + (ey - xy[1]) ** 2) ** 0.5
        return 0.0

    async def _dispatch(self, task: Task) -> None:
        if task.kind == Kind.SWEEP:
            return await self._dispatch_sweep(task)
        zone = self.world.task_zone(task.id, task.geometry)
        c = self.world.frame.to_metric(zone.area).centroid
        nearest = min((d for d in self.world.docks if d.drones),
                      key=lambda d: (self.world.xy(d.lon, d.lat)[0] - c.x) ** 2 + (self.world.xy(d.lon, d.lat)[1] - c.y) ** 2)
        probe = await asyncio.to_thread(area_sorties, task.id, zone, nearest, self.world.no_fly)
        work_s = sum(s.sweep_s for s in probe)
        job = Job((c.x, c.y), (c.x, c.y), work_s, task.conditions.min_battery_pct)
        choice = choose(job, self._units(zone.altitude_agl_m, RANK[task.kind], task.conditions.fair_weather),
                        self.controller.settings)
        if choice.drone_id is None:
            self._note(task, "no drone can fly it yet", choice.why)
            return
        dock = self.world.dock(self.dock_of[choice.drone_id])
        sorties = probe if dock.id == nearest.id else await asyncio.to_thread(
            area_sorties, task.id, zone, dock, self.world.no_fly)
        if task.status.final:  # cancelled while planning
            return
        first, rest = sorties[0], sorties[1:]
        if choice.airborne:
            try:
                self.controller.preempt(choice.drone_id, first, f"{task.kind.value} task {task.id}")
            except ValueError as exc:  # it landed or turned home while the mission was planned
                self._note(task, f"choosing again: {exc}")
                return
            self._preempting.add(choice.drone_id)
        else:
            first.drone_id = choice.drone_id
            self.controller.submit([first], first=True)
        if rest:
            self.controller.submit(rest, first=True)
        self._track(task, sorties)
        task.to(Status.DISPATCHED, self._now(), choice.why["summary"], choice.why)
        self._save(task)

    async def _dispatch_sweep(self, task: Task) -> None:
        area_m = self.world.frame.to_metric(task.geometry)
        points = [p for p in self.flood_points if area_m.contains(Point(self.world.xy(p.lon, p.lat)))]
        if not points:
            task.to(Status.DONE, self._now(), "no flood-prone point inside the alert area")
            self._save(task)
            return
        altitude_m = self.world.settings_zone(area_m).altitude_agl_m
        flyers = self._flyers(altitude_m)
        if not flyers:
            self._note(task, "no drone available for the sweep yet")
            return
        plan = await asyncio.to_thread(plan_sweep, task.id, points, flyers, self.world, self.controller.settings,
                                       altitude_m)
        if task.status.final:  # cancelled while planning
            return
        self.sweeps[task.id] = plan
        self._track(task, [r.sortie for r in plan.routes])
        later = []
        for route in plan.routes:
            if route.airborne:
                try:
                    self.controller.preempt(route.drone_id, route.sortie, f"emergency sweep {task.id}")
                    self._preempting.add(route.drone_id)
                    continue
                except ValueError:  # it left its sortie while the sweep was planned: fly it from the dock
                    pass
            route.sortie.drone_id = route.drone_id
            later.append(route.sortie)
        self.controller.submit(later, first=True)
        why = plan.why()
        task.to(Status.DISPATCHED, self._now(), why["summary"], why)
        self._save(task)

    def _flyers(self, altitude_m: float) -> list[Flyer]:
        out = []
        for unit in self._units(altitude_m, RANK[Kind.SWEEP], True):
            v = unit.view
            if v.status in (DroneStatus.DOCKED, DroneStatus.CHARGING, DroneStatus.FLYING) and v.battery_pct is not None:
                out.append(Flyer(v.id, v.dock_id, unit.spec, v.status == DroneStatus.FLYING,
                                 unit.xy, float(v.battery_pct), unit.strip_left_m, unit.charge_s))
        return out

    # ---- following sorties -----------------------------------------------------------------
    def _track(self, task: Task, sorties: list[Sortie]) -> None:
        for s in sorties:
            self._sortie_task[s.id] = task.id
            task.sorties.append(s.id)
        self._open.setdefault(task.id, set()).update(s.id for s in sorties)

    def _follow_replans(self) -> None:
        """Strips handed back by an interrupted sortie stay with its task under their new ids (once
        the re-plan, which runs in its own task, has come back)."""
        for r in self.controller.replans[self._replans_seen:]:
            if r.done_s is None:
                break
            self._replans_seen += 1
            task_id = self._sortie_task.get(r.from_sortie)
            if task_id is None:
                continue
            task = self.tasks[task_id]
            if task.status == Status.CANCELLED:
                for new in r.new_sorties:
                    self.controller.withdraw(new)
                continue
            for new in r.new_sorties:
                self._sortie_task[new] = task_id
                task.sorties.append(new)
                self._open.setdefault(task_id, set()).add(new)
            if r.from_sortie not in {run.sortie.id for run in self.controller.active.values()}:
                self._open.setdefault(task_id, set()).discard(r.from_sortie)  # held open until now (_run_ended)
                if not self._open[task_id] and not task.status.final:
                    task.to(Status.DONE, self._now(), f"{task.photos} photos")
                    del self._open[task_id]
                    self._save(task)

    def _run_ended(self, run: SortieRun) -> None:
        self._follow_replans()
        self._preempting.discard(run.drone_id)
        task_id = self._sortie_task.get(run.sortie.id)
        if task_id is None or task_id not in self._open:
            return
        task = self.tasks[task_id]
        still_queued = any(s.id == run.sortie.id for s in self.controller.pending)
        if run.state == SortieState.ABORTED and not still_queued and self._retries.get(run.sortie.id, 0) < RETRIES \
                and not task.status.final:
            self._retries[run.sortie.id] = self._retries.get(run.sortie.id, 0) + 1
            self.controller.submit([run.sortie], first=True)  # e.g. an upload lost on a busy link: try again
            still_queued = True
        replanning = any(r.from_sortie == run.sortie.id and r.done_s is None for r in self.controller.replans)
        if not still_queued and not replanning:  # a stopped sortie stays open until its re-plan is back
            self._open[task_id].discard(run.sortie.id)
        if run.state == SortieState.ABORTED and not still_queued:
            task.to(task.status, self._now(), f"sortie {run.sortie.id} aborted: {run.reason}")
        elif run.interrupted:
            task.to(task.status, self._now(), f"sortie {run.sortie.id} on {run.drone_id} stopped short: "
                                              f"{run.interrupted}; its unflown part is queued again")
        if not self._open[task_id] and not task.status.final:
            aborted = run.state == SortieState.ABORTED and run.last_item < 0 and task.photos == 0
            task.to(Status.FAILED if aborted else Status.DONE, self._now(),
                    f"{task.photos} photos" if not aborted else "nothing flown")
            del self._open[task_id]
        self._save(task)

    def _captured(self, cap: Capture):
        task = self.tasks.get(self._sortie_task.get(cap.sortie_id, ""))
        if task is not None:
            task.photos += 1
            task.first_photo = task.first_photo or cap.time
            task.last_photo = cap.time
        if self.on_capture is not None:
            out = self.on_capture(cap)
            if inspect.isawaitable(out):
                return out
        return None

    # ---- read-outs -------------------------------------------------------------------------
    def patrol_progress(self) -> dict:
        patrols = [t for t in self.tasks.values() if t.kind == Kind.PATROL]
        if not patrols:
            return {"task": None, "note": "no patrol cycle running; start `patrol ops` with --plan"}
        task = patrols[-1]
        by_id = {r.sortie.id: r for r in self.controller.runs}
        flown = sum(1 for s in task.sorties if s in by_id and by_id[s].complete)
        stopped = sum(1 for s in task.sorties if s in by_id and by_id[s].interrupted)
        return {"task": task.id, "status": task.status.value, "sorties": len(task.sorties), "flown": flown,
                "stopped_short": stopped, "open": len(self._open.get(task.id, ())), "photos": task.photos,
                "replans": sum(1 for r in self.controller.replans if self._sortie_task.get(r.from_sortie) == task.id)}


def plan_hull(plan: Plan, world: World) -> dict:
    """The patrol's zones' outline, as the patrol task's GeoJSON."""
    zones = [z.area for z in world.zones if z.id in {s.zone_id for s in plan.sorties}] or [z.area for z in world.zones]
    return mapping(unary_union(zones).convex_hull)
