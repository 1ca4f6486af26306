"""Cutting a rescaled photo into overlapping model tiles, decoding YOLO output, merging boxes
across tile borders (each a pure function on `Detections`).

Objects cut by a tile border show up as partial boxes in two tiles; merging clusters same-class
boxes that overlap (by IoU, or by intersection over the smaller box, which catches a part inside
the whole) and keeps the union, so one object yields one box.
"""

from __future__ import annotations

import numpy as np

from detector.detections import Detections


def tile_origins(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets along one axis: tiles of `tile` px overlapping by ≥ `overlap`, last one flush."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    n = int(np.ceil((length - overlap) / stride))
    return [min(k * stride, length - tile) for k in range(n)]


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    return [(x, y) for y in tile_origins(height, tile, overlap) for x in tile_origins(width, tile, overlap)]


def decode(output: np.ndarray, conf_min: float) -> Detections:
    """YOLO head output (4 + classes, anchors) → the findings scoring at least `conf_min`, in tile pixels."""
    scores_all = output[4:]
    classes = scores_all.argmax(axis=0)
    scores = scores_all[classes, np.arange(scores_all.shape[1])]
    keep = scores >= conf_min
    cx, cy, w, h = output[:4, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return Detections(boxes, scores[keep], classes[keep])


def _overlap(box: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ix0 = np.maximum(box[0], others[:, 0])
    iy0 = np.maximum(box[1], others[:, 1])
    ix1 = np.minimum(box[2], others[:, 2])
    iy1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    a = (box[2] - box[0]) * (box[3] - box[1])
    b = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(a + b - inter, 1e-9), inter / np.maximum(np.minimum(a, b), 1e-9)


def merge_overlaps(found: Detections, iou: float = 0.45, ios: float = 0.6, cross_iou: float = 0.6) -> Detections:
    """Class-aware greedy clustering: the best box absorbs same-class boxes overlapping it by
    IoU ≥ `iou` or intersection-over-smaller ≥ `ios`; a cluster's box is its members' union.
    Then one object named twice (a construction-waste pile also scored as garbage) keeps only
    its likelier name: a box overlapping a better-scored box of another class by IoU ≥
    `cross_iou` is dropped. A small box inside a large one of another class is not."""
    ranked = found[np.argsort(-found.scores)]
    boxes, scores, classes = ranked.boxes, ranked.scores, ranked.classes
    alive = np.ones(len(boxes), bool)
    out_b, out_s, out_c = [], [], []
    for k in range(len(boxes)):
        if not alive[k]:
            continue
        rest = np.nonzero(alive & (classes == classes[k]))[0]
        u, s = _overlap(boxes[k], boxes[rest])
        members = rest[(u >= iou) | (s >= ios)]
        members = np.union1d(members, [k])
        alive[members] = False
        group = boxes[members]
        out_b.append([group[:, 0].min(), group[:, 1].min(), group[:, 2].max(), group[:, 3].max()])
        out_s.append(scores[k])
        out_c.append(classes[k])
    if not out_b:
        return Detections.empty()
    merged, best, names = np.array(out_b), np.array(out_s), np.array(out_c, int)
    keep: list[int] = []  # clusters come out best score first
    for k in range(len(merged)):
        if keep:
            u, _ = _overlap(merged[k], merged[keep])
            if np.any((u >= cross_iou) & (names[keep] != names[k])):
                continue
        keep.append(k)
    return Detections(merged, best, names)[np.array(keep, int)]
