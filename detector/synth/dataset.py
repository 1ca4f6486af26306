"""YOLO-format datasets cut from the synthetic city, with exact labels from the planted truth.

Each tile is what the detector will see after it rescales a photo to the training ground
resolution: rendered at twice the pixels through a slightly oblique camera with random heading,
light and season, shrunk with area averaging, then JPEG-compressed. Half the tiles are centred
near a planted violation (the city is mostly empty), a third near a look-alike distractor (tarps,
building materials, wet asphalt, cars on the road), the rest anywhere.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from detector.camera import CameraModel
from detector.capture import CameraPose
from detector.synth.paint import Look
from detector.synth.render import jpeg_roundtrip, render_photo, visible_violations
from detector.synth.world import CLASSES, PITCH_M, World

TRAIN_GSD_M = 0.08
TILE_PX = 320


@dataclass(frozen=True)
class SplitSpec:
    """Which blocks of the city a split is cut from (disjoint regions keep validation honest)."""

    name: str
    tiles: int
    block_i0: int
    block_j0: int
    blocks: int


def tile_camera(gsd_m: float, px: int, altitude_m: float = 100.0) -> CameraModel:
    """A square camera whose nadir pixels cover `gsd_m` metres from `altitude_m`."""
    fx = altitude_m / gsd_m
    sensor = 10.0
    return CameraModel(sensor_width_mm=sensor, sensor_height_mm=sensor, focal_length_mm=fx * sensor / px, image_width_px=px, image_height_px=px)


def render_tile(world: World, x: float, y: float, rng: np.random.Generator, gsd_m: float = TRAIN_GSD_M, px: int = TILE_PX):
    """One training tile centred near world-local (x, y): (RGB image, [(class, cx, cy, w, h)])."""
    gsd = gsd_m * float(rng.uniform(0.85, 1.2))
    cam = tile_camera(gsd / 2, px * 2)
    yaw, tilt = float(rng.uniform(0, 360)), float(rng.uniform(0, 20))
    back = 100.0 * math.tan(math.radians(tilt))  # stand back so the optical axis meets (x, y)
    lon, lat = world.to_lonlat(x - back * math.sin(math.radians(yaw)), y - back * math.cos(math.radians(yaw)))
    pose = CameraPose(
        lat=float(lat), lon=float(lon), alt_agl_m=100.0, alt_amsl_m=160.0,
        yaw_deg=yaw, pitch_deg=tilt - 90.0, roll_deg=float(rng.uniform(-3, 3)),
    )
    look = Look.random(rng)
    big = render_photo(world, pose, cam, look=look, seed=int(rng.integers(1 << 30)), blur_px=float(rng.uniform(0, 2.5)))
    image = cv2.resize(big, (px, px), interpolation=cv2.INTER_AREA)
    image = jpeg_roundtrip(image, int(rng.integers(60, 96)))
    labels = []
    for v in visible_violations(world, pose, cam, min_fraction=0.4):
        x0, y0, x1, y1 = (c / 2 for c in v.box)
        x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, px), min(y1, px)
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        labels.append((CLASSES.index(v.planted.code), (x0 + x1) / 2 / px, (y0 + y1) / 2 / px, (x1 - x0) / px, (y1 - y0) / px))
    return image, labels


def _centres(world: World, spec: SplitSpec, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Tile centres: near a planted violation, near a look-alike distractor, or anywhere."""
    x0, y0 = spec.block_i0 * PITCH_M, spec.block_j0 * PITCH_M
    x1, y1 = x0 + spec.blocks * PITCH_M, y0 + spec.blocks * PITCH_M
    planted = world.violations_local(x0, y0, x1, y1)
    lookalikes = [(x, y) for b in world.blocks_in(x0, y0, x1, y1) for _, x, y in b.distractors]
    out = []
    for _ in range(spec.tiles):
        r = rng.uniform()
        if planted and r < 0.5:
            v = planted[rng.integers(len(planted))]
            out.append((v.x + float(rng.uniform(-9, 9)), v.y + float(rng.uniform(-9, 9))))
        elif lookalikes and r < 0.85:
            x, y = lookalikes[rng.integers(len(lookalikes))]
            out.append((x + float(rng.uniform(-9, 9)), y + float(rng.uniform(-9, 9))))
        else:
            out.append((float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))))
    return out


def write_dataset(
    out_dir: Path,
    seed: int = 0,
    train_tiles: int = 3000,
    val_tiles: int = 500,
    gsd_m: float = TRAIN_GSD_M,
    px: int = TILE_PX,
    progress=None,
) -> Path:
    """Write a YOLO dataset (images/, labels/, dataset.yaml) and return the dataset.yaml path.

    The training and validation tiles come from disjoint parts of the city. dataset.yaml also
    records the generator settings and a SHA-256 over every image and label written.
    """
    out_dir = Path(out_dir)
    world = World(seed=seed)
    specs = [SplitSpec("train", train_tiles, 0, 0, 30), SplitSpec("val", val_tiles, 60, 60, 12)]
    digest = hashlib.sha256()
    counts: dict[str, list[int]] = {}
    for spec in specs:
        (out_dir / "images" / spec.name).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / spec.name).mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([seed, len(spec.name), spec.tiles])
        per_class = [0] * len(CLASSES)
        for k, (x, y) in enumerate(_centres(world, spec, rng)):
            image, labels = render_tile(world, x, y, rng, gsd_m, px)
            stem = f"{spec.name}_{k:05d}"
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            if not ok:
                raise OSError(f"could not encode tile {stem}")
            (out_dir / "images" / spec.name / f"{stem}.jpg").write_bytes(buf.tobytes())
            text = "".join(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for c, cx, cy, w, h in labels)
            (out_dir / "labels" / spec.name / f"{stem}.txt").write_text(text)
            digest.update(buf.tobytes())
            digest.update(text.encode())
            for c, *_ in labels:
                per_class[c] += 1
            if progress:
                progress(spec.name, k + 1, spec.tiles)
        counts[spec.name] = per_class
    meta = {
        "path": str(out_dir.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(CLASSES)),
        "synth": {
            "seed": seed,
            "gsd_m": gsd_m,
            "tile_px": px,
            "splits": [asdict(s) for s in specs],
            "instances": {name: dict(zip(CLASSES, c)) for name, c in counts.items()},
            "sha256": digest.hexdigest(),
        },
    }
    path = out_dir / "dataset.yaml"
    path.write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
    return path


def dataset_hash(dataset_yaml: Path) -> str:
    return str(yaml.safe_load(Path(dataset_yaml).read_text())["synth"]["sha256"])


__all__ = ["TRAIN_GSD_M", "TILE_PX", "render_tile", "tile_camera", "write_dataset", "dataset_hash"]
