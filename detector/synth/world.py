"""A seeded, endless synthetic city laid out on a grid of blocks around a lon/lat origin.

Nothing is stored: each block (roads on its south and west sides, pavement, a yard ring, a core
of buildings / park / lot / market / car park, violations and distractors) is a pure function
of (seed, block index), so any area of any size can be painted or queried for ground truth on
demand, and the same seed always gives the same city.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from detector.geo import MetricFrame
from detector.synth import shapes as sh

# The model's classes, in class-index order: the taxonomy codes of configs/taxonomy.yaml.
CLASSES: tuple[str, ...] = (
    "road_waterlogging",
    "exposed_garbage",
    "accumulated_muck",
    "construction_waste",
    "illegal_structure",
    "street_vending",
    "illegal_parking",
    "burning_smoke",
    "illegal_logging",
)

PITCH_M = 72.0  # block grid spacing
ROAD_HALF_M = 5.0
SIDEWALK_M = 3.0
YARD_M = 9.0
QUZHOU = (118.8726, 28.9417)  # lon, lat of central Quzhou

ASPHALT, SIDEWALK = (62, 64, 68), (150, 146, 138)
YARD_GROUND = {"grass": (70, 110, 50), "bare": (146, 118, 86), "paving": (168, 163, 152)}
ROOF_COLORS = [(140, 140, 138), (150, 72, 52), (208, 208, 202), (88, 118, 92), (120, 110, 100), (62, 100, 168)]


@dataclass(frozen=True)
class Planted:
    """One planted violation: the ground truth that detections are scored against."""

    id: str
    code: str
    x: float  # world-local metres east of the origin
    y: float  # world-local metres north of the origin
    size_m: float
    extent: np.ndarray = field(repr=False, compare=False)  # outline the label box covers, local metres
    lon: float = 0.0
    lat: float = 0.0

    def to_json(self) -> dict:
        return {"id": self.id, "type": self.code, "lon": self.lon, "lat": self.lat, "size_m": round(self.size_m, 2)}


@dataclass(frozen=True)
class Block:
    i: int
    j: int
    strokes: tuple[sh.Stroke, ...]
    casters: tuple[sh.Caster, ...]
    violations: tuple[Planted, ...]
    distractors: tuple[tuple[str, float, float], ...] = ()  # (look-alike kind, x, y) in the yard and on the road
    # per violation: the (start, stop) of its strokes and of its casters, so thinning can take it out
    parts: tuple[tuple[int, int, int, int], ...] = field(default=(), repr=False, compare=False)

    def without(self, drop: set[int]) -> "Block":
        """This block with the violations at indices `drop` (and everything painted for them) removed."""
        if not drop:
            return self
        gone_s = {k for v in drop for k in range(self.parts[v][0], self.parts[v][1])}
        gone_c = {k for v in drop for k in range(self.parts[v][2], self.parts[v][3])}
        keep = [v for v in range(len(self.violations)) if v not in drop]
        return Block(self.i, self.j, tuple(st for k, st in enumerate(self.strokes) if k not in gone_s),
                     tuple(c for k, c in enumerate(self.casters) if k not in gone_c),
                     tuple(self.violations[v] for v in keep), self.distractors)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        x0, y0 = self.i * PITCH_M - ROAD_HALF_M, self.j * PITCH_M - ROAD_HALF_M
        return x0, y0, x0 + PITCH_M, y0 + PITCH_M


def _rng(*keys) -> np.random.Generator:
    digest = hashlib.blake2b(repr(keys).encode(), digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


@dataclass(frozen=True)
class _Slot:
    cx: float
    cy: float
    length: float  # along `angle`
    depth: float
    angle: float


class World:
    """The synthetic city of one seed. `violation_rate` is the mean violations per block.

    `min_spacing_m` (type → metres) keeps same-type violations at least that far apart, so each
    one is a distinct incident under a dispatcher that merges closer sightings: a violation is
    dropped when a same-type one within the spacing has a lower random priority (Matérn type II
    thinning, decided from the unthinned neighbours alone, so any block is still a pure function
    of its index). Without it the city is exactly the unthinned one.
    """

    def __init__(
        self,
        seed: int = 0,
        origin_lon: float = QUZHOU[0],
        origin_lat: float = QUZHOU[1],
        violation_rate: float = 1.0,
        codes: tuple[str, ...] = CLASSES,
        min_spacing_m: dict[str, float] | None = None,
    ) -> None:
        unknown = set(codes) - set(CLASSES)
        if unknown:
            raise ValueError(f"codes: the synthetic world cannot plant {sorted(unknown)}; it knows {list(CLASSES)}")
        self.seed, self.codes, self.violation_rate = seed, tuple(codes), violation_rate
        self.frame = MetricFrame.around(origin_lon, origin_lat)
        e, n = self.frame.forward(origin_lon, origin_lat)
        self.origin_m = (float(e), float(n))
        self.min_spacing_m = {c: float(d) for c, d in (min_spacing_m or {}).items() if d > 0}
        self._raw = lru_cache(maxsize=8192)(self._build_block)
        self.block = lru_cache(maxsize=4096)(self._thinned_block) if self.min_spacing_m else self._raw

    # ------------------------------------------------------------ coordinates
    def to_local(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        e, n = self.frame.forward(lon, lat)
        return np.asarray(e) - self.origin_m[0], np.asarray(n) - self.origin_m[1]

    def to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self.frame.inverse(np.asarray(x) + self.origin_m[0], np.asarray(y) + self.origin_m[1])
        return np.asarray(lon), np.asarray(lat)

    # ------------------------------------------------------------ queries
    def blocks_in(self, x0: float, y0: float, x1: float, y1: float) -> list[Block]:
        """Blocks whose ground touches the local-metre box (x0, y0)–(x1, y1)."""
        i0, i1 = math.floor((x0 + ROAD_HALF_M) / PITCH_M), math.floor((x1 + ROAD_HALF_M) / PITCH_M)
        j0, j1 = math.floor((y0 + ROAD_HALF_M) / PITCH_M), math.floor((y1 + ROAD_HALF_M) / PITCH_M)
        return [self.block(i, j) for j in range(j0, j1 + 1) for i in range(i0, i1 + 1)]

    def violations_local(self, x0: float, y0: float, x1: float, y1: float) -> list[Planted]:
        return [
            v
            for b in self.blocks_in(x0, y0, x1, y1)
            for v in b.violations
            if x0 <= v.x <= x1 and y0 <= v.y <= y1
        ]

    def violations(self, area: BaseGeometry) -> list[Planted]:
        """Planted violations whose centre lies in a lon/lat area (any shapely geometry)."""
        local = Polygon(np.column_stack(self.to_local(*np.asarray(area.envelope.exterior.coords).T)))
        x0, y0, x1, y1 = local.bounds
        metric_area = self.frame.to_metric(area)
        return [
            v
            for v in self.violations_local(x0, y0, x1, y1)
            if metric_area.covers(Point(v.x + self.origin_m[0], v.y + self.origin_m[1]))
        ]

    # ------------------------------------------------------------ layout
    def _build_block(self, i: int, j: int) -> Block:
        rng = _rng("block", self.seed, i, j)
        bx, by = i * PITCH_M, j * PITCH_M  # south-west road crossing
        strokes: list[sh.Stroke] = []
        casters: list[sh.Caster] = []
        lo, hi = ROAD_HALF_M, PITCH_M - ROAD_HALF_M
        # roads on the south and west sides, with a dashed centre line
        strokes.append(sh.Stroke(sh.GROUND, sh.rect(bx + PITCH_M / 2 - ROAD_HALF_M, by, PITCH_M, 2 * ROAD_HALF_M), ASPHALT))
        strokes.append(sh.Stroke(sh.GROUND, sh.rect(bx, by + PITCH_M / 2 - ROAD_HALF_M, 2 * ROAD_HALF_M, PITCH_M), ASPHALT))
        for k in range(int((hi - lo) / 6)):
            strokes.append(sh.Stroke(sh.MARKS, sh.rect(bx + lo + 3 + 6 * k, by, 3.0, 0.15), (225, 225, 215)))
            strokes.append(sh.Stroke(sh.MARKS, sh.rect(bx, by + lo + 3 + 6 * k, 0.15, 3.0), (225, 225, 215)))
        # pavement ring, yard ring, core
        cx, cy = bx + PITCH_M / 2, by + PITCH_M / 2
        inner = PITCH_M - 2 * ROAD_HALF_M
        strokes.append(sh.Stroke(sh.GROUND, sh.rect(cx, cy, inner, inner), SIDEWALK))
        yard_kind = ["grass", "bare", "paving"][rng.choice(3, p=[0.5, 0.25, 0.25])]
        yard = inner - 2 * SIDEWALK_M
        strokes.append(sh.Stroke(sh.GROUND, sh.rect(cx, cy, yard, yard), sh.jitter(rng, YARD_GROUND[yard_kind], 8), material="grass" if yard_kind == "grass" else None))
        core = yard - 2 * YARD_M
        self._core(rng, cx, cy, core, strokes, casters)

        yard_slots, road_slots = _slots(bx, by)
        order = rng.permutation(len(yard_slots))
        free_yard = [yard_slots[k] for k in order]
        free_road = [road_slots[k] for k in rng.permutation(len(road_slots))]

        violations: list[Planted] = []
        distractors: list[tuple[str, float, float]] = []
        n_viol = min(int(rng.poisson(self.violation_rate)), 4)
        parts: list[tuple[int, int, int, int]] = []
        for k in range(n_viol):
            s0, c0 = len(strokes), len(casters)
            code = self.codes[rng.integers(len(self.codes))]
            slot = (free_road if code == "road_waterlogging" else free_yard).pop()
            v_rng = _rng("violation", self.seed, i, j, k)
            builder, (smin, smax) = sh.VIOLATION_BUILDERS[code]
            size = float(v_rng.uniform(smin, smax))
            size = min(size, slot.length - 1.0)
            angle = slot.angle + float(v_rng.uniform(-0.35, 0.35)) if code in _ALONG_SLOT else float(v_rng.uniform(0, 2 * math.pi))
            px, py = _place(v_rng, slot, size)
            v_strokes, v_casters, extent = builder(v_rng, px, py, size, angle)
            strokes += v_strokes
            casters += v_casters
            ex0, ey0 = extent.min(axis=0)
            ex1, ey1 = extent.max(axis=0)
            vx, vy = float((ex0 + ex1) / 2), float((ey0 + ey1) / 2)
            lon, lat = self.to_lonlat(vx, vy)
            violations.append(Planted(f"s{self.seed}-b{i}_{j}-{k}", code, vx, vy, size, extent, float(lon), float(lat)))
            if code != "burning_smoke" and v_rng.uniform() < 0.2:  # a tree hides part of it
                corner = extent[v_rng.integers(len(extent))]
                t_strokes, t_casters = sh.tree(v_rng, float(corner[0]), float(corner[1]), 0.3 * size)
                strokes += t_strokes
                casters += t_casters
            parts.append((s0, len(strokes), c0, len(casters)))

        for k in range(int(rng.integers(2, 5))):
            if not free_yard:
                break
            slot = free_yard.pop()
            name = list(sh.DISTRACTOR_BUILDERS)[rng.integers(len(sh.DISTRACTOR_BUILDERS))]
            builder, (smin, smax) = sh.DISTRACTOR_BUILDERS[name]
            size = min(float(rng.uniform(smin, smax)), slot.length - 1.0)
            px, py = _place(rng, slot, size)
            d_strokes, d_casters = builder(rng, px, py, size, slot.angle + float(rng.uniform(-0.3, 0.3)))
            strokes += d_strokes
            casters += d_casters
            distractors.append((name, px, py))
        for k in range(int(rng.integers(1, 4))):
            if not free_road:
                break
            slot = free_road.pop()
            name = list(sh.ROAD_DISTRACTOR_BUILDERS)[rng.integers(len(sh.ROAD_DISTRACTOR_BUILDERS))]
            builder, (smin, smax) = sh.ROAD_DISTRACTOR_BUILDERS[name]
            size = float(rng.uniform(smin, smax))
            lane = rng.choice([-1.0, 1.0]) * 2.8
            px = slot.cx - math.sin(slot.angle) * lane
            py = slot.cy + math.cos(slot.angle) * lane
            d_strokes, d_casters = builder(rng, px, py, size, slot.angle)
            strokes += d_strokes
            casters += d_casters
            distractors.append((name, px, py))
        for slot in free_yard[: int(rng.integers(2, 6))]:
            t_strokes, t_casters = sh.tree(rng, *_place(rng, slot, 4.0), float(rng.uniform(1.8, 3.6)))
            strokes += t_strokes
            casters += t_casters
        return Block(i, j, tuple(strokes), tuple(casters), tuple(violations), tuple(distractors), tuple(parts))

    def _thinned_block(self, i: int, j: int) -> Block:
        raw = self._raw(i, j)
        return raw.without({k for k, v in enumerate(raw.violations) if self._outranked(v, i, j)})

    def _outranked(self, v: Planted, i: int, j: int) -> bool:
        """A same-type violation closer than the spacing has a lower priority than `v`."""
        spacing = self.min_spacing_m.get(v.code)
        if spacing is None:
            return False
        mine, reach = self._priority(v.id), math.ceil(spacing / PITCH_M)
        return any(u.code == v.code and u.id != v.id and math.hypot(u.x - v.x, u.y - v.y) < spacing
                   and self._priority(u.id) < mine
                   for di in range(-reach, reach + 1) for dj in range(-reach, reach + 1)
                   for u in self._raw(i + di, j + dj).violations)

    def _priority(self, violation_id: str) -> float:
        return float(_rng("priority", self.seed, violation_id).uniform())

    def _core(self, rng, cx, cy, size, strokes, casters) -> None:
        kind = rng.choice(["residential", "park", "lot", "market", "parking"], p=[0.45, 0.15, 0.15, 0.1, 0.15])
        if kind == "residential":
            n = int(rng.choice([1, 2, 4]))
            parts = [(cx, cy, size, size)] if n == 1 else (
                [(cx - size / 4, cy, size / 2 - 1, size - 2), (cx + size / 4, cy, size / 2 - 1, size - 2)] if n == 2
                else [(cx + dx * size / 4, cy + dy * size / 4, size / 2 - 2, size / 2 - 2) for dx in (-1, 1) for dy in (-1, 1)]
            )
            for px, py, w, h in parts:
                color = sh.jitter(rng, ROOF_COLORS[rng.choice(len(ROOF_COLORS), p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.15])], 10)
                poly = sh.rect(px, py, w, h)
                strokes.append(sh.Stroke(sh.ROOFS, poly, tuple(int(c * 0.8) for c in color)))
                strokes.append(sh.Stroke(sh.ROOFS, sh.rect(px, py, w - 1.0, h - 1.0), color))
                if rng.uniform() < 0.5:
                    strokes.append(sh.Stroke(sh.ROOFS, sh.rect(px + rng.uniform(-w, w) / 4, py + rng.uniform(-h, h) / 4, 2.5, 2.0), (110, 110, 112)))
                casters.append(sh.Caster(poly, float(rng.uniform(6, 22))))
        elif kind == "park":
            strokes.append(sh.Stroke(sh.GROUND, sh.rect(cx, cy, size, size), YARD_GROUND["grass"], material="grass"))
            if rng.uniform() < 0.6:
                pond = sh.blob(rng, cx, cy, size * 0.3, size * 0.22, rng.uniform(0, math.pi))
                strokes.append(sh.Stroke(sh.GROUND, pond, (52, 78, 72)))
                strokes.append(sh.Stroke(sh.GROUND, sh.blob(rng, cx, cy, size * 0.24, size * 0.16, 0.0), (40, 68, 70)))
            for _ in range(int(rng.integers(4, 9))):
                t_strokes, t_casters = sh.tree(rng, cx + rng.uniform(-0.42, 0.42) * size, cy + rng.uniform(-0.42, 0.42) * size, float(rng.uniform(2, 4)))
                strokes += t_strokes
                casters += t_casters
        elif kind == "lot":
            strokes.append(sh.Stroke(sh.GROUND, sh.rect(cx, cy, size, size), sh.jitter(rng, YARD_GROUND["bare"], 10)))
            for _ in range(int(rng.integers(2, 5))):
                name = ["building_materials", "tarpaulin", "bare_patch"][rng.integers(3)]
                builder, (smin, smax) = sh.DISTRACTOR_BUILDERS[name]
                d_strokes, d_casters = builder(rng, cx + rng.uniform(-0.35, 0.35) * size, cy + rng.uniform(-0.35, 0.35) * size, float(rng.uniform(smin, smax)), float(rng.uniform(0, math.pi)))
                strokes += d_strokes
                casters += d_casters
        elif kind == "market":
            strokes.append(sh.Stroke(sh.GROUND, sh.rect(cx, cy, size, size), YARD_GROUND["paving"]))
            for row in (-1, 1):
                for k in range(int(rng.integers(4, 8))):
                    d_strokes, d_casters = sh.market_stall(rng, cx - size * 0.4 + k * 3.4, cy + row * size * 0.2, 3.0, 0.0)
                    strokes += d_strokes
                    casters += d_casters
        else:
            strokes.append(sh.Stroke(sh.GROUND, sh.rect(cx, cy, size, size), ASPHALT))
            for row in (-1, 1):
                for k in range(10):
                    x = cx - size * 0.45 + k * 3.0
                    strokes.append(sh.Stroke(sh.MARKS, sh.rect(x - 1.5, cy + row * size * 0.22, 0.12, 5.0), (220, 220, 210)))
                    if rng.uniform() < 0.7:
                        c_strokes, c_casters, _ = sh.car(rng, x, cy + row * size * 0.22, math.pi / 2 + rng.uniform(-0.05, 0.05))
                        strokes += c_strokes
                        casters += c_casters


_ALONG_SLOT = {"illegal_logging", "burning_smoke", "illegal_structure", "illegal_parking", "road_waterlogging"}


def _slots(bx: float, by: float) -> tuple[list[_Slot], list[_Slot]]:
    """Yard slots (ring between pavement and core) and road slots (south and west roads)."""
    lo = ROAD_HALF_M + SIDEWALK_M
    hi = PITCH_M - lo
    depth = YARD_M
    yard: list[_Slot] = []
    n = 4
    step = (hi - lo) / n
    for k in range(n):
        x = bx + lo + (k + 0.5) * step
        yard.append(_Slot(x, by + lo + depth / 2, step, depth, 0.0))
        yard.append(_Slot(x, by + hi - depth / 2, step, depth, 0.0))
    side = hi - lo - 2 * depth
    for k in range(3):
        y = by + lo + depth + (k + 0.5) * side / 3
        yard.append(_Slot(bx + lo + depth / 2, y, side / 3, depth, math.pi / 2))
        yard.append(_Slot(bx + hi - depth / 2, y, side / 3, depth, math.pi / 2))
    road: list[_Slot] = []
    rstep = (PITCH_M - 2 * ROAD_HALF_M) / 4
    for k in range(4):
        road.append(_Slot(bx + ROAD_HALF_M + (k + 0.5) * rstep, by, rstep, 2 * ROAD_HALF_M, 0.0))
        road.append(_Slot(bx, by + ROAD_HALF_M + (k + 0.5) * rstep, rstep, 2 * ROAD_HALF_M, math.pi / 2))
    return yard, road


def _place(rng: np.random.Generator, slot: _Slot, size: float) -> tuple[float, float]:
    """A centre inside the slot that leaves room for an object of `size` metres."""
    along = max(0.0, (slot.length - size) / 2 - 0.5)
    across = max(0.0, (slot.depth - min(size, slot.depth)) / 2 - 0.3)
    a, b = rng.uniform(-along, along), rng.uniform(-across, across)
    c, s = math.cos(slot.angle), math.sin(slot.angle)
    return slot.cx + a * c - b * s, slot.cy + a * s + b * c
