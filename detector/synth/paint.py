"""Rasterise the synthetic city into a north-up orthophoto at any ground resolution.

Season and sun come from a `Look`, so one city can be seen in summer noon light and in a winter
afternoon with long shadows; strokes are drawn with OpenCV polygon fills in sub-pixel precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from detector.synth import shapes as sh
from detector.synth.world import World

SEASONS: dict[str, dict[str, tuple[int, int, int]]] = {
    # felled crowns wilt within days: yellower and drier than living canopy or lawn in every season
    "spring": {"grass": (92, 132, 60), "canopy": (66, 116, 50), "canopy_light": (104, 146, 68), "felled_leaves": (146, 136, 62)},
    "summer": {"grass": (70, 110, 50), "canopy": (48, 88, 40), "canopy_light": (74, 118, 54), "felled_leaves": (140, 128, 58)},
    "autumn": {"grass": (112, 116, 62), "canopy": (118, 102, 44), "canopy_light": (150, 120, 56), "felled_leaves": (166, 112, 44)},
    "winter": {"grass": (124, 114, 86), "canopy": (92, 84, 60), "canopy_light": (112, 100, 70), "felled_leaves": (126, 96, 58)},
}
SHIFT = 4  # fixed-point bits for sub-pixel polygon fills


@dataclass(frozen=True)
class Look:
    """How a render is lit and what season it shows."""

    season: str = "summer"
    sun_azimuth_deg: float = 150.0
    sun_elevation_deg: float = 55.0
    shadow_strength: float = 0.45
    brightness: float = 1.0
    contrast: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    haze: float = 0.0

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Look":
        return cls(
            season=str(rng.choice(list(SEASONS))),
            sun_azimuth_deg=float(rng.uniform(90, 270)),
            sun_elevation_deg=float(rng.uniform(35, 80)),
            shadow_strength=float(rng.uniform(0.25, 0.6)),
            brightness=float(rng.uniform(0.75, 1.2)),
            contrast=float(rng.uniform(0.8, 1.15)),
            tint=tuple(float(t) for t in rng.uniform(0.92, 1.08, 3)),  # type: ignore[arg-type]
            haze=float(rng.uniform(0.0, 0.15)),
        )


def shadow_of(caster: sh.Caster, look: Look) -> np.ndarray:
    """Ground outline of a caster's shadow: its outline swept away from the sun."""
    length = caster.height_m / math.tan(math.radians(max(look.sun_elevation_deg, 10.0)))
    az = math.radians(look.sun_azimuth_deg + 180.0)
    offset = np.array([math.sin(az) * length, math.cos(az) * length])
    pts = np.vstack([caster.poly, caster.poly + offset]).astype(np.float32)
    return cv2.convexHull(pts).reshape(-1, 2).astype(np.float64)


@lru_cache(maxsize=4)
def _grain(seed: int) -> np.ndarray:
    """A 256² tile of fine texture noise (±1), tiled over the canvas."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((256, 256)).astype(np.float32)


def paint_ground(world: World, x0: float, y0: float, x1: float, y1: float, gsd: float, look: Look, seed: int = 0) -> np.ndarray:
    """North-up RGB raster of the box (x0, y0)–(x1, y1) in world-local metres at `gsd` m/px.

    Pixel (r, c) is centred on x = x0 + (c + 0.5)·gsd, y = y1 − (r + 0.5)·gsd.
    """
    width, height = max(1, int(round((x1 - x0) / gsd))), max(1, int(round((y1 - y0) / gsd)))
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = (62, 64, 68)
    palette = SEASONS[look.season]
    margin = 30.0
    blocks = world.blocks_in(x0 - margin, y0 - margin, x1 + margin, y1 + margin)
    layered: list[list[sh.Stroke]] = [[] for _ in range(7)]
    for b in blocks:
        for s in b.strokes:
            layered[s.layer].append(s)
        for c in b.casters:
            layered[sh.SHADOWS].append(sh.Stroke(sh.SHADOWS, shadow_of(c, look), (0, 0, 0), sh.SHADE, look.shadow_strength))
    scale = float(1 << SHIFT)

    def to_px(poly: np.ndarray) -> np.ndarray:
        col = ((poly[:, 0] - x0) / gsd - 0.5) * scale
        row = ((y1 - poly[:, 1]) / gsd - 0.5) * scale
        return np.stack([col, row], axis=1).round().astype(np.int32)

    for layer in layered:
        for s in layer:
            px = to_px(s.poly)
            lo, hi = px.min(axis=0) >> SHIFT, (px.max(axis=0) >> SHIFT) + 1
            if hi[0] < 0 or hi[1] < 0 or lo[0] >= width or lo[1] >= height:
                continue
            if s.mode == sh.FILL:
                color = palette.get(s.material, s.color) if s.material else s.color
                cv2.fillPoly(canvas, [px], color, lineType=cv2.LINE_8, shift=SHIFT)
                continue
            c0, r0 = max(lo[0], 0), max(lo[1], 0)
            c1, r1 = min(hi[0] + 1, width), min(hi[1] + 1, height)
            mask = np.zeros((r1 - r0, c1 - c0), np.uint8)
            cv2.fillPoly(mask, [px - (np.array([c0, r0]) << SHIFT)], 255, lineType=cv2.LINE_AA, shift=SHIFT)
            roi = canvas[r0:r1, c0:c1].astype(np.float32)
            a = (mask.astype(np.float32) / 255.0 * s.alpha)[..., None]
            if s.mode == sh.SHADE:
                roi *= 1.0 - a
            else:
                roi = roi * (1.0 - a) + np.array(s.color, np.float32) * a
            canvas[r0:r1, c0:c1] = roi.astype(np.uint8)

    grain = _grain(seed % 4)
    reps = (height // 256 + 1, width // 256 + 1)
    noise = np.tile(grain, reps)[:height, :width]
    out = canvas.astype(np.int16) + (noise * 7.0).astype(np.int16)[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)
