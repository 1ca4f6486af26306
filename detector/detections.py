"""Detections: what a model found in one image, as one checked value instead of three loose arrays.

Each stage of the detector is a pure function from one `Detections` to the next (decode a tile,
shift it into the photo, gather the tiles, merge across tile borders, scale back to the full
frame), so the arrays never fall out of step and a box the wrong way round is caught where it
is made, not three stages later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Detections:
    """N findings in one image's pixels: `boxes` (N×4, [x0, y0, x1, y1], x0 <= x1 and y0 <= y1),
    `scores` (N, in [0, 1]), `classes` (N, index into the model card's classes)."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        b, s, c = self.boxes, self.scores, self.classes
        if b.ndim != 2 or b.shape[1] != 4:
            raise ValueError(f"boxes: expected shape (N, 4), got {b.shape}")
        for name, a in (("scores", s), ("classes", c)):
            if a.shape != (len(b),):
                raise ValueError(f"{name}: expected shape ({len(b)},) to match the boxes, got {a.shape}")
        if not np.issubdtype(c.dtype, np.integer):
            raise ValueError(f"classes: expected integer class indices, got dtype {c.dtype}")
        if not len(b):
            return
        _first_bad("boxes", ~np.isfinite(b).all(axis=1) | (b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]), b,
                   "must be finite [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1")
        _first_bad("scores", ~((s >= 0) & (s <= 1)), s, "must be in [0, 1]")
        _first_bad("classes", c < 0, c, "must be >= 0")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))

    @classmethod
    def merge(cls, parts: Iterable[Detections]) -> Detections:
        """All findings of several parts (e.g. the tiles of one photo) in one value, in order."""
        parts = list(parts)
        if not parts:
            return cls.empty()
        return cls(np.concatenate([p.boxes for p in parts]), np.concatenate([p.scores for p in parts]),
                   np.concatenate([p.classes for p in parts]))

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, keep: np.ndarray | slice) -> Detections:
        """The findings picked by a boolean mask or an index array (order as given)."""
        return Detections(self.boxes[keep], self.scores[keep], self.classes[keep])

    def above(self, floors: np.ndarray) -> Detections:
        """Only findings scoring at least their class's floor (`floors`, one per class)."""
        return self[self.scores >= floors[self.classes]]

    def shifted(self, dx: float, dy: float) -> Detections:
        """Moved by (dx, dy) pixels: a tile's findings placed in the photo the tile was cut from."""
        return Detections(self.boxes + np.array([dx, dy, dx, dy], self.boxes.dtype), self.scores, self.classes)

    def unscaled(self, scale: float, width: int, height: int) -> Detections:
        """From an image at `scale` × full size to the full frame's pixels, kept inside the
        `width` × `height` frame."""
        boxes = self.boxes / scale
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width - 1)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height - 1)
        return Detections(boxes, self.scores, self.classes)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Box centres (u, v): the pixel each finding is georeferenced at."""
        return (self.boxes[:, 0] + self.boxes[:, 2]) / 2, (self.boxes[:, 1] + self.boxes[:, 3]) / 2


def _first_bad(field: str, bad: np.ndarray, values: np.ndarray, rule: str) -> None:
    rows = np.flatnonzero(bad)
    if len(rows):
        k = int(rows[0])
        raise ValueError(f"{field}: row {k} ({values[k].tolist()}) {rule}; {len(rows)} of {len(values)} rows break it")
