"""Even out two neighbouring docks by moving the border between their areas, then packing both again.

The balancing rounds move every border at once from a coarse estimate, and a dock's packed
time jumps a little whenever its borders move, so the rounds leave a spread of several
minutes between drones. Handing lanes to a neighbour afterwards (`reassign`) costs transit:
the lanes stay laid out for the giver's dock. Moving the border instead hands over a slab of
area that the receiver lays out and packs for its own dock, so the late dock's work shrinks
by about what the earlier one's grows, with no detour.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

T = TypeVar("T")

NEIGHBOURS = 6  # nearest docks tried as receivers, if their area touches the giver's (`reassign` uses the same)
TOUCH_M = 1.0  # areas this close share a border
# Smaller than `reassign`'s 300 s / 60 s: a slab is laid out and packed for the receiver's own dock,
# so a small move costs no transit and pays; lanes handed over there cost transit and need a wider gap.
MIN_GAP_S = 120.0  # a receiver must be at least this much less busy than the giver
MIN_GAIN_S = 30.0  # a move must make the busier of the two this much less busy than the giver was
SHARES = (1.0, 0.5)  # share of the estimated evening-out slab tried, in turn
MAX_MOVES = 300  # turns of a giver, moved or not: a bound, not reached on the Quzhou configs
GRID_M = 0.01  # metres: pieces are snapped to this grid after a cut


@dataclass
class Packing(Generic[T]):
    """One dock's area (a piece per zone), the seconds evening out compares (its drones' work, or
    when they land), and what packing gave."""

    share: list[BaseGeometry]
    busy_s: float
    result: T


def even_borders(packings: list[Packing[T]], xy: list[tuple[float, float]],
                 repack: Callable[[int, list[BaseGeometry]], Packing[T] | None]) -> list[Packing[T]]:
    """Move slabs of area from the busiest docks to touching neighbours that are less busy.

    The busiest dock not yet stuck gives first (only docks busier than the mean give), to its
    least busy touching neighbour first. The slab is cut along a line across the way to the
    receiver, as deep as should even the two out at each one's busy seconds per square metre
    (half that, if it overshoots). A move is kept if both docks end less busy than the giver
    was. `repack` packs dock i's new share (None if it cannot fly it). Deterministic.
    """
    packings = [Packing([_polygonal(p) for p in k.share], k.busy_s, k.result) for k in packings]  # cuts need the grid
    near = [sorted((j for j in range(len(xy)) if j != i), key=lambda j: (math.dist(xy[i], xy[j]), j))[:NEIGHBOURS]
            for i in range(len(xy))]
    version = [0] * len(packings)
    failed: set[tuple[int, int, int, int]] = set()  # (giver, receiver, their versions): no move found
    stuck: set[int] = set()
    for _ in range(MAX_MOVES):
        mean = sum(p.busy_s for p in packings) / len(packings)
        free = [i for i in range(len(packings)) if i not in stuck and packings[i].busy_s > mean]
        if not free:
            break
        giver = max(free, key=lambda i: (packings[i].busy_s, -i))
        here = packings[giver]
        receivers = sorted((j for j in near[giver] if packings[j].busy_s < here.busy_s - MIN_GAP_S
                            and (giver, j, version[giver], version[j]) not in failed), key=lambda j: (packings[j].busy_s, j))
        for j in receivers:
            moved = _give(here, packings[j], xy[giver], xy[j], lambda share, i=giver: repack(i, share),
                          lambda share, i=j: repack(i, share))
            if moved is not None:
                packings[giver], packings[j] = moved
                version[giver] += 1
                version[j] += 1
                stuck -= {giver, j, *near[giver], *near[j]}
                break
            failed.add((giver, j, version[giver], version[j]))
        else:
            stuck.add(giver)
    return packings


def _give(giver: Packing[T], receiver: Packing[T], giver_xy: tuple[float, float], receiver_xy: tuple[float, float],
          repack_giver: Callable[[list[BaseGeometry]], Packing[T] | None],
          repack_receiver: Callable[[list[BaseGeometry]], Packing[T] | None]) -> tuple[Packing[T], Packing[T]] | None:
    """The two docks' packings once a slab of the giver's area facing the receiver is the receiver's, if
    that leaves both less busy than the giver was."""
    share, theirs = giver.share, receiver.share  # already on the grid
    mine = shapely.union_all(share, grid_size=GRID_M)
    if mine.is_empty or not any(not q.is_empty and shapely.dwithin(mine, q, TOUCH_M) for q in theirs):
        return None
    rates = giver.busy_s / mine.area + receiver.busy_s / max(_area(theirs), 1.0)  # busy seconds per m², both
    limit = giver.busy_s - MIN_GAIN_S
    for part in SHARES:
        slab = _slab(mine, giver_xy, receiver_xy, part * (giver.busy_s - receiver.busy_s) / rates)
        if slab is None:
            continue
        got = repack_receiver([_polygonal(shapely.union(q, _polygonal(shapely.intersection(p, slab, grid_size=GRID_M)),
                                                        grid_size=GRID_M)) for p, q in zip(share, theirs)])
        if got is None or got.busy_s >= limit:
            continue
        kept = repack_giver([_polygonal(shapely.difference(p, slab, grid_size=GRID_M)) for p in share])
        if kept is not None and kept.busy_s < limit:
            return kept, got
    return None


def _polygonal(g: BaseGeometry) -> BaseGeometry:
    """`g` on a centimetre grid, without the lines and points a cut along a border can leave:
    cuts are made on that grid (snap-rounding overlay, robust where plain overlay of nearly
    parallel edges fails), and a slivered piece can otherwise turn invalid once rotated to sweep."""
    g = shapely.set_precision(shapely.make_valid(g), GRID_M)
    parts = [p for p in shapely.get_parts(g) if p.area > 0]
    return unary_union(parts) if parts else Polygon()


def _area(share: list[BaseGeometry]) -> float:
    return sum(p.area for p in share)


def _slab(mine: BaseGeometry, giver_xy: tuple[float, float], receiver_xy: tuple[float, float],
          area_m2: float) -> BaseGeometry | None:
    """The part of `mine` beyond a line across the way from giver to receiver, placed so it
    holds `area_m2`: the edge of the giver's area facing the receiver, moved back."""
    u = np.subtract(receiver_xy, giver_xy, dtype=float)
    norm = float(np.hypot(*u))
    if norm == 0 or not 0 < area_m2 < mine.area:
        return None
    u /= norm
    reach = np.asarray(shapely.get_coordinates(mine)) - giver_xy
    far = float((reach @ u).max())
    near = float((reach @ u).min())
    size = 4.0 * (far - near) + norm + 1.0
    across = np.array([-u[1], u[0]])

    def beyond(offset: float) -> BaseGeometry:
        base = np.asarray(giver_xy) + u * offset
        return shapely.intersection(mine, Polygon([base + across * size, base - across * size, base - across * size + u * size,
                                                   base + across * size + u * size]), grid_size=GRID_M)

    lo, hi = near, far  # beyond(hi) is empty, beyond(lo) is all of it
    for _ in range(24):
        mid = (lo + hi) / 2.0
        if beyond(mid).area > area_m2:
            lo = mid
        else:
            hi = mid
    slab = beyond(hi)
    return slab if slab.area > 0 else None
