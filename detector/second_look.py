"""A second look before an alert: a detection is posted once another photo of its spot agrees.

Look-alikes (a tarpaulin, a tree's shadow, a zebra crossing) fool the model from one angle and
light more often than from two, while a real violation scores in every photo that shows it.
The survey's overlap means many spots are photographed twice, so a candidate detection (at the
model card's threshold) whose spot another photo also shows well inside its frame is posted
when that photo sees the same type there too, even weakly (`support` × the threshold), and
dropped when it does not. A spot only one photo shows cannot be checked: its detection waits
up to `max_wait_s` of capture time for a later photo (the next strip may cover it), then goes
out unconfirmed, whether or not more photos come. Once a spot is confirmed, later sightings of it are posted straight away.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from detector.capture import Capture
from detector.geo import MetricFrame
from detector.georef import Georeferencer
from detector.sighting import Sighting


@dataclass
class _Photo:
    time: datetime
    inner: object  # prepared metric footprint, shrunk by the inset
    seen: list[tuple[str, float, float]]  # every detection in it: type, x, y


@dataclass
class _Held:
    sighting: Sighting
    x: float
    y: float


class _TimedGrid:
    """Things with a metric bounding box, found by point through square cells, and forgotten in
    the order they came once older than `memory_s`: a long patrol's thousands of photos cost
    each look a few cells, not a scan."""

    CELL_M = 250.0

    def __init__(self, memory_s: float) -> None:
        self.memory_s = memory_s
        self._cells: dict[tuple[int, int], list] = {}
        self._order: deque[tuple[datetime, list[tuple[int, int]]]] = deque()

    def add(self, item: object, bounds: tuple[float, float, float, float], time: datetime) -> None:
        i0, j0, i1, j1 = (math.floor(b / self.CELL_M) for b in bounds)
        keys = [(i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]
        for key in keys:
            self._cells.setdefault(key, []).append(item)
        self._order.append((time, keys))

    def near(self, x: float, y: float) -> list:
        return self._cells.get((math.floor(x / self.CELL_M), math.floor(y / self.CELL_M)), [])

    def forget_before(self, now: datetime) -> None:
        while self._order and (now - self._order[0][0]).total_seconds() > self.memory_s:
            _, keys = self._order.popleft()
            for key in keys:  # the oldest item is first in each of its cells
                cell = self._cells[key]
                cell.pop(0)
                if not cell:
                    del self._cells[key]


@dataclass
class LookStats:
    confirmed: int = 0  # a second photo agreed
    dropped: int = 0  # a second photo showed the spot and saw no such thing
    unconfirmed: int = 0  # no second photo showed the spot in time: posted anyway


class SecondLook:
    """Feed it each photo's detections (down to `support` × threshold) in the order photos are
    processed; it answers which sightings to post now. `flush` posts what is still held."""

    def __init__(self, thresholds: Mapping[str, float], support: float = 0.5, radius_m: float = 15.0,
                 inset_m: float = 10.0, max_wait_s: float = 900.0, memory_s: float = 3 * 3600.0) -> None:
        self.thresholds, self.support, self.radius_m = dict(thresholds), support, radius_m
        self.inset_m, self.max_wait_s, self.memory_s = inset_m, max_wait_s, memory_s
        self.stats = LookStats()
        self._frame: MetricFrame | None = None
        self._photos = _TimedGrid(memory_s)
        self._held: list[_Held] = []
        self._posted = _TimedGrid(memory_s)  # confirmed or released spots: (type, x, y)

    def support_thresholds(self, classes: list[str]) -> np.ndarray:
        """What the detector should report down to, class by class, for the second look to work."""
        return np.array([self.thresholds[c] * self.support for c in classes], np.float32)

    def review(self, capture: Capture, sightings: list[Sighting]) -> list[Sighting]:
        if self._frame is None:
            self._frame = MetricFrame.around(capture.pose.lon, capture.pose.lat)
        footprint: BaseGeometry = self._frame.to_metric(Georeferencer(capture.pose, capture.camera).footprint())
        inner = footprint.buffer(-self.inset_m)
        placed = [(s, *self._xy(s)) for s in sightings]
        self._photos.forget_before(capture.time)
        self._posted.forget_before(capture.time)
        photo = _Photo(capture.time, prep(inner), [(s.type, x, y) for s, x, y in placed])
        post: list[Sighting] = []
        for held in [h for h in self._held if photo.inner.contains(Point(h.x, h.y))]:
            self._held.remove(held)
            self._decide(held.sighting, held.x, held.y, self._sees(photo, held.sighting.type, held.x, held.y), post)
        for s, x, y in placed:
            if s.confidence < self.thresholds[s.type]:
                continue  # support only: never an alert on its own
            if self._known(s.type, x, y):
                post.append(s)
                continue
            others = [p for p in self._photos.near(x, y) if p.inner.contains(Point(x, y))]
            if others:
                self._decide(s, x, y, any(self._sees(p, s.type, x, y) for p in others), post)
            else:
                self._held.append(_Held(s, x, y))
        post += self.expire(capture.time)
        if not inner.is_empty:
            self._photos.add(photo, inner.bounds, capture.time)
        return post

    def expire(self, now: datetime) -> list[Sighting]:
        """Held detections that have waited `max_wait_s` (on the capture clock) by `now`: posted
        unconfirmed. Called on every photo and, between photos, by the stage's idle timer."""
        post: list[Sighting] = []
        for held in [h for h in self._held if (now - h.sighting.time).total_seconds() > self.max_wait_s]:
            self._held.remove(held)
            self._release(held, post)
        return post

    def flush(self) -> list[Sighting]:
        """Everything still waiting for a second photo, posted unconfirmed (the patrol is over)."""
        post: list[Sighting] = []
        for held in self._held:
            self._release(held, post)
        self._held = []
        return post

    def _xy(self, s: Sighting) -> tuple[float, float]:
        x, y = self._frame.forward(s.lon, s.lat)
        return float(x), float(y)

    def _sees(self, photo: _Photo, code: str, x: float, y: float) -> bool:
        return any(t == code and np.hypot(px - x, py - y) <= self.radius_m for t, px, py in photo.seen)

    def _known(self, code: str, x: float, y: float) -> bool:
        return any(t == code and np.hypot(px - x, py - y) <= self.radius_m for t, px, py in self._posted.near(x, y))

    def _decide(self, s: Sighting, x: float, y: float, agreed: bool, post: list[Sighting]) -> None:
        if agreed:
            self.stats.confirmed += 1
            self._remember(s.type, x, y, s.time)
            post.append(s)
        else:
            self.stats.dropped += 1

    def _release(self, held: _Held, post: list[Sighting]) -> None:
        self.stats.unconfirmed += 1
        self._remember(held.sighting.type, held.x, held.y, held.sighting.time)
        post.append(held.sighting)

    def _remember(self, code: str, x: float, y: float, time: datetime) -> None:
        r = self.radius_m
        self._posted.add((code, x, y), (x - r, y - r, x + r, y + r), time)
