"""Photograph on the way out and home: a comb of sideways strips along the dock line.

A sortie's transit runs sideways, along the line through the dock, to the strips it sweeps.
Here each quarter of a dock's share (one side of the dock line, one side of the sweep axis)
is grouped sideways into one battery's worth of strips each, and the band next to the dock line
is swept by strips across the sweep ("spines") that start by the dock and end where one group
ends and the next begins. A group is ordered spine out · its strips · spine back, so most of
its way out and home is photographing instead of transit; its strips start where the band ends.
flight.planner.cover combs a quarter along either axis, or cuts it into cells, whichever
packs into less time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from flight.assets import DroneSpec
from flight.planner.sorties import Flight
from flight.planner.strips import Strip, band_pieces, rotate_to_sweep, strips_of
from flight.planner.survey import Survey

FILLS = (0.85, 0.92, 1.0)  # shares of the battery budget a group is sized to, each tried (the packer makes the cuts)


@dataclass(frozen=True)
class Pace:
    """What sizing a group needs: survey and transit speed, one strip change, budget, climb + descent."""

    speed: float
    transit: float
    change_s: float
    budget_s: float
    vertical_s: float

    def flight(self, dock_xy: tuple[float, float], survey: Survey) -> Flight:
        """A drone flying at this pace from the dock (climb and descent alike, no airspace), so a
        layout can be timed by the packer itself before the real flight packs the chosen one."""
        rate = 2.0 * survey.altitude_m / self.vertical_s
        turn = self.change_s - survey.spacing_m / self.transit
        spec = DroneSpec(self.speed, rate, rate, self.budget_s / 60.0, 0.0, 0.0, turn, survey.altitude_m, self.transit)
        return Flight(spec, dock_xy, survey.altitude_m)


def quarters(half: BaseGeometry, dock_xy: tuple[float, float]) -> list[tuple[int, BaseGeometry]]:
    """A half (rotated frame) cut along the sweep axis through the dock: (side, piece), side +1 above."""
    if half.is_empty or half.area <= 1.0:
        return []
    minx, miny, maxx, maxy = half.bounds
    return [(up, half.intersection(side)) for up, side in ((1, box(minx - 1, dock_xy[1], maxx + 1, maxy + 1)),
                                                            (-1, box(minx - 1, miny - 1, maxx + 1, dock_xy[1])))]


def comb_quarter(quarter: BaseGeometry, dock_xy: tuple[float, float], away: int, up: int, angle: float,
                 survey: Survey, pace: Pace, guard: BaseGeometry | None) -> list[list[Strip]]:
    """The quarter's strips in flying order (rotated frame in, metres out; `guard` rotated), each
    strip its own `cell` so the packer keeps the order: one layout per grouping that FILLS give."""
    if quarter.is_empty or quarter.area <= 1.0:
        return []
    bands = band_pieces(quarter, survey.spacing_m)
    ids, first = np.unique(bands.band, return_index=True)
    length = np.bincount(np.searchsorted(ids, bands.band), bands.xb - bands.xa, len(ids))
    lat = np.abs(bands.yc[first] - dock_xy[1])
    groupings = sorted({tuple(_bounds(lat, length, survey, pace, fill)) for fill in FILLS})
    return [_laid(quarter, list(bounds), float(lat.max()), dock_xy, away, up, angle, survey, guard)
            for bounds in groupings]


def _bounds(lat: np.ndarray, length: np.ndarray, survey: Survey, pace: Pace, fill: float) -> list[float]:
    """Where groups sized to `fill` × budget end, sideways: strips start where the band of spines
    ends, and that band depends on the groups, so a few rounds settle it."""
    s = survey.spacing_m
    order = np.argsort(lat, kind="stable")
    bounds: list[float] = []
    for _ in range(3):
        beyond = len(bounds) - np.searchsorted(np.array(bounds), lat, side="right")
        swept = np.maximum(length - s * (1 + 2 * beyond) - survey.footprint_along_m, 0.0)
        bounds = _odd_where_short(lat[order], swept[order], s, pace, fill)
    return bounds


def _odd_where_short(lat: np.ndarray, swept: np.ndarray, s: float, pace: Pace, fill: float) -> list[float]:
    """Group ends (`lat` sorted) with, when the bands are odd in number, the odd group the one
    whose outermost strip is shortest: that group ends at the far end of that strip and flies
    back along it to its spine (the outermost group's strips are the longest, few spines cut them)."""
    if len(lat) % 2 == 0:
        return _group(lat, swept, s, pace, fill, -1)
    options = []
    for odd in range(len(lat)):
        bounds = _group(lat, swept, s, pace, fill, odd)
        if odd > len(bounds):
            break
        last = np.searchsorted(lat, bounds[odd]) - 1 if odd < len(bounds) else len(lat) - 1
        options.append((float(swept[last]), odd, bounds))
    return min(options, key=lambda o: o[:2])[2]


def _laid(quarter: BaseGeometry, bounds: list[float], far: float, dock_xy: tuple[float, float], away: int, up: int,
          angle: float, survey: Survey, guard: BaseGeometry | None) -> list[Strip]:
    """The comb for groups ending at `bounds` (`far`: the outermost band's offset), in flying order."""
    s = survey.spacing_m
    # spine j lies j spacings from the dock line: the longest reaches the far side, then two per bound:
    # the way out of the group beyond it, next to where that group's strips start, then the way
    # back of the group inside it (its strips start one spacing further on)
    extents = [far + s / 2] + [b for b in reversed(bounds) for _ in (0, 1)]
    spines = []
    for j, extent in enumerate(extents):
        x0, x1 = sorted((dock_xy[0] + away * j * s, dock_xy[0] + away * (j + 1) * s))
        y0, y1 = sorted((dock_xy[1], dock_xy[1] + up * extent))
        spines.append(box(x0, y0, x1, y1).intersection(quarter))
    rest = quarter.difference(shapely.union_all(spines)).buffer(0)
    groups = len(bounds) + 1
    regular: list[list[Strip]] = [[] for _ in range(groups)]
    if not rest.is_empty and rest.area > 1.0:
        rb = band_pieces(rest, s)
        for st in strips_of(rb, np.searchsorted(np.array(bounds), np.abs(rb.yc - dock_xy[1])), survey, angle, dock_xy,
                            guard):
            regular[st.cell].append(st)
    if up < 0:  # strips_of orders by rotated y; each group runs outward from the dock line
        regular = [r[::-1] for r in regular]
    spun = rotate_to_sweep(guard, math.pi / 2, dock_xy) if guard is not None else None
    lines = [_spine(p, angle, dock_xy, survey, spun) for p in spines]
    out: list[Strip] = []
    for i in range(groups):
        if i:
            out.extend(lines[2 * (groups - 1 - i) + 1])
        out.extend(regular[i])
        out.extend(lines[2 * (groups - 2 - i) + 2] if i < groups - 1 else lines[0])
    return [Strip(s.x0, s.y0, s.x1, s.y1, s.photos, s.spacing, i) for i, s in enumerate(out)]


def _group(lat: np.ndarray, swept: np.ndarray, s: float, pace: Pace, fill: float, odd: int) -> list[float]:
    """Sideways offsets where one group of strips ends and the next begins: each group an even
    count of strips (so it ends by the dock line), group `odd` an odd count, that fits, with
    its two spines, in `fill` × budget."""
    bounds: list[float] = []
    inner, t, count = 0.0, 0.0, 0
    for y, length in zip(lat, swept):
        step = length / pace.speed + pace.change_s
        total = pace.vertical_s + (inner + y + s) / pace.speed + t + step
        if count >= 2 and count % 2 == (len(bounds) == odd) and total + step > fill * pace.budget_s:
            bounds.append(y - s / 2)
            inner, t, count = y - s / 2, 0.0, 0
        t += step
        count += 1
    return bounds


def _spine(piece: BaseGeometry, angle: float, dock_xy: tuple[float, float], survey: Survey,
           spun_guard: BaseGeometry | None) -> list[Strip]:
    """The strip(s) along one spine box, flown across the sweep (`spun_guard`: the guard turned with it)."""
    if piece.is_empty or piece.area <= 1.0:
        return []
    b = band_pieces(rotate_to_sweep(piece, math.pi / 2, dock_xy), survey.spacing_m)
    return strips_of(b, np.zeros(len(b.band), int), survey, angle + math.pi / 2, dock_xy, spun_guard)
