"""Split the city between docks so every drone has the same amount of work (power diagram).

Each dock gets the convex cell of a power diagram (distance² less a per-dock weight). The
weights are found on a coarse grid of work (sweep seconds per cell, with a transit surcharge
that grows with distance from the dock) so that work per drone comes out equal; the exact
cells are then cut from the final weights, so region borders are straight lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry

GRID_M = 400.0
ITERATIONS = 300


@dataclass(frozen=True)
class WorkArea:
    """Area to sweep and its cost: seconds of sweep per square metre."""

    geom: BaseGeometry
    s_per_m2: float


@dataclass(frozen=True)
class DockSite:
    xy: tuple[float, float]
    drones: int
    reach_m: float  # farthest point a sortie can sweep and still come home
    transit_share: float  # transit seconds per sweep second, per metre of distance


def grid_work(areas: list[WorkArea], bounds: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Centres (N, 2) and sweep seconds (N,) of the grid cells that hold work."""
    minx, miny, maxx, maxy = bounds
    xs = np.arange(minx, maxx + GRID_M, GRID_M)
    ys = np.arange(miny, maxy + GRID_M, GRID_M)
    gx, gy = np.meshgrid(xs[:-1] if len(xs) > 1 else xs, ys[:-1] if len(ys) > 1 else ys)
    gx, gy = gx.ravel(), gy.ravel()
    boxes = shapely.box(gx, gy, gx + GRID_M, gy + GRID_M)
    work = np.zeros(len(boxes))
    for a in areas:
        shapely.prepare(a.geom)
        hit = shapely.intersects(boxes, a.geom)
        work[hit] += shapely.area(shapely.intersection(boxes[hit], a.geom)) * a.s_per_m2
    keep = work > 0
    return np.stack([gx[keep] + GRID_M / 2, gy[keep] + GRID_M / 2], 1), work[keep]


def _costs(centres: np.ndarray, work: np.ndarray, sites: list[DockSite], scale: np.ndarray):
    xy = np.array([s.xy for s in sites])
    d2 = ((centres[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    dist = np.sqrt(d2)
    reach = dist <= np.array([s.reach_m for s in sites])[None, :]
    cost = work[:, None] * (1.0 + dist * np.array([s.transit_share for s in sites])[None, :]) * scale[None, :]
    return xy, d2, reach, cost


def loads(centres: np.ndarray, work: np.ndarray, sites: list[DockSite], scale: np.ndarray,
          weights: np.ndarray) -> np.ndarray:
    """Estimated work per drone of each dock under the given weights."""
    _, d2, reach, cost = _costs(centres, work, sites, scale)
    owner = np.argmin(np.where(reach, d2 - weights[None, :], np.inf), 1)
    drones = np.array([s.drones for s in sites], float)
    return np.bincount(owner, cost[np.arange(len(owner)), owner], len(sites)) / np.maximum(drones, 1e-9)


def balance(centres: np.ndarray, work: np.ndarray, sites: list[DockSite], scale: np.ndarray,
            weights: np.ndarray | None = None) -> np.ndarray:
    """Power weights that even out work per drone (work × scale[dock] × transit surcharge)."""
    xy, d2, reach, cost = _costs(centres, work, sites, scale)
    drones = np.array([s.drones for s in sites], float)
    spread = float(np.median(np.sort(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)), 1)[:, 1])) if len(xy) > 1 else 1e3
    weights = np.zeros(len(sites)) if weights is None else weights.copy()
    useful = reach.any(0)  # docks that can reach no work get an empty cell
    cap = np.array([s.reach_m for s in sites]) ** 2
    if not useful.any():
        return weights
    best, best_w = math.inf, weights.copy()
    for it in range(ITERATIONS):
        power = np.where(reach, d2 - weights[None, :], np.inf)
        owner = np.argmin(power, 1)
        load = np.bincount(owner, cost[np.arange(len(owner)), owner], len(sites)) / np.maximum(drones, 1e-9)
        target = cost[np.arange(len(owner)), owner].sum() / drones[useful].sum()
        worst = load[useful].max() / target
        if worst < best:
            best, best_w = worst, weights.copy()
        step = 0.5 * spread ** 2 * (1.0 - it / ITERATIONS)
        weights = np.minimum(weights + step * np.clip((target - load) / target, -1, 1), cap)
        weights[~useful] = -cap[~useful] * 1e3
    return best_w


def power_cells(sites: list[DockSite], weights: np.ndarray, bounds: tuple[float, float, float, float]) -> list[BaseGeometry]:
    """Exact power-diagram cell of each dock, clipped to the dock's reach."""
    minx, miny, maxx, maxy = bounds
    frame = box(minx - 1, miny - 1, maxx + 1, maxy + 1)
    big = 4.0 * max(maxx - minx, maxy - miny, 1.0)
    xy = np.array([s.xy for s in sites])
    middle = np.array([(minx + maxx) / 2.0, (miny + maxy) / 2.0])
    cells = []
    for i, s in enumerate(sites):
        cell = frame
        for j in range(len(sites)):
            if j == i:
                continue
            # points closer (in power) to i than to j:  2 x·(pj - pi) <= |pj|² - |pi|² - wj + wi
            n = xy[j] - xy[i]
            norm = float(np.hypot(*n))
            if norm == 0:
                continue
            n = n / norm
            c = (xy[j] @ xy[j] - xy[i] @ xy[i] - weights[j] + weights[i]) / (2.0 * norm)
            base = middle + n * (c - middle @ n)  # the point of the border line nearest the city
            t = np.array([-n[1], n[0]])
            half = Polygon([base + t * big, base - t * big, base - t * big - n * big, base + t * big - n * big])
            cell = cell.intersection(half)
            if cell.is_empty:
                break
        cells.append(cell.intersection(Point(s.xy).buffer(s.reach_m, 64)))
    return cells
