"""Strips over an area: boustrophedon cell decomposition, sweep direction, photo positions.

An area is cut into bands one strip spacing wide, parallel to the sweep direction. Each
connected piece of a band is one strip, flown along the band's centre line, so the photo
footprint (wider than the band) covers the whole piece, including the slivers where a slanted
edge lies outside the centre line. Pieces of neighbouring bands that overlap one to one form
a cell (Choset's boustrophedon decomposition: cells split and merge where the area is
concave or holed), so a sortie sweeps a cell without photographing across a gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry.base import BaseGeometry

from flight.planner.survey import Survey

CANDIDATE_ANGLES = np.radians(np.arange(0.0, 180.0, 15.0))
MIN_PIECE_AREA_M2 = 1.0
NO_FLY_MARGIN_M = 10.0


@dataclass(frozen=True)
class Strip:
    """A flown strip in metres: photos from (x0, y0) to (x1, y1), every `spacing` metres."""

    x0: float
    y0: float
    x1: float
    y1: float
    photos: int
    spacing: float
    cell: int

    @property
    def length(self) -> float:
        return math.hypot(self.x1 - self.x0, self.y1 - self.y0)

    def reversed(self) -> "Strip":
        return Strip(self.x1, self.y1, self.x0, self.y0, self.photos, self.spacing, self.cell)


@dataclass(frozen=True)
class Bands:
    """Band pieces of an area rotated so the sweep runs along x."""

    band: np.ndarray  # band index of each piece
    xa: np.ndarray  # piece extent along the sweep
    xb: np.ndarray
    yc: np.ndarray  # centre line of the piece's band
    parts: np.ndarray  # the pieces (rotated frame)


def rotate_to_sweep(geom: BaseGeometry, angle: float, origin: tuple[float, float]) -> BaseGeometry:
    return affinity.rotate(geom, -angle, origin=origin, use_radians=True)


def rotate_back(x: np.ndarray, y: np.ndarray, angle: float, origin: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(angle), math.sin(angle)
    dx, dy = x - origin[0], y - origin[1]
    return origin[0] + dx * c - dy * s, origin[1] + dx * s + dy * c


def band_pieces(rotated: BaseGeometry, spacing: float) -> Bands:
    """Cut a (rotated) area into bands `spacing` wide, centred on the area; vectorised."""
    minx, miny, maxx, maxy = rotated.bounds
    n = max(1, math.ceil((maxy - miny) / spacing - 1e-9))
    lo = (miny + maxy - n * spacing) / 2.0 + np.arange(n) * spacing
    if n == 1:  # one band holds it all (a spine): nothing to cut
        pieces = np.array([rotated])
    else:
        try:  # clipping to a rectangle skips the general overlay: a few times faster, the same pieces
            pieces = np.array([shapely.clip_by_rect(rotated, minx - 1.0, y, maxx + 1.0, y + spacing)
                               for y in lo.tolist()])
        except shapely.errors.GEOSException:  # a degenerate ring (left by a cut) that only the overlay takes
            pieces = shapely.intersection(shapely.box(minx - 1.0, lo, maxx + 1.0, lo + spacing), rotated)
    parts, band = shapely.get_parts(pieces, return_index=True)
    keep = shapely.area(parts) > MIN_PIECE_AREA_M2
    parts, band = parts[keep], band[keep]
    bounds = shapely.bounds(parts).reshape(-1, 4)
    order = np.lexsort((bounds[:, 0], band))
    bounds, band, parts = bounds[order], band[order], parts[order]
    return Bands(band, bounds[:, 0], bounds[:, 2], lo[band] + spacing / 2.0, parts)


def sweep_cost_s(bands: Bands, survey: Survey, speed: float, change_s: float, dock_y: float = 0.0,
                 transit_per_m: float = 0.0) -> float:
    """Seconds to fly every piece, one strip change (turn + leg across) per piece, and the transit
    it will cost: what the sweep direction minimises. A sortie over strips `d` metres beside the dock (across the
    sweep) spends about `d × transit_per_m` seconds in transit per second of sweeping."""
    length = np.maximum(bands.xb - bands.xa - survey.footprint_along_m, 0.0)
    transit = (length * np.abs(bands.yc - dock_y)).sum() * transit_per_m
    return float((length.sum() + transit) / speed + len(bands.band) * change_s)


def best_angle(area: BaseGeometry, survey: Survey, speed: float, change_s: float, origin: tuple[float, float],
               extra: tuple[float, ...] = (), transit_per_m: float = 0.0) -> float:
    """Sweep direction with the cheapest strips among 15° steps and the area's long axis
    (`origin` is the dock; strips are charged for their distance beside it)."""
    candidates = list(CANDIDATE_ANGLES) + list(extra) + [long_axis(area)]
    costs = [sweep_cost_s(band_pieces(rotate_to_sweep(area, a, origin), survey.spacing_m), survey, speed, change_s,
                          origin[1], transit_per_m)
             for a in candidates]
    return float(candidates[int(np.argmin(costs))])


def long_axis(area: BaseGeometry) -> float:
    """Direction (radians, 0..π) of the long side of the area's minimum rotated rectangle."""
    ring = np.asarray(shapely.minimum_rotated_rectangle(area).exterior.coords)
    if len(ring) < 4:
        return 0.0
    edges = np.diff(ring[:3], axis=0)
    e = edges[int(np.argmax(np.hypot(edges[:, 0], edges[:, 1])))]
    return float(math.atan2(e[1], e[0]) % math.pi)


