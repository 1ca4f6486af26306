"""What things look like from above: each builder turns one object into coloured strokes.

A stroke is a polygon in world metres with how to paint it. Violations and their look-alike
distractors are built here side by side so the differences that make the task honest (and
learnable) are visible in one place: a waterlogged road has sky glints and a muddy rim, wet
asphalt is matte; an illegal shed has corrugated stripes and a shadow, a tarpaulin has folds and
lies flat; vending umbrellas are round, market awnings are striped rows; an illegally parked car
stands on grass or pavement, the same car on the road is legal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FILL, SHADE, ALPHA = 0, 1, 2


@dataclass(frozen=True)
class Stroke:
    """One polygon to paint. `material` names a seasonal palette entry that replaces `color`."""

    layer: int
    poly: np.ndarray  # (N, 2) world metres, x east, y north
    color: tuple[int, int, int]
    mode: int = FILL
    alpha: float = 1.0
    material: str | None = None


@dataclass(frozen=True)
class Caster:
    """Something tall enough to cast a shadow whose direction depends on the sun of a render."""

    poly: np.ndarray
    height_m: float


# Paint order: ground, road marks, objects on the ground, shadows, roofs, canopy, smoke.
GROUND, MARKS, OBJECTS, SHADOWS, ROOFS, CANOPY, SMOKE = range(7)


def rect(cx: float, cy: float, w: float, h: float, angle: float = 0.0) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    pts = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    return pts @ np.array([[c, s], [-s, c]]) + (cx, cy)


def ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 16) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    pts = np.stack([rx * np.cos(t), ry * np.sin(t)], axis=1)
    c, s = math.cos(angle), math.sin(angle)
    return pts @ np.array([[c, s], [-s, c]]) + (cx, cy)


def blob(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float, angle: float, n: int = 14) -> np.ndarray:
    """An irregular rounded outline (puddles, piles)."""
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    r = 1.0 + rng.uniform(-0.22, 0.18, n)
    r = (r + np.roll(r, 1) + np.roll(r, -1)) / 3
    pts = np.stack([rx * r * np.cos(t), ry * r * np.sin(t)], axis=1)
    c, s = math.cos(angle), math.sin(angle)
    return pts @ np.array([[c, s], [-s, c]]) + (cx, cy)


def jitter(rng: np.random.Generator, color: tuple[int, int, int], amount: int = 12) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)  # type: ignore[return-value]


def _bits(rng, cx, cy, rx, ry, angle, count, size, palette, layer=OBJECTS) -> list[Stroke]:
    """Small scattered pieces inside an ellipse (bags, rubble chunks, goods)."""
    out = []
    for _ in range(count):
        r, t = math.sqrt(rng.uniform()), rng.uniform(0, 2 * math.pi)
        x, y = r * rx * math.cos(t), r * ry * math.sin(t)
        c, s = math.cos(angle), math.sin(angle)
        px, py = cx + x * c - y * s, cy + x * s + y * c
        sz = size * rng.uniform(0.6, 1.4)
        poly = ellipse(px, py, sz, sz * rng.uniform(0.5, 1.0), rng.uniform(0, math.pi), n=6)
        out.append(Stroke(layer, poly, jitter(rng, palette[rng.integers(len(palette))], 15)))
    return out


# ---------------------------------------------------------------- violations
# Each builder returns (strokes, casters, extent) where extent is the outline the label box covers.

def road_waterlogging(rng, cx, cy, size, angle):
    rx, ry = size / 2, size / 2 * rng.uniform(0.45, 0.8)
    outline = blob(rng, cx, cy, rx, ry, angle)
    inner = blob(rng, cx, cy, rx * 0.82, ry * 0.78, angle)
    strokes = [
        Stroke(OBJECTS, outline, jitter(rng, (92, 84, 66))),
        Stroke(OBJECTS, inner, jitter(rng, (74, 96, 112), 10)),
    ]
    for _ in range(rng.integers(2, 5)):
        gx, gy = cx + rng.uniform(-rx, rx) * 0.5, cy + rng.uniform(-ry, ry) * 0.5
        strokes.append(Stroke(OBJECTS, ellipse(gx, gy, rx * rng.uniform(0.15, 0.35), ry * 0.08, angle + rng.uniform(-0.3, 0.3), 8), (170, 190, 205)))
    return strokes, [], outline


def exposed_garbage(rng, cx, cy, size, angle):
    rx, ry = size / 2, size / 2 * rng.uniform(0.6, 0.95)
    outline = blob(rng, cx, cy, rx, ry, angle)
    palette = [(235, 235, 230), (40, 40, 45), (40, 90, 190), (200, 40, 40), (230, 200, 40), (60, 150, 70), (240, 150, 170)]
    strokes = [Stroke(OBJECTS, outline, jitter(rng, (95, 88, 75)))]
    strokes += _bits(rng, cx, cy, rx * 0.95, ry * 0.95, angle, int(25 * size), 0.22, palette)
    return strokes, [], outline


def accumulated_muck(rng, cx, cy, size, angle):
    rx, ry = size / 2, size / 2 * rng.uniform(0.6, 0.9)
    outline = blob(rng, cx, cy, rx, ry, angle)
    base = jitter(rng, (112, 82, 52), 10)
    strokes = [Stroke(OBJECTS, outline, base)]
    for k, f in enumerate((0.75, 0.5, 0.28)):
        shade = tuple(int(min(255, c * (1.12 + 0.1 * k))) for c in base)
        strokes.append(Stroke(OBJECTS, blob(rng, cx - 0.1 * rx * k, cy + 0.1 * ry * k, rx * f, ry * f, angle), shade))
    strokes += _bits(rng, cx, cy, rx * 0.9, ry * 0.9, angle, int(4 * size), 0.15, [(60, 45, 30), (150, 130, 100)])
    return strokes, [Caster(outline, 0.8)], outline


def construction_waste(rng, cx, cy, size, angle):
    rx, ry = size / 2, size / 2 * rng.uniform(0.55, 0.9)
    outline = blob(rng, cx, cy, rx, ry, angle, n=9)
    strokes = [Stroke(OBJECTS, outline, jitter(rng, (150, 148, 140)))]
    palette = [(190, 188, 180), (165, 80, 60), (120, 118, 112), (215, 212, 205), (140, 100, 80)]
    for _ in range(int(14 * size)):
        r, t = math.sqrt(rng.uniform()), rng.uniform(0, 2 * math.pi)
        px, py = cx + r * rx * 0.9 * math.cos(t), cy + r * ry * 0.9 * math.sin(t)
        strokes.append(Stroke(OBJECTS, rect(px, py, rng.uniform(0.2, 0.6), rng.uniform(0.15, 0.4), rng.uniform(0, math.pi)), jitter(rng, palette[rng.integers(len(palette))])))
    for _ in range(rng.integers(2, 5)):
        px, py = cx + rng.uniform(-rx, rx) * 0.6, cy + rng.uniform(-ry, ry) * 0.6
        strokes.append(Stroke(OBJECTS, rect(px, py, rng.uniform(1.0, 2.0), 0.06, rng.uniform(0, math.pi)), (70, 50, 40)))
    return strokes, [Caster(outline, 0.6)], outline


def _corrugated(rng, cx, cy, w, h, angle, base, layer, pitch=0.32):
    strokes = [Stroke(layer, rect(cx, cy, w, h, angle), base)]
    light = tuple(int(min(255, c * 1.25 + 15)) for c in base)
    n = int(w / pitch)
    c, s = math.cos(angle), math.sin(angle)
    for k in range(0, n, 2):
        off = -w / 2 + (k + 0.5) * pitch
        strokes.append(Stroke(layer, rect(cx + off * c, cy + off * s, pitch * 0.5, h, angle), light))
    return strokes


def illegal_structure(rng, cx, cy, size, angle):
    w, h = size, size * rng.uniform(0.5, 0.8)
    base = [(45, 85, 170), (55, 100, 185), (200, 200, 205), (160, 60, 50)][rng.choice(4, p=[0.45, 0.25, 0.2, 0.1])]
    strokes = _corrugated(rng, cx, cy, w, h, angle, jitter(rng, base, 8), ROOFS)
    outline = rect(cx, cy, w, h, angle)
    return strokes, [Caster(outline, rng.uniform(2.5, 3.5))], outline


def street_vending(rng, cx, cy, size, angle):
    r = size / 2 * 0.8
    colors = [((200, 40, 40), (240, 240, 235)), ((40, 80, 190), (240, 240, 235)), ((230, 180, 30), (200, 60, 40)), ((40, 140, 70), (240, 240, 235))]
    a, b = colors[rng.integers(len(colors))]
    ux, uy = cx - size * 0.18, cy
    strokes = []
    tx, ty = cx + size * 0.25, cy - size * 0.15
    strokes.append(Stroke(OBJECTS, rect(tx, ty, size * 0.45, size * 0.3, angle), jitter(rng, (120, 90, 60))))
    strokes += _bits(rng, tx, ty, size * 0.2, size * 0.13, angle, 12, 0.1, [(230, 60, 40), (250, 200, 50), (80, 170, 60), (240, 240, 240)])
    for k in range(8):
        t0 = k * math.pi / 4 + angle
        seg = np.array([[ux, uy], [ux + r * math.cos(t0), uy + r * math.sin(t0)], [ux + r * math.cos(t0 + math.pi / 4), uy + r * math.sin(t0 + math.pi / 4)]])
        strokes.append(Stroke(ROOFS, seg, a if k % 2 == 0 else b))
    for _ in range(rng.integers(1, 4)):
        px, py = cx + rng.uniform(-size, size) * 0.4, cy + rng.uniform(-size, size) * 0.4
        strokes.append(Stroke(OBJECTS, ellipse(px, py, 0.25, 0.2, n=8), (35, 30, 30)))
    outline = np.vstack([ellipse(ux, uy, r, r), rect(tx, ty, size * 0.45, size * 0.3, angle)])
    return strokes, [Caster(ellipse(ux, uy, r, r), 2.2)], outline


CAR_COLORS = [(235, 235, 235), (30, 30, 35), (170, 172, 178), (180, 30, 30), (40, 70, 150), (120, 125, 130)]


def car(rng, cx, cy, angle, layer=OBJECTS):
    length, width = rng.uniform(4.2, 4.9), rng.uniform(1.75, 1.95)
    body = jitter(rng, CAR_COLORS[rng.integers(len(CAR_COLORS))], 8)
    c, s = math.cos(angle), math.sin(angle)
    strokes = [Stroke(layer, rect(cx, cy, length, width, angle), body)]
    strokes.append(Stroke(layer, rect(cx + 0.55 * c, cy + 0.55 * s, 0.7, width * 0.8, angle), (25, 30, 40)))
    strokes.append(Stroke(layer, rect(cx - 1.25 * c, cy - 1.25 * s, 0.45, width * 0.75, angle), (25, 30, 40)))
    roof = tuple(int(min(255, v * 1.08 + 6)) for v in body)
    strokes.append(Stroke(layer, rect(cx - 0.35 * c, cy - 0.35 * s, 1.5, width * 0.72, angle), roof))
    outline = rect(cx, cy, length, width, angle)
    return strokes, [Caster(outline, 1.5)], outline


def illegal_parking(rng, cx, cy, size, angle):
    return car(rng, cx, cy, angle)


def burning_smoke(rng, cx, cy, size, angle):
    length = size
    strokes = [Stroke(OBJECTS, blob(rng, cx, cy, 0.9, 0.8, 0), (25, 22, 20))]
    strokes.append(Stroke(OBJECTS, blob(rng, cx, cy, 0.55, 0.45, 0), (240, 120, 30)))
    strokes.append(Stroke(OBJECTS, ellipse(cx, cy, 0.22, 0.2, n=8), (255, 220, 90)))
    c, s = math.cos(angle), math.sin(angle)
    for k in range(6):
        f = (k + 1) / 6
        px, py = cx + c * length * f * 0.8, cy + s * length * f * 0.8
        r = 0.8 + 0.25 * length * f
        strokes.append(Stroke(SMOKE, blob(rng, px, py, r, r * 0.7, angle), (205, 205, 200), ALPHA, 0.55 - 0.06 * k))
    outline = np.vstack([ellipse(cx, cy, 1.0, 1.0), ellipse(cx + c * length * 0.45, cy + s * length * 0.45, length * 0.3, length * 0.22, angle)])
    return strokes, [], outline


def illegal_logging(rng, cx, cy, size, angle):
    length = size
    c, s = math.cos(angle), math.sin(angle)
    x0, y0 = cx - c * length / 2, cy - s * length / 2
    strokes = [Stroke(OBJECTS, ellipse(x0, y0, 0.45, 0.45, n=10), (200, 170, 120)), Stroke(OBJECTS, ellipse(x0, y0, 0.25, 0.25, n=8), (160, 120, 80))]
    strokes += _bits(rng, x0, y0, 1.0, 1.0, 0, 12, 0.08, [(220, 200, 150)])
    trunk_len = length * 0.6
    strokes.append(Stroke(OBJECTS, rect(x0 + c * (trunk_len / 2 + 0.8), y0 + s * (trunk_len / 2 + 0.8), trunk_len, 0.7, angle), (105, 75, 50)))
    crown_c = (x0 + c * length * 0.72, y0 + s * length * 0.72)
    crown = blob(rng, crown_c[0], crown_c[1], length * 0.3, length * 0.18, angle)
    strokes.append(Stroke(OBJECTS, crown, (78, 100, 45), material="felled_leaves"))
    for _ in range(6):
        bx, by = crown_c[0] + rng.uniform(-1, 1) * length * 0.22, crown_c[1] + rng.uniform(-1, 1) * length * 0.1
        strokes.append(Stroke(OBJECTS, rect(bx, by, length * 0.25, 0.12, angle + rng.uniform(-0.8, 0.8)), (95, 70, 45)))
    outline = np.vstack([ellipse(x0, y0, 0.6, 0.6), crown, rect(cx, cy, length, 0.5, angle)])
    return strokes, [], outline


VIOLATION_BUILDERS = {
    "road_waterlogging": (road_waterlogging, (3.0, 8.0)),
    "exposed_garbage": (exposed_garbage, (1.6, 3.5)),
    "accumulated_muck": (accumulated_muck, (2.5, 5.5)),
    "construction_waste": (construction_waste, (2.5, 6.0)),
    "illegal_structure": (illegal_structure, (4.0, 8.0)),
    "street_vending": (street_vending, (2.6, 3.6)),
    "illegal_parking": (illegal_parking, (4.5, 4.5)),
    "burning_smoke": (burning_smoke, (4.0, 9.0)),
    "illegal_logging": (illegal_logging, (6.0, 11.0)),
}

# ---------------------------------------------------------------- distractors


def tarpaulin(rng, cx, cy, size, angle):
    w, h = size, size * rng.uniform(0.6, 0.9)
    base = jitter(rng, [(40, 95, 190), (30, 120, 170), (70, 110, 60)][rng.integers(3)], 10)
    poly = rect(cx, cy, w, h, angle) + rng.uniform(-0.2, 0.2, (4, 2))
    strokes = [Stroke(OBJECTS, poly, base)]
    dark = tuple(int(v * 0.8) for v in base)
    for _ in range(rng.integers(3, 7)):
        px, py = cx + rng.uniform(-w, w) * 0.35, cy + rng.uniform(-h, h) * 0.35
        strokes.append(Stroke(OBJECTS, rect(px, py, rng.uniform(0.8, 2.0), 0.12, rng.uniform(0, math.pi)), dark))
    return strokes, []


def building_materials(rng, cx, cy, size, angle):
    strokes, casters = [], []
    c, s = math.cos(angle), math.sin(angle)
    kind = rng.integers(3)
    for k in range(rng.integers(2, 5)):
        off = (k - 1.5) * 1.3
        px, py = cx + off * c, cy + off * s
        if kind == 0:  # pallets of bricks, neat
            color = jitter(rng, (165, 85, 60), 6)
        elif kind == 1:  # cement bags
            color = jitter(rng, (200, 195, 185), 6)
        else:  # stacked timber / pipes
            color = jitter(rng, (175, 140, 95), 6)
        poly = rect(px, py, 1.1, 1.1, angle)
        strokes.append(Stroke(OBJECTS, poly, color))
        line = tuple(int(v * 0.8) for v in color)
        for j in range(3):
            o = -0.35 + j * 0.35
            strokes.append(Stroke(OBJECTS, rect(px - o * s, py + o * c, 1.1, 0.05, angle), line))
        casters.append(Caster(poly, 1.0))
    return strokes, casters


def wet_asphalt(rng, cx, cy, size, angle):
    return [Stroke(OBJECTS, blob(rng, cx, cy, size / 2, size / 3, angle), jitter(rng, (40, 42, 46), 4))], []


def bare_patch(rng, cx, cy, size, angle):
    return [Stroke(OBJECTS, blob(rng, cx, cy, size / 2, size / 2.5, angle), jitter(rng, (140, 112, 82), 10))], []


def market_stall(rng, cx, cy, size, angle):
    """A licensed stall: rectangular striped awning, part of a row."""
    w, h = rng.uniform(2.5, 3.2), rng.uniform(2.0, 2.6)
    a = [(200, 40, 40), (40, 80, 190), (40, 140, 70), (230, 180, 30)][rng.integers(4)]
    strokes = [Stroke(ROOFS, rect(cx, cy, w, h, angle), (240, 240, 235))]
    c, s = math.cos(angle), math.sin(angle)
    for k in range(0, 6, 2):
        off = -w / 2 + (k + 0.5) * w / 6
        strokes.append(Stroke(ROOFS, rect(cx + off * c, cy + off * s, w / 6, h, angle), a))
    return strokes, [Caster(rect(cx, cy, w, h, angle), 2.4)]


def parked_car(rng, cx, cy, size, angle):
    strokes, casters, _ = car(rng, cx, cy, angle)
    return strokes, casters


def tree(rng, cx, cy, radius):
    crown = blob(rng, cx, cy, radius, radius * rng.uniform(0.85, 1.0), rng.uniform(0, math.pi), n=12)
    strokes = [Stroke(CANOPY, crown, (55, 95, 45), material="canopy")]
    for _ in range(4):
        px, py = cx + rng.uniform(-0.4, 0.4) * radius, cy + rng.uniform(-0.4, 0.4) * radius
        strokes.append(Stroke(CANOPY, ellipse(px, py, radius * 0.35, radius * 0.3, n=8), (75, 120, 55), material="canopy_light"))
    return strokes, [Caster(crown, rng.uniform(5.0, 9.0))]


DISTRACTOR_BUILDERS = {
    "tarpaulin": (tarpaulin, (2.5, 6.0)),
    "building_materials": (building_materials, (3.0, 5.0)),
    "bare_patch": (bare_patch, (2.0, 6.0)),
}  # licensed market stalls stand only in rows inside market blocks: a lone stall is vending
ROAD_DISTRACTOR_BUILDERS = {
    "wet_asphalt": (wet_asphalt, (2.5, 7.0)),
    "parked_car": (parked_car, (4.5, 4.5)),
}
