"""Strips → sorties: each one battery from a dock and back, packed for the most photos per second.

A sortie's time is take-off + transit out + strips + turns and connecting legs + transit back +
landing, strips at the survey speed and every other leg at the transit speed; the drone rises
vertically only to a clear height and climbs the rest on its way out (descends on its way home),
as the simulator and ArduPilot fly a waypoint above the current altitude. It must fit `DroneSpec.flight_budget_s` (usable time less reserve, less wind margin).
Strips are taken in cell order and cut into runs with the least total flight time, so sorties
end next to the dock instead of at the far end of a strip.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from shapely.geometry.base import BaseGeometry

from detector.geo import MetricFrame
from flight.assets import DroneSpec
from flight.planner.airspace import Airspace, airspace_near
from flight.planner.errors import PlanningError
from flight.planner.plan import DockInfo
from flight.planner.strips import Strip
from flight.planner.trigger import END_OVERSHOOT_M

SPLIT_SHARE = 0.45  # a strip longer than this share of one battery's reach is cut into chunks
CLEAR_HEIGHT_M = 30.0  # vertical take-off and landing below this height above the dock; above it the legs climb


@dataclass(frozen=True)
class Flight:
    """What a sortie's timing needs: the drone's envelope, the dock and the survey altitude."""

    spec: DroneSpec
    dock_xy: tuple[float, float]
    altitude_m: float
    airspace: Airspace | None = None  # no-fly airspace within reach, to route legs around

    @property
    def speed(self) -> float:
        """Survey speed, on photo strips."""
        return self.spec.cruise_speed_m_s

    @property
    def transit(self) -> float:
        """Speed of every leg that is not a strip: out, between strips, home."""
        return self.spec.transit_speed_m_s

    def change_s(self, spacing_m: float) -> float:
        """One strip change: the turn and the leg across to the neighbouring strip."""
        return self.spec.turn_time_s + spacing_m / self.transit

    @property
    def clear_m(self) -> float:
        """Height of the vertical take-off and of the waypoint over the dock the landing starts from."""
        return min(CLEAR_HEIGHT_M, self.altitude_m)

    @property
    def vertical_s(self) -> float:
        """Climb and descent as if none of it rode on a leg: an upper bound, for reach."""
        return self.altitude_m / self.spec.climb_rate_m_s + self.altitude_m / self.spec.descent_rate_m_s

    @property
    def reach_m(self) -> float:
        """How far out a sortie can reach and come back: the budget less climb and descent, at transit speed."""
        return max(0.0, (self.spec.flight_budget_s - self.vertical_s) * self.transit / 2.0)

    def leg_m(self, p: tuple[float, float], q: tuple[float, float]) -> float:
        """Length of the flown leg from p to q: straight, or around no-fly airspace."""
        return self.airspace.length(p, q) if self.airspace is not None else math.dist(p, q)

    def via(self, p: tuple[float, float], q: tuple[float, float]) -> list[tuple[float, float]]:
        return self.airspace.via(p, q) if self.airspace is not None else []

    def _pieces(self, p: tuple[float, float], q: tuple[float, float]) -> list[float]:
        pts = [p, *self.via(p, q), q]
        return [math.dist(a, b) for a, b in zip(pts, pts[1:])]

    def out_s(self, q: tuple[float, float]) -> float:
        """Take-off to the clear height, then transit to q, climbing to survey altitude on the first piece."""
        pieces, spec = self._pieces(self.dock_xy, q), self.spec
        climb = (self.altitude_m - self.clear_m) / spec.climb_rate_m_s
        return self.clear_m / spec.climb_rate_m_s + max(pieces[0] / self.transit, climb) + sum(pieces[1:]) / self.transit

    def home_s(self, p: tuple[float, float]) -> float:
        """Transit from p to over the dock, descending to the clear height on the last piece, then landing."""
        pieces, spec = self._pieces(p, self.dock_xy), self.spec
        descent = (self.altitude_m - self.clear_m) / spec.descent_rate_m_s
        return sum(pieces[:-1]) / self.transit + max(pieces[-1] / self.transit, descent) + self.clear_m / spec.descent_rate_m_s

    def round_trip_s(self, distance_m: np.ndarray) -> np.ndarray:
        """Least time to fly straight out to `distance_m` at survey altitude and back (the lower bound's)."""
        spec, rise = self.spec, self.altitude_m - self.clear_m
        leg = distance_m / self.transit
        return (self.clear_m / spec.climb_rate_m_s + np.maximum(leg, rise / spec.climb_rate_m_s)
                + np.maximum(leg, rise / spec.descent_rate_m_s) + self.clear_m / spec.descent_rate_m_s)


def dock_flight(dock: DockInfo, altitude_m: float, frame: MetricFrame, no_fly_m: BaseGeometry | None) -> Flight:
    """How sorties from `dock` at `altitude_m` fly: its drones' limits, routed round the no-fly airspace in reach."""
    x, y = frame.forward(dock.lon, dock.lat)
    xy = (float(x), float(y))
    return Flight(dock.flyer.spec, xy, altitude_m, airspace_near(no_fly_m, xy, dock.flyer))


@dataclass(frozen=True)
class Packed:
    """One sortie's strips in flying order, with its timing."""

    strips: tuple[Strip, ...]
    duration_s: float
    sweep_s: float


def sortie_time(strips: list[Strip], flight: Flight) -> tuple[float, float]:
    """(duration, sweep) seconds of flying `strips` in order from the dock and back."""
    v, vt, turn = flight.speed, flight.transit, flight.spec.turn_time_s
    t = flight.out_s((strips[0].x0, strips[0].y0))
    sweep = 0.0
    for i, s in enumerate(strips):
        if i:
            p = strips[i - 1]
            t += flight.leg_m((p.x1, p.y1), (s.x0, s.y0)) / vt + turn
        sweep += (s.length + END_OVERSHOOT_M) / v
        t += (s.length + END_OVERSHOOT_M) / v
    return t + flight.home_s((strips[-1].x1, strips[-1].y1)), sweep


def chunked(strips: list[Strip], flight: Flight) -> list[Strip]:
    """Cut strips too long for one battery into chunks, ordered nearest-dock chunk first per cell."""
    limit = SPLIT_SHARE * flight.speed * (flight.spec.flight_budget_s - flight.vertical_s)
    keyed = []
    for order, s in enumerate(strips):
        if s.length <= limit or s.photos < 2:
            keyed.append(((s.cell, 0, order), s))
            continue
        if flight.leg_m((s.x1, s.y1), flight.dock_xy) < flight.leg_m((s.x0, s.y0), flight.dock_xy):
            s = s.reversed()
        pieces = math.ceil(s.length / limit)
        per = math.ceil(s.photos / pieces)
        for j, first in enumerate(range(0, s.photos, per)):
            keyed.append(((s.cell, j, order), _sub_strip(s, first, min(per, s.photos - first))))
    keyed.sort(key=lambda kv: kv[0])
    return [s for _, s in keyed]


def _sub_strip(s: Strip, first: int, count: int) -> Strip:
    """Photos first .. first+count-1 of a strip, as a strip of their own."""
    n = max(s.photos - 1, 1)
    ux, uy = (s.x1 - s.x0) / n, (s.y1 - s.y0) / n
    last = first + count - 1
    return Strip(s.x0 + ux * first, s.y0 + uy * first, s.x0 + ux * last, s.y0 + uy * last, count, s.spacing, s.cell)


class _Legs:
    """The flight's leg times, each worked out once per packing: the runs from every strip fly
    the same legs again (and a leg round no-fly airspace is costly to work out)."""

    def __init__(self, flight: Flight) -> None:
        self.out_s = functools.cache(flight.out_s)
        self.home_s = functools.cache(flight.home_s)
        self.leg_m = functools.cache(flight.leg_m)


def _ways(s: Strip, flight: Flight) -> tuple[Strip, Strip, float]:
    """A strip both ways round and its seconds, worked out once per packing."""
    return s, s.reversed(), (s.length + END_OVERSHOOT_M) / flight.speed


def _runs(ways: list[tuple[Strip, Strip, float]], i: int, flight: Flight,
          legs: _Legs) -> tuple[list[float], list[Strip]]:
    """Every feasible sortie that starts at strip i: the duration of each (first k + 1 strips),
    and the strips in flying order."""
    budget, vt, turn = flight.spec.flight_budget_s, flight.transit, flight.spec.turn_time_s
    t, pos = 0.0, flight.dock_xy
    flown: list[Strip] = []
    totals: list[float] = []
    for s, back, strip_s in ways[i:]:
        if math.hypot(s.x1 - pos[0], s.y1 - pos[1]) < math.hypot(s.x0 - pos[0], s.y0 - pos[1]):
            s = back
        leg_s = legs.leg_m(pos, (s.x0, s.y0)) / vt + turn if flown else legs.out_s((s.x0, s.y0))
        t_next = t + leg_s + strip_s
        total = t_next + legs.home_s((s.x1, s.y1))
        if total > budget:
            break
        t, pos = t_next, (s.x1, s.y1)
        flown.append(s)
        totals.append(total)
    return totals, flown


def pack(strips: list[Strip], flight: Flight, where: str) -> list[Packed]:
    """Cut the ordered strips into sorties with the least total flight time (dynamic programming).

    Each sortie is a run of consecutive strips; every cut is tried (O(strips × strips per
    sortie)), so a sortie ends where the next one starts cheaply, not where it happens to fill.
    """
    todo = chunked(strips, flight)
    legs = _Legs(flight)
    i = 0
    while i < len(todo):  # strips no sortie can fly whole are cut to fit first
        if _runs([_ways(todo[i], flight)], 0, flight, legs)[0]:
            i += 1
        else:
            todo[i:i + 1] = _split_to_fit(todo[i], flight, where)
    ways = [_ways(s, flight) for s in todo]
    n = len(todo)
    cost = [math.inf] * (n + 1)
    back: list[tuple[int, list[Strip]] | None] = [None] * (n + 1)
    cost[0] = 0.0
    for i in range(n):
        if cost[i] == math.inf:
            continue
        totals, flown = _runs(ways, i, flight, legs)
        for k, total in enumerate(totals):
            j = i + k + 1
            if cost[i] + total < cost[j] - 1e-9:
                cost[j], back[j] = cost[i] + total, (i, flown[:k + 1])
    out: list[Packed] = []
    j = n
    while j > 0:
        i, flown = back[j]
        duration, sweep = sortie_time(flown, flight)
        out.append(Packed(tuple(flown), duration, sweep))
        j = i
    return out[::-1]


def _split_to_fit(s: Strip, flight: Flight, where: str) -> list[Strip]:
    """The longest head of a strip that one sortie can fly, and the rest."""
    if flight.leg_m((s.x1, s.y1), flight.dock_xy) < flight.leg_m((s.x0, s.y0), flight.dock_xy):
        s = s.reversed()
    lo, hi = 0, s.photos - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sortie_time([_sub_strip(s, 0, mid)], flight)[0] <= flight.spec.flight_budget_s:
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        raise PlanningError(where, "position", (round(s.x0), round(s.y0)),
                            f"a strip starts {flight.leg_m((s.x0, s.y0), flight.dock_xy) / 1000:.1f} km from its dock, "
                            f"beyond one battery's round trip ({flight.spec.flight_budget_s:.0f} s budget)",
                            "a dock within reach of every part of the zone")
    return [_sub_strip(s, 0, lo), _sub_strip(s, lo, s.photos - lo)]
