"""Training tiles cut from whole rendered photos, mined with the current model.

Tiles rendered one by one (dataset.py) teach the classes, but the detector meets whole photos:
rendered at the survey camera, decoded and rescaled by `Detector.scaled`, cut on `tile_grid`, and
full of look-alikes the tile mix under-samples. Here every tile is cut exactly as the detector
cuts it, labelled from the planted truth, and kept when it holds a violation, when the current
model fires in it (a hard negative, or a true positive worth reinforcing), or by a small chance
otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.camera import CameraModel
from detector.capture import CameraPose
from detector.detect import Detector
from detector.georef import Georeferencer
from detector.synth.render import render_capture, visible_violations
from detector.synth.world import CLASSES, World
from detector.tiling import tile_grid


@dataclass(frozen=True)
class MiningSpec:
    """One city to photograph: its seed, the surveyed square and how the photos are taken."""

    seed: int
    size_m: float
    violation_rate: float = 1.0
    altitude_m: tuple[float, float] = (90.0, 120.0)
    max_tilt_deg: float = 8.0
    spacing: float = 0.8  # photo spacing as a share of the footprint
    keep_empty: float = 0.05  # chance of keeping a tile with no label and no detection
    fire_conf: float = 0.1  # a detection this confident makes its tile worth keeping


def survey(world: World, camera: CameraModel, spec: MiningSpec, rng: np.random.Generator) -> list[CameraPose]:
    """A grid of photos over the square, each with its own altitude, heading and small tilt."""
    across, along = (f * spec.spacing for f in camera.footprint_m(float(np.mean(spec.altitude_m))))
    poses = []
    for x in np.arange(across / 2, spec.size_m, across):
        for y in np.arange(along / 2, spec.size_m, along):
            lon, lat = world.to_lonlat(x, y)
            alt = float(rng.uniform(*spec.altitude_m))
            poses.append(CameraPose(
                lat=float(lat), lon=float(lon), alt_agl_m=alt, alt_amsl_m=alt + 70.0,
                yaw_deg=float(rng.uniform(0, 360)), pitch_deg=-90.0 + float(rng.uniform(0, spec.max_tilt_deg)),
                roll_deg=float(rng.uniform(-2, 2)),
            ))
    return poses


def _labels(boxes: list[tuple[int, tuple[float, float, float, float]]], x: int, y: int, w: int, h: int) -> list[tuple[int, float, float, float, float]]:
    """YOLO labels of the boxes (rescaled-photo pixels) inside the tile at (x, y); a box cut to
    less than 40 % of its area by the tile edge is left out, as the tile renderer does."""
    out = []
    for c, (x0, y0, x1, y1) in boxes:
        full = (x1 - x0) * (y1 - y0)
        cx0, cy0, cx1, cy1 = max(x0, x), max(y0, y), min(x1, x + w), min(y1, y + h)
        if cx1 - cx0 < 3 or cy1 - cy0 < 3 or full <= 0 or (cx1 - cx0) * (cy1 - cy0) < 0.4 * full:
            continue
        out.append((c, ((cx0 + cx1) / 2 - x) / w, ((cy0 + cy1) / 2 - y) / h, (cx1 - cx0) / w, (cy1 - cy0) / h))
    return out


def mine_split(
    out_dir: Path, split: str, specs: list[MiningSpec], detector: Detector, camera: CameraModel,
    render_scale: float = 0.5, progress: Callable[[int, int], None] | None = None,
) -> tuple[list[int], str]:
    """Write `images/<split>` and `labels/<split>` under `out_dir`: per-class instance counts
    and a SHA-256 over every tile and label written."""
    img_dir, lab_dir = out_dir / "images" / split, out_dir / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lab_dir.mkdir(parents=True, exist_ok=True)
    saved = detector.thresholds.copy()
    per_class, digest = [0] * len(CLASSES), hashlib.sha256()
    tile, overlap = detector.settings.tile_px, detector.settings.overlap_px
    try:
        for spec in specs:
            detector.thresholds[:] = spec.fire_conf
            world = World(seed=spec.seed, violation_rate=spec.violation_rate)
            rng = np.random.default_rng([spec.seed, len(split)])
            poses = survey(world, camera, spec, rng)
            for k, pose in enumerate(poses):
                path = img_dir / f"_photo_{spec.seed}_{k}.jpg"
                cap = render_capture(world, pose, camera, path, seq=k, scale=render_scale, seed=int(rng.integers(1 << 30)))
                fired = detector.detect(cap)
                photo = detector.scaled(cap, Georeferencer(cap.pose, cap.camera))
                image, scale = photo.pixels, photo.scale
                path.unlink()
                truth = [(CLASSES.index(v.planted.code), tuple(c * scale for c in v.box))
                         for v in visible_violations(world, pose, cap.camera, min_fraction=0.4)]
                hits = [((s.box[0] + s.box[2]) / 2 * scale, (s.box[1] + s.box[3]) / 2 * scale) for s in fired]
                h, w = image.shape[:2]
                for x, y in tile_grid(w, h, tile, overlap):
                    tw, th = min(tile, w), min(tile, h)
                    labels = _labels(truth, x, y, tw, th)
                    fires = any(x <= u < x + tw and y <= v < y + th for u, v in hits)
                    if not labels and not fires and rng.uniform() >= spec.keep_empty:
                        continue
                    stem = f"{split}_s{spec.seed}_{k:04d}_{x}_{y}"
                    crop = cv2.cvtColor(image[y:y + th, x:x + tw], cv2.COLOR_RGB2BGR)
                    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
                    if not ok:
                        raise OSError(f"could not encode tile {stem}")
                    text = "".join(f"{c} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}\n" for c, cx, cy, bw, bh in labels)
                    (img_dir / f"{stem}.jpg").write_bytes(buf.tobytes())
                    (lab_dir / f"{stem}.txt").write_text(text)
                    digest.update(buf.tobytes())
                    digest.update(text.encode())
                    for c, *_ in labels:
                        per_class[c] += 1
                if progress:
                    progress(k + 1, len(poses))
    finally:
        detector.thresholds[:] = saved
    return per_class, digest.hexdigest()

