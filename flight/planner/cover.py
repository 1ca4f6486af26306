"""Strips for one dock's share of one zone: sweep direction, dock-line split, cells, per-cell direction, cell order;
or, with a pace, a layout per quarter (comb or cells, along either axis) chosen by packing each."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from flight.planner.comb import Pace, comb_quarter, quarters
from flight.planner.strips import (
    NO_FLY_MARGIN_M, Strip, band_pieces, best_angle, cell_ids, rotate_to_sweep, strips_of, sweep_cost_s,
)
from flight.planner.sorties import Flight, pack
from flight.planner.survey import Survey

MIN_CELL_BANDS = 4  # cells with fewer strips keep the area's sweep direction
RELANE_GAIN = 0.9  # a cell takes its own direction when that flies in 90 % of the time or less


def strips_for_area(area: BaseGeometry, dock_xy: tuple[float, float], survey: Survey, speed: float,
                    change_s: float, no_fly: BaseGeometry | None, transit_per_m: float = 0.0,
                    pace: Pace | None = None, angle: float | None = None,
                    picks: dict[tuple[int, int], tuple[int, int]] | None = None) -> list[Strip]:
    """Ordered strips covering `area` (metres) for sorties flown from the dock at `dock_xy`.

    Strips run along the area's cheapest sweep direction, and the area is cut by the line
    through the dock across that direction, so strips start near the dock and run away from it:
    a sortie flies out along one strip and back along the next instead of transiting.
    `speed` is the survey speed, `change_s` the time of one strip change (turn + leg across).
    With `pace`, each quarter is combed (flight.planner.comb) or cut into cells, along either axis.
    `angle` (radians) skips the search for the sweep direction when the caller already knows it;
    `picks` likewise remembers each quarter's layout (see `_mixed`).
    """
    if angle is None:
        angle = best_angle(area, survey, speed, change_s, dock_xy, transit_per_m=transit_per_m)
    guard = no_fly.buffer(NO_FLY_MARGIN_M) if no_fly is not None and not no_fly.is_empty else None
    rotated = rotate_to_sweep(area, angle, dock_xy)
    minx, miny, maxx, maxy = rotated.bounds
    halves = [rotated.intersection(box(minx - 1, miny - 1, dock_xy[0], maxy + 1)),
              rotated.intersection(box(dock_xy[0], miny - 1, maxx + 1, maxy + 1))]
    if pace is not None:
        return _mixed(halves, dock_xy, angle, survey, speed, change_s, guard, pace, {} if picks is None else picks)
    out = _cells(halves[0], dock_xy, angle, survey, speed, change_s, guard, 0)
    out += _cells(halves[1], dock_xy, angle, survey, speed, change_s, guard, max((s.cell for s in out), default=-1) + 1)
    out.sort(key=lambda s: s.cell)  # stable: keeps band order inside each cell
    return _chain(out, dock_xy)


def _mixed(halves: list[BaseGeometry], dock_xy: tuple[float, float], angle: float, survey: Survey, speed: float,
           change_s: float, guard: BaseGeometry | None, pace: Pace,
           picks: dict[tuple[int, int], tuple[int, int]]) -> list[Strip]:
    """Each quarter (one side of the dock line and of the sweep axis) combed or cut into cells,
    along the sweep or across it, whichever the packer flies with the least time beyond the
    strips: the comb pays where a quarter is wide beside the dock, cells where it is small,
    ragged or off to one side. Quarters all start by the dock, so sorties run on between them.

    `picks` holds each quarter's choice (axis, layout) and is filled in for quarters it lacks:
    an area whose border moved a little is laid out the same way again without packing every
    layout to judge them (most of the cost)."""
    judge = pace.flight(dock_xy, survey)
    out: list[Strip] = []
    for away, half in zip((-1, 1), halves):
        for up, quarter in quarters(half, dock_xy):
            axes = ((0.0, (away, up)), (math.pi / 2, (up, -away)))  # the quarter's other axis too

            def laid(i: int) -> list[list[Strip]]:
                turn, side = axes[i]
                return _layouts(rotate_to_sweep(quarter, turn, dock_xy), dock_xy, side, angle + turn, survey, speed,
                                change_s, guard, pace)

            axis, k = picks.get((away, up), (0, -1))
            layouts = {axis: laid(axis)} if k >= 0 else {}
            if not (0 <= k < len(layouts.get(axis, [])) and layouts[axis][k]):
                layouts = {i: laid(i) for i in range(len(axes))}
                options = [(_overhead_s(o, judge), i, j) for i, found in layouts.items() for j, o in enumerate(found) if o]
                _, axis, k = min(options, default=(0.0, 0, -1))
                picks[away, up] = (axis, k)
            best = layouts[axis][k] if k >= 0 else []
            first = len(out) and out[-1].cell + 1
            out.extend(Strip(s.x0, s.y0, s.x1, s.y1, s.photos, s.spacing, first + s.cell) for s in best)
    return out


def _layouts(quarter: BaseGeometry, dock_xy: tuple[float, float], side: tuple[int, int], angle: float, survey: Survey,
             speed: float, change_s: float, guard: BaseGeometry | None, pace: Pace) -> list[list[Strip]]:
    """A quarter (rotated by `angle`, on `side` of the dock) combed with groups of each size, and in cells."""
    turned = rotate_to_sweep(guard, angle, dock_xy) if guard is not None else None
    combs = comb_quarter(quarter, dock_xy, *side, angle, survey, pace, turned)
    cells = _cells(quarter, dock_xy, angle, survey, speed, change_s, guard, 0, relane=False)
    return [*combs, _chain(sorted(cells, key=lambda s: s.cell), dock_xy)]


def _overhead_s(strips: list[Strip], judge: Flight) -> float:
    """Seconds of the packed sorties that are not spent on strips."""
    return sum(p.duration_s - p.sweep_s for p in pack(strips, judge, "a choice of layout"))


def _cells(part: BaseGeometry, dock_xy: tuple[float, float], angle: float, survey: Survey, speed: float,
           change_s: float, guard: BaseGeometry | None, first_cell: int, relane: bool = True) -> list[Strip]:
    """Strips of a half or quarter (rotated frame) by boustrophedon cell, numbered from
    `first_cell`; with `relane`, a cell along its own direction where that flies much faster
    (not worth its time in a quarter: measured no gain at twice the cost)."""
    if part.is_empty or part.area <= 1.0:
        return []
    out: list[Strip] = []
    bands = band_pieces(part, survey.spacing_m)
    cells = cell_ids(bands)
    relaned = np.zeros(len(cells), bool)
    for c in np.unique(cells):
        members = np.flatnonzero(cells == c)
        if not relane or len(members) < MIN_CELL_BANDS:
            continue
        own = _own_direction(bands, members, angle, dock_xy, survey, speed, change_s, guard, first_cell + int(c))
        if own is not None:
            out.extend(own)
            relaned[members] = True
    keep = ~relaned
    if keep.any():
        sub = type(bands)(bands.band[keep], bands.xa[keep], bands.xb[keep], bands.yc[keep], bands.parts[keep])
        out.extend(strips_of(sub, cells[keep] + first_cell, survey, angle, dock_xy,
                             rotate_to_sweep(guard, angle, dock_xy) if guard is not None else None))
    return out


def _chain(strips: list[Strip], dock_xy: tuple[float, float]) -> list[Strip]:
    """Cells renumbered in nearest-next order from the dock, each entered from whichever end
    strip lies nearer to where the previous cell left off (sorties run on from cell to cell)."""
    groups: dict[int, list[Strip]] = {}
    for s in strips:
        groups.setdefault(s.cell, []).append(s)
    here = [dock_xy]
    out: list[Strip] = []
    for rank in range(len(groups)):
        best = None
        for c, g in groups.items():
            for seq in (g, g[::-1]):
                d = min(math.dist(p, e) for p in here for e in ((seq[0].x0, seq[0].y0), (seq[0].x1, seq[0].y1)))
                if best is None or d < best[0]:
                    best = (d, c, seq)
        _, c, seq = best
        out.extend(Strip(s.x0, s.y0, s.x1, s.y1, s.photos, s.spacing, rank) for s in seq)
        del groups[c]
        here = [(seq[-1].x0, seq[-1].y0), (seq[-1].x1, seq[-1].y1)]
    return out


def _own_direction(bands, members, angle, dock_xy, survey, speed, change_s, guard, cell_id) -> list[Strip] | None:
    """Strips for one cell along its own cheapest direction, if that saves enough time."""
    here = type(bands)(bands.band[members], bands.xa[members], bands.xb[members], bands.yc[members], bands.parts[members])
    cost_here = sweep_cost_s(here, survey, speed, change_s)
    cell = rotate_to_sweep(shapely.union_all(bands.parts[members]), -angle, dock_xy)
    own = best_angle(cell, survey, speed, change_s, dock_xy, extra=(angle,))
    if math.isclose(own, angle):
        return None
    own_bands = band_pieces(rotate_to_sweep(cell, own, dock_xy), survey.spacing_m)
    if sweep_cost_s(own_bands, survey, speed, change_s) > RELANE_GAIN * cost_here:
        return None
    cells = np.full(len(own_bands.band), cell_id)
    return strips_of(own_bands, cells, survey, own, dock_xy,
                     rotate_to_sweep(guard, own, dock_xy) if guard is not None else None)