def cell_ids(bands: Bands) -> np.ndarray:
    """Boustrophedon cells: a piece continues its neighbour's cell when they overlap one to one."""
    cell = np.empty(len(bands.band), dtype=int)
    next_cell = 0
    prev = np.empty(0, dtype=int)
    prev_band = -2
    bounds = np.flatnonzero(np.diff(bands.band)) + 1
    for cur in np.split(np.arange(len(bands.band)), bounds):
        if len(cur) == 0:
            continue
        b = bands.band[cur[0]]
        if b == prev_band + 1 and len(prev):
            ov = (bands.xa[prev][:, None] < bands.xb[cur][None, :]) & (bands.xa[cur][None, :] < bands.xb[prev][:, None])
            up, down = ov.sum(1), ov.sum(0)
        else:
            ov = None
        for j, c in enumerate(cur):
            if ov is not None and down[j] == 1:
                i = int(np.flatnonzero(ov[:, j])[0])
                if up[i] == 1:
                    cell[c] = cell[prev[i]]
                    continue
            cell[c] = next_cell
            next_cell += 1
        prev, prev_band = cur, b
    return cell


def strips_of(bands: Bands, cells: np.ndarray, survey: Survey, angle: float, origin: tuple[float, float],
              no_fly_rotated: BaseGeometry | None) -> list[Strip]:
    """Photo lines of each piece, kept out of no-fly airspace, in metric coordinates."""
    length = bands.xb - bands.xa
    h, d = survey.footprint_along_m, survey.trigger_m
    photos = np.where(length <= h, 1, np.ceil(np.maximum(length - h, 0.0) / d - 1e-9).astype(int) + 1)
    mid = (bands.xa + bands.xb) / 2.0
    xs, xe = mid - (photos - 1) * d / 2.0, mid + (photos - 1) * d / 2.0
    spacing = np.full(len(xs), d)
    ys = bands.yc
    cell = cells
    if no_fly_rotated is not None and not no_fly_rotated.is_empty and len(xs):
        xs, xe, ys, photos, spacing, cell = _keep_out(xs, xe, ys, photos, spacing, cell, no_fly_rotated, d)
    order = np.lexsort((xs, ys, cell))
    xs, xe, ys, photos, spacing, cell = (a[order] for a in (xs, xe, ys, photos, spacing, cell))
    x0, y0 = rotate_back(xs, ys, angle, origin)
    x1, y1 = rotate_back(xe, ys, angle, origin)
    return [Strip(*row) for row in zip(x0.tolist(), y0.tolist(), x1.tolist(), y1.tolist(), photos.tolist(),
                                       spacing.tolist(), cell.tolist())]


def _keep_out(xs, xe, ys, photos, spacing, cell, no_fly: BaseGeometry, d: float):
    """Cut strips where their line would enter no-fly airspace; re-space photos on what is left."""
    lines = shapely.linestrings(np.stack([np.stack([xs, ys], 1), np.stack([xe + 1e-3, ys], 1)], 1))
    shapely.prepare(no_fly)
    hit = shapely.intersects(lines, no_fly)
    if not hit.any():
        return xs, xe, ys, photos, spacing, cell
    keep = ~hit
    out = [xs[keep], xe[keep], ys[keep], photos[keep], spacing[keep], cell[keep]]
    parts, idx = shapely.get_parts(shapely.difference(lines[hit], no_fly), return_index=True)
    src = np.flatnonzero(hit)[idx]
    b = shapely.bounds(parts).reshape(-1, 4)
    ok = (shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)
    p, q, src = b[ok, 0], b[ok, 2], src[ok]
    n = np.ceil((q - p) / d - 1e-9).astype(int) + 1
    out = [np.concatenate([o, new]) for o, new in zip(out, (p, q, ys[src], n, (q - p) / np.maximum(n - 1, 1), cell[src]))]
    return tuple(out)
