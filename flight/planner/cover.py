"""Strips for one dock's share of one zone: sweep direction, dock-line split, cells, per-cell direction, cell order."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from flight.planner.comb import Pace, comb_strips
from flight.planner.strips import (
    NO_FLY_MARGIN_M, Strip, band_pieces, best_angle, cell_ids, rotate_to_sweep, strips_of, sweep_cost_s,
)
from flight.planner.survey import Survey

MIN_CELL_BANDS = 4  # cells with fewer strips keep the area's sweep direction
RELANE_GAIN = 0.9  # a cell takes its own direction when that flies in 90 % of the time or less


def strips_for_area(area: BaseGeometry, dock_xy: tuple[float, float], survey: Survey, speed: float,
                    change_s: float, no_fly: BaseGeometry | None, transit_per_m: float = 0.0,
                    pace: Pace | None = None) -> list[Strip]:
    """Ordered strips covering `area` (metres) for sorties flown from the dock at `dock_xy`.

    Strips run along the area's cheapest sweep direction, and the area is cut by the line
    through the dock across that direction, so strips start near the dock and run away from it:
    a sortie flies out along one strip and back along the next instead of transiting.
    `speed` is the survey speed, `change_s` the time of one strip change (turn + leg across).
    With `pace`, the halves are combed (flight.planner.comb) instead of cut into cells.
    """
    angle = best_angle(area, survey, speed, change_s, dock_xy, transit_per_m=transit_per_m)
    guard = no_fly.buffer(NO_FLY_MARGIN_M) if no_fly is not None and not no_fly.is_empty else None
    rotated = rotate_to_sweep(area, angle, dock_xy)
    minx, miny, maxx, maxy = rotated.bounds
    halves = [rotated.intersection(box(minx - 1, miny - 1, dock_xy[0], maxy + 1)),
              rotated.intersection(box(dock_xy[0], miny - 1, maxx + 1, maxy + 1))]
    if pace is not None:
        return comb_strips(halves, dock_xy, angle, survey, pace,
                           rotate_to_sweep(guard, angle, dock_xy) if guard is not None else None)
    out: list[Strip] = []
    next_cell = 0
    for half in halves:
        if half.is_empty or half.area <= 1.0:
            continue
        bands = band_pieces(half, survey.spacing_m)
        cells = cell_ids(bands)
        relaned = np.zeros(len(cells), bool)
        for c in np.unique(cells):
            members = np.flatnonzero(cells == c)
            if len(members) < MIN_CELL_BANDS:
                continue
            own = _own_direction(bands, members, angle, dock_xy, survey, speed, change_s, guard, next_cell + int(c))
            if own is not None:
                out.extend(own)
                relaned[members] = True
        keep = ~relaned
        if keep.any():
            sub = type(bands)(bands.band[keep], bands.xa[keep], bands.xb[keep], bands.yc[keep], bands.parts[keep])
            out.extend(strips_of(sub, cells[keep] + next_cell, survey, angle, dock_xy,
                                 rotate_to_sweep(guard, angle, dock_xy) if guard is not None else None))
        next_cell += int(cells.max()) + 1 if len(cells) else 0
    out.sort(key=lambda s: s.cell)  # stable: keeps band order inside each cell
    return _chain(out, dock_xy)


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
