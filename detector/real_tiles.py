"""Training tiles cut from an imported real photo set, the way the detector cuts photos.

Each photo is shrunk to the training ground resolution (never enlarged: the detector does not
enlarge either), cut on the detector's tile grid, and each tile keeps the labelled boxes that
lie mostly inside it. Empty tiles are kept at a rate, so the model also learns real roofs,
roads and trees with nothing on them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from detector.datasets import read_set
from detector.tiling import tile_grid


def cut_training_tiles(root: Path, out_dir: Path, gsd_m: float, tile_px: int, keep_empty: float = 0.2,
                       seed: int = 0, overlap_px: int = 48) -> dict[str, int]:
    """Write YOLO tiles of the train set at `root` into `out_dir`/images/train and /labels/train.

    Returns counts (photos, tiles, objects). A dev set is refused: it is never trained on.
    """
    manifest, items = read_set(root)
    if manifest.split != "train":
        raise ValueError(f"{root}: split is {manifest.split!r}; only a train set is cut into training tiles")
    index = {c: k for k, c in enumerate(manifest.classes)}
    rng = np.random.default_rng(seed)
    img_dir, lab_dir = Path(out_dir) / "images" / "train", Path(out_dir) / "labels" / "train"
    img_dir.mkdir(parents=True, exist_ok=True)
    lab_dir.mkdir(parents=True, exist_ok=True)
    tiles = objects = 0
    for item in items:
        f = min(1.0, manifest.source(item.source).gsd_m / gsd_m)
        img = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if f < 1.0:
            img = cv2.resize(img, (round(item.width * f), round(item.height * f)), interpolation=cv2.INTER_AREA)
        h, w = img.shape[:2]
        boxes = np.array([[b.x0 * f, b.y0 * f, b.x1 * f, b.y1 * f, index[b.code]] for b in item.boxes]).reshape(-1, 5)
        for x, y in tile_grid(w, h, tile_px, overlap_px):
            tile = np.full((tile_px, tile_px, 3), 114, np.uint8)
            part = img[y:y + tile_px, x:x + tile_px]
            tile[:part.shape[0], :part.shape[1]] = part
            lines = []
            for x0, y0, x1, y1, c in boxes:
                cx0, cy0 = max(x0 - x, 0), max(y0 - y, 0)
                cx1, cy1 = min(x1 - x, part.shape[1]), min(y1 - y, part.shape[0])
                if cx1 <= cx0 or cy1 <= cy0 or (cx1 - cx0) * (cy1 - cy0) < 0.5 * (x1 - x0) * (y1 - y0):
                    continue
                lines.append(f"{int(c)} {(cx0 + cx1) / 2 / tile_px:.6f} {(cy0 + cy1) / 2 / tile_px:.6f} "
                             f"{(cx1 - cx0) / tile_px:.6f} {(cy1 - cy0) / tile_px:.6f}\n")
            if not lines and rng.random() >= keep_empty:
                continue
            stem = f"real_{item.source}_{item.path.stem}_{x}_{y}"
            cv2.imwrite(str(img_dir / f"{stem}.jpg"), tile, [cv2.IMWRITE_JPEG_QUALITY, 92])
            (lab_dir / f"{stem}.txt").write_text("".join(lines), encoding="utf-8")
            tiles += 1
            objects += len(lines)
    return {"photos": len(items), "tiles": tiles, "objects": objects}
