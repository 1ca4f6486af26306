"""The emergency sweep: every available drone to the flood-prone points inside an alert area.

Points go out highest-risk first (then nearest a dock), each to the drone and place in a route
that photographs it soonest — appended to that drone's current sortie when the battery allows,
else a new sortie after it lands and recharges. Drones mid-patrol start from where they are
(once they leave their strip); docked ones after charging to the launch level. Times are clock
seconds from the moment of planning. `SweepPlan.bound_s` is a lower bound on the last photo:
no route can beat the farthest point's fly-out from its nearest dock, nor the fleet-wide work
(each point's hold plus the shortest leg that can reach it) spread over every drone.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from flight.assets import DroneSpec
from flight.fleet.sortie import FleetSettings
from flight.mission import Sortie
from flight.ops.missions import PHOTO_HOLD_S, point_route
from flight.ops.world import World
from flight.planner.sorties import Flight

LAUNCH_S = 20.0  # upload, read back, arm, mission start
SAFETY_PCT = 5.0  # battery kept above the drone model's reserve


@dataclass(frozen=True)
class FloodPoint:
    id: str
    name: str
    name_en: str
    kind: str  # underpass, low road, riverside road...
    lon: float
    lat: float
    risk: int  # 1 highest


def load_points(path: str | Path) -> tuple[FloodPoint, ...]:
    """configs/*_flood_points.yaml → points; a bad entry is named with its index and field."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out = []
    for i, entry in enumerate(raw.get("points", [])):
        try:
            out.append(FloodPoint(str(entry["id"]), str(entry["name"]), str(entry.get("name_en", "")),
                                  str(entry.get("kind", "")), float(entry["lon"]), float(entry["lat"]),
                                  int(entry.get("risk", 2))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: points[{i}]: {exc!r}") from None
    return tuple(out)


@dataclass(frozen=True)
class Flyer:
    """A drone the sweep may use, as it is at planning time."""

    drone_id: str
    dock_id: str
    spec: DroneSpec
    airborne: bool
    xy: tuple[float, float] | None
    battery_pct: float
    strip_left_m: float
    charge_s: float


@dataclass
class Route:
    drone_id: str
    dock_id: str
    airborne: bool
    start_s: float  # leaves the dock (or its strip)
    start_xy: tuple[float, float]
    battery_pct: float  # at start
    points: list[FloodPoint] = field(default_factory=list)
    xys: list[tuple[float, float]] = field(default_factory=list)
    sortie: Sortie | None = None

    def timeline(self, flight: Flight, approach_s: float) -> tuple[list[float], float]:
        """Clock second of each photo, and of landing."""
        t = self.start_s + approach_s
        here, photos = self.start_xy, []
        for i, xy in enumerate(self.xys):
            if i == 0 and not self.airborne:
                t += flight.out_s(xy) + PHOTO_HOLD_S
            else:
                t += flight.leg_m(here, xy) / flight.transit + PHOTO_HOLD_S
            photos.append(t)
            here = xy
        return photos, t + flight.home_s(here)


@dataclass
class SweepPlan:
    task_id: str
    routes: list[Route]
    photo_s: dict[str, float]  # point id → planned photo time
    bound_s: float
    flyers: tuple[Flyer, ...] = ()  # the fleet as it stood when the sweep was planned
    altitude_m: float = 0.0

    @property
    def last_photo_s(self) -> float:
        return max(self.photo_s.values(), default=0.0)

    def why(self) -> dict:
        drones = sorted({r.drone_id for r in self.routes})
        joined = sorted({r.drone_id for r in self.routes if r.airborne})
        return {"summary": f"{len(self.photo_s)} flood-prone points in {len(self.routes)} sorties on {len(drones)} "
                           f"drones ({len(joined)} joining from their patrol); last photo planned at "
                           f"{self.last_photo_s / 60:.1f} min, lower bound {self.bound_s / 60:.1f} min",
                "routes": [{"drone": r.drone_id, "dock": r.dock_id, "airborne": r.airborne,
                            "start_min": round(r.start_s / 60, 1), "points": [p.id for p in r.points]}
                           for r in self.routes]}


class _Memo:
    """A Flight whose leg timings are remembered: insertion asks for the same legs thousands of
    times, and each may route round no-fly airspace."""

    def __init__(self, flight: Flight) -> None:
        self.flight = flight
        self.transit, self.altitude_m, self.clear_m = flight.transit, flight.altitude_m, flight.clear_m
        self.out_s = functools.cache(flight.out_s)
        self.home_s = functools.cache(flight.home_s)
        self.leg_m = functools.cache(flight.leg_m)


class SweepPlanner:
    """Routes per drone and the timing/battery model they are judged by."""

    def __init__(self, task_id: str, flyers: list[Flyer], world: World, settings: FleetSettings, altitude_m: float):
        self.task_id, self.world, self.settings, self.altitude_m = task_id, world, settings, altitude_m
        self.flyers = {f.drone_id: f for f in flyers}
        self.flights = {f.drone_id: _Memo(world.flight(f.dock_id, altitude_m)) for f in flyers}
        self.routes: dict[str, list[Route]] = {f.drone_id: [] for f in flyers}

    def approach_s(self, r: Route) -> float:
        f = self.flyers[r.drone_id]
        return f.strip_left_m / f.spec.cruise_speed_m_s if r.airborne else 0.0

    def _budget_s(self, r: Route) -> float:
        f = self.flyers[r.drone_id]
        usable = r.battery_pct - f.spec.battery.reserve_pct - SAFETY_PCT
        return max(0.0, usable) / 100.0 * f.spec.usable_flight_time_min * 60.0 * (1.0 - f.spec.wind_margin)

    def _fits(self, r: Route) -> tuple[float, float] | None:
        """(landing time, last photo) when the route fits its battery, else None."""
        photos, end = r.timeline(self.flights[r.drone_id], self.approach_s(r))
        return (end, photos[-1]) if end - r.start_s <= self._budget_s(r) else None

    def fresh(self, drone_id: str) -> Route:
        """The drone's next sortie from its dock, or from the air for a drone now flying."""
        f, done = self.flyers[drone_id], self.routes[drone_id]
        dock = self.world.dock(f.dock_id)
        dock_xy = self.world.xy(dock.lon, dock.lat)
        launch = 100.0  # a fresh sortie leaves the dock fully charged
        if not done:
            if f.airborne:
                return Route(drone_id, f.dock_id, True, 0.0, f.xy, f.battery_pct)
            wait = max(0.0, launch - f.battery_pct) / 100.0 * f.charge_s
            return Route(drone_id, f.dock_id, False, wait + LAUNCH_S, dock_xy, max(launch, f.battery_pct))
        last = done[-1]
        _, end = last.timeline(self.flights[drone_id], self.approach_s(last))
        used = 100.0 * (end - last.start_s) / (f.spec.usable_flight_time_min * 60.0)
        recharge = max(0.0, launch - (last.battery_pct - used)) / 100.0 * f.charge_s
        return Route(drone_id, f.dock_id, False, end + recharge + LAUNCH_S, dock_xy, launch)

    def place(self, point: FloodPoint, xy: tuple[float, float]) -> None:
        best = None  # (photo time of this point, landing, route, index, is_new)
        for drone_id, done in self.routes.items():
            options = [(done[-1], i, False) for i in range(len(done[-1].xys) + 1)] if done else []
            options += [(self.fresh(drone_id), 0, True)]
            for route, i, new in options:
                route.xys.insert(i, xy)
                route.points.insert(i, point)
                fit = self._fits(route)
                if fit is not None:
                    key = (fit[1], fit[0])  # this route's last photo, then its landing
                    if best is None or key < best[0]:
                        best = (key, route, i, new)
                del route.xys[i]
                del route.points[i]
        if best is None:
            raise ValueError(f"flood point {point.id} cannot be reached by any drone within one battery")
        _, route, i, new = best
        route.xys.insert(i, xy)
        route.points.insert(i, point)
        if new:
            self.routes[route.drone_id].append(route)

    def _last_photo(self, r: Route) -> float:
        return r.timeline(self.flights[r.drone_id], self.approach_s(r))[0][-1]

    def improve(self, rounds: int = 200) -> None:
        """Relocate points off the route whose last photo is latest while that brings the latest
        photo of the whole sweep forward (only into drones' last routes: nothing after them moves)."""
        for _ in range(rounds):
            ranked = sorted(((self._last_photo(r), id(r), r) for done in self.routes.values() for r in done),
                            reverse=True)
            current, _, worst = ranked[0]
            if worst is not self.routes[worst.drone_id][-1] or len(worst.points) < 2:
                return

            def others(target: Route) -> float:
                return next((t for t, _, r in ranked if r is not worst and r is not target), 0.0)

            best = None  # (new latest photo, index in worst, target route, position, target is new)
            for i in range(len(worst.points)):
                p, xy = worst.points.pop(i), worst.xys.pop(i)
                left = self._last_photo(worst)
                for drone_id, done in self.routes.items():
                    target, new = (done[-1], False) if done else (self.fresh(drone_id), True)
                    if target is worst:
                        continue
                    floor = max(left, others(target))
                    for j in range(len(target.xys) + 1):
                        target.xys.insert(j, xy)
                        target.points.insert(j, p)
                        if self._fits(target) is not None:
                            latest = max(floor, self._last_photo(target))
                            if latest < current - 1e-6 and (best is None or latest < best[0]):
                                best = (latest, i, target, j, new)
                        del target.xys[j]
                        del target.points[j]
                worst.points.insert(i, p)
                worst.xys.insert(i, xy)
            if best is None:
                return
            _, i, target, j, new = best
            target.points.insert(j, worst.points.pop(i))
            target.xys.insert(j, worst.xys.pop(i))
            if new:
                self.routes[target.drone_id].append(target)

    def finish(self, points: list[FloodPoint]) -> SweepPlan:
        """Missions for every route, photo times, and the lower bound for these points and drones."""
        routes, photo_s = [], {}
        for drone_id, done in self.routes.items():
            flight = self.flights[drone_id]
            for n, r in enumerate(done):
                times, _ = r.timeline(flight, self.approach_s(r))
                photo_s.update({p.id: t for p, t in zip(r.points, times)})
                dock = self.world.dock(r.dock_id)
                r.sortie = point_route(f"{self.task_id}.{drone_id}.{n}", dock, [(p.lon, p.lat) for p in r.points],
                                       flight, times[-1] - r.start_s, self.task_id)
                routes.append(r)
        routes.sort(key=lambda r: r.start_s)
        flyers = list(self.flyers.values())
        return SweepPlan(self.task_id, routes, photo_s, sweep_bound_s(points, flyers, self.world, self.altitude_m),
                         tuple(flyers), self.altitude_m)


def plan_sweep(task_id: str, points: list[FloodPoint], flyers: list[Flyer], world: World,
               settings: FleetSettings, altitude_m: float) -> SweepPlan:
    planner = SweepPlanner(task_id, flyers, world, settings, altitude_m)
    xy = {p.id: world.xy(p.lon, p.lat) for p in points}
    docks = [world.xy(world.dock(f.dock_id).lon, world.dock(f.dock_id).lat) for f in flyers]
    nearest = {p.id: min(math.dist(xy[p.id], d) for d in docks) for p in points}
    for p in sorted(points, key=lambda p: (p.risk, nearest[p.id])):
        planner.place(p, xy[p.id])
    planner.improve()
    return planner.finish(points)


def sweep_bound_s(points: list[FloodPoint], flyers: list[Flyer], world: World, altitude_m: float) -> float:
    """A lower bound on the last photo: the larger of
    - the farthest point's fly-out from its nearest dock (no drone can photograph it sooner), and
    - the work, spread over drones that each start only when they can first reach any point: the
      least T with Σ_drones max(0, T − first arrival) ≥ Σ_points (hold + shortest leg from another
      point), less the longest such legs, one per drone (its first point is reached by its fly-out).
    """
    if not points or not flyers:
        return 0.0
    xy = [world.xy(p.lon, p.lat) for p in points]
    flights = {f.drone_id: world.flight(f.dock_id, altitude_m) for f in flyers}
    out = [min(fl.out_s(q) for fl in flights.values()) for q in xy]
    transit = next(iter(flights.values())).transit
    legs = sorted((min((math.dist(q, o) for j, o in enumerate(xy) if j != i), default=0.0) / transit
                   for i, q in enumerate(xy)), reverse=True)
    work = PHOTO_HOLD_S * len(points) + sum(legs[len(flyers):])
    arrive = sorted(min((math.dist(f.xy, q) / f.spec.transit_speed_m_s + f.strip_left_m / f.spec.cruise_speed_m_s
                         if f.airborne and f.xy else flights[f.drone_id].out_s(q)) for q in xy) for f in flyers)
    t, spread = arrive[0], 0.0
    for k in range(1, len(arrive) + 1):  # with the first k drones at work from their arrivals
        nxt = arrive[k] if k < len(arrive) else math.inf
        need = (work - spread) / k
        if t + need <= nxt:
            t += need
            break
        spread += k * (nxt - t)
        t = nxt
    return max(max(out) + PHOTO_HOLD_S, t)
