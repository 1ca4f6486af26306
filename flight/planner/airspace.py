"""Legs that go around no-fly airspace: straight when clear, else the shortest way round.

Strips are already kept out of no-fly zones; this routes what joins them (dock → first strip,
strip → strip, last strip → dock). The way round runs over the corners of each zone's convex
hull, grown by a margin, so it never cuts a corner of the zone; the shortest such path is
found with Dijkstra over a visibility graph (a few dozen nodes per zone).
"""

from __future__ import annotations

import functools
import heapq
import math

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from flight.planner.plan import DroneInfo
from flight.planner.strips import NO_FLY_MARGIN_M

HULL_TOLERANCE_M = 5.0

Point2 = tuple[float, float]


class Airspace:
    """No-fly airspace in metres, with leg routing around it."""

    def __init__(self, no_fly: BaseGeometry):
        # half the strips' margin: a strip ends NO_FLY_MARGIN_M out, so legs from it start clear
        self.block = no_fly.buffer(NO_FLY_MARGIN_M / 2)
        shapely.prepare(self.block)
        self.boxes = [part.bounds for part in shapely.get_parts(self.block)]
        corners = []
        for part in shapely.get_parts(no_fly):
            hull = part.buffer(2 * NO_FLY_MARGIN_M + HULL_TOLERANCE_M).convex_hull.simplify(HULL_TOLERANCE_M)
            corners.extend(list(hull.exterior.coords)[:-1])
        self.corners = [(float(x), float(y)) for x, y in corners]
        self._cache: dict[tuple[Point2, Point2], list[Point2]] = {}

    def clear(self, p: Point2, q: Point2) -> bool:
        # most legs pass nowhere near a no-fly zone: comparing boxes first skips building a line
        x0, x1 = (p[0], q[0]) if p[0] <= q[0] else (q[0], p[0])
        y0, y1 = (p[1], q[1]) if p[1] <= q[1] else (q[1], p[1])
        if not any(x0 <= bx1 and bx0 <= x1 and y0 <= by1 and by0 <= y1 for bx0, by0, bx1, by1 in self.boxes):
            return True
        return not self.block.intersects(LineString([p, q]))

    def via(self, p: Point2, q: Point2) -> list[Point2]:
        """Turn points between p and q (empty when the straight leg is clear)."""
        if self.clear(p, q):
            return []
        key = (p, q)
        if key not in self._cache:
            self._cache[key] = self._shortest(p, q)
        return self._cache[key]

    def length(self, p: Point2, q: Point2) -> float:
        pts = [p, *self.via(p, q), q]
        return sum(math.dist(a, b) for a, b in zip(pts, pts[1:]))

    @functools.cached_property
    def _corner_graph(self) -> dict[int, list[tuple[int, float]]]:
        """Clear legs between corners (node k + 2 is corner k), found once: every route shares them."""
        xy = np.array(self.corners).reshape(-1, 2)
        i, j = np.triu_indices(len(xy), 1)
        ok = ~shapely.intersects(shapely.linestrings(np.stack([xy[i], xy[j]], 1)), self.block)
        graph: dict[int, list[tuple[int, float]]] = {}
        for a, b in zip(i[ok].tolist(), j[ok].tolist()):
            d = math.dist(self.corners[a], self.corners[b])
            graph.setdefault(a + 2, []).append((b + 2, d))
            graph.setdefault(b + 2, []).append((a + 2, d))
        return graph

    def _shortest(self, p: Point2, q: Point2) -> list[Point2]:
        nodes = [p, q, *self.corners]
        ends = np.array([p, q])
        corners = np.array(self.corners).reshape(-1, 2)
        starts = np.concatenate([ends[[0]], np.repeat(ends, len(corners), 0)])
        stops = np.concatenate([ends[[1]], np.tile(corners, (2, 1))])
        ok = ~shapely.intersects(shapely.linestrings(np.stack([starts, stops], 1)), self.block)
        extra: dict[int, list[tuple[int, float]]] = {}  # the legs from p and to q, added to the corners' own
        for (a, b), clear in zip([(0, 1)] + [(e, k + 2) for e in (0, 1) for k in range(len(corners))], ok.tolist()):
            if clear:
                d = math.dist(nodes[a], nodes[b])
                extra.setdefault(a, []).append((b, d))
                extra.setdefault(b, []).append((a, d))
        best = {0: 0.0}
        prev: dict[int, int] = {}
        heap = [(0.0, 0)]
        while heap:
            d, a = heapq.heappop(heap)
            if a == 1:
                break
            if d > best.get(a, math.inf):
                continue
            for b, w in (*self._corner_graph.get(a, ()), *extra.get(a, ())):
                if d + w < best.get(b, math.inf):
                    best[b], prev[b] = d + w, a
                    heapq.heappush(heap, (d + w, b))
        if 1 not in prev:
            return []  # boxed in (the leg starts or ends inside the margin): leave it straight
        path, a = [], prev[1]
        while a != 0:
            path.append(nodes[a])
            a = prev[a]
        return path[::-1]


@functools.lru_cache(maxsize=512)
def airspace_near(no_fly_m: BaseGeometry | None, xy: tuple[float, float], flyer: DroneInfo) -> Airspace | None:
    """The no-fly airspace a dock's sorties could meet (within one battery's range), if any.

    Cached: re-packing strips at a dock (hand-over, re-planning) then reuses the routes
    already found from it instead of searching them again."""
    if no_fly_m is None:
        return None
    near = no_fly_m.intersection(Point(xy).buffer(flyer.spec.flight_budget_s * flyer.spec.transit_speed_m_s / 2))
    return Airspace(near) if not near.is_empty else None
