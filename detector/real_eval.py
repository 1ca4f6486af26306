"""How a model does on real labelled photos: per-class precision/recall, false alarms per km².

Each dev photo goes through the whole `Detector` (rescale to the training GSD, tiles,
thresholds, merge) with a nadir pose whose ground resolution is the one the set's manifest gives
for that photo's source, so the figures are those a department would see, not raw model scores.
Photos with no labelled object of a class are that class's "empty scenes": every box of the class
there is a false alarm, counted per km² of photographed ground.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from detector.camera import CameraModel
from detector.capture import CameraPose, Capture
from detector.datasets import Box, LabelledImage, load_manifest, read_set
from detector.detect import Detector

WASTE = ("exposed_garbage", "accumulated_muck", "construction_waste")
MATCH_IOU = 0.3  # small objects at 8 cm/px: a 1–2 px shift of a 40-px car costs IoU fast
_PIXEL_MM = 0.0024  # any pixel pitch works: only focal/pitch (the focal length in px) matters
_ALT_M = 100.0


@dataclass(frozen=True)
class ClassFigures:
    code: str
    truth: int
    boxes: int
    matched: int
    recall: float | None
    precision: float | None
    false_per_km2: float


@dataclass(frozen=True)
class RealEval:
    model: str
    images: int
    area_km2: float
    classes: dict[str, ClassFigures]
    smoke_boxes_without_smoke: int
    dump_photos: int
    dump_photos_flagged: float | None
    clean_photos_flagged: float | None
    per_image: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


MIN_REAL_OBJECTS = 100
BAR = 0.80


def validation_record(ev: RealEval, dev_set: str) -> dict[str, dict]:
    """Per-class entry for the model card: validated only with ≥ 100 real objects and R, P ≥ 0.80."""
    out = {}
    for code, c in ev.classes.items():
        ok = c.truth >= MIN_REAL_OBJECTS and (c.recall or 0.0) >= BAR and (c.precision or 0.0) >= BAR
        photos = sum(1 for r in ev.per_image if r["truth"].get(code))
        out[code] = {"validated": ok, "dev_set": dev_set, "photos": photos, "objects": c.truth,
                     "recall": None if c.recall is None else round(c.recall, 3),
                     "precision": None if c.precision is None else round(c.precision, 3),
                     "false_per_km2": round(c.false_per_km2, 1),
                     "note": "validated on real photos" if ok else
                             ("no real labelled photos of this class" if c.truth == 0 else "below the real-photo bar")}
    return out


def capture_for(item: LabelledImage, gsd_m: float) -> Capture:
    """A nadir capture whose centre ground resolution is `gsd_m` (the photo has no pose of its own)."""
    fx = _ALT_M / gsd_m
    cam = CameraModel(item.width * _PIXEL_MM, item.height * _PIXEL_MM, fx * _PIXEL_MM, item.width, item.height)
    pose = CameraPose(lat=28.94, lon=118.87, alt_agl_m=_ALT_M, alt_amsl_m=_ALT_M + 60.0)
    return Capture(image=item.path, time=datetime(2026, 1, 1, tzinfo=timezone.utc), pose=pose, camera=cam,
                   drone_id="real-dev", sortie_id=item.source, seq=0)


def _iou(a: tuple[float, float, float, float], b: Box) -> float:
    ix = max(0.0, min(a[2], b.x1) - max(a[0], b.x0))
    iy = max(0.0, min(a[3], b.y1) - max(a[1], b.y0))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union > 0 else 0.0


def match(pred: list[tuple[float, tuple[float, float, float, float]]], truth: list[Box], iou: float = MATCH_IOU) -> int:
    """Greedy one-to-one matching, best score first: how many predictions hit a distinct truth box."""
    used = np.zeros(len(truth), bool)
    hits = 0
    for _, box in sorted(pred, key=lambda p: -p[0]):
        best, best_k = iou, -1
        for k, t in enumerate(truth):
            if not used[k]:
                v = _iou(box, t)
                if v >= best:
                    best, best_k = v, k
        if best_k >= 0:
            used[best_k] = True
            hits += 1
    return hits


def evaluate(detector: Detector, root: Path) -> RealEval:
    """Run `detector` over the imported dev set at `root` (YOLO folder + manifest.yaml)."""
    if load_manifest(root).split != "dev":
        raise ValueError(f"{root}: split is {load_manifest(root).split!r}; evaluate only on a held-out dev set")
    manifest, items = read_set(root)
    codes = list(detector.card.classes)
    truth_n = dict.fromkeys(codes, 0)
    box_n = dict.fromkeys(codes, 0)
    hit_n = dict.fromkeys(codes, 0)
    false_n = dict.fromkeys(codes, 0)
    smoke_false = 0
    dump, dump_flag, clean, clean_flag = 0, 0, 0, 0
    area_m2 = 0.0
    rows = []
    for item in items:
        gsd = manifest.source(item.source).gsd_m
        area_m2 += item.width * item.height * gsd * gsd
        sightings = detector.detect(capture_for(item, gsd))
        row = {"file": item.path.name, "source": item.source, "boxes": {}, "truth": {}, "matched": {}}
        for code in codes:
            pred = [(s.confidence, s.box) for s in sightings if s.type == code]
            truth = [b for b in item.boxes if b.code == code]
            hits = match(pred, truth)
            truth_n[code] += len(truth)
            box_n[code] += len(pred)
            hit_n[code] += hits
            false_n[code] += len(pred) - hits
            if pred or truth:
                row["boxes"][code], row["truth"][code], row["matched"][code] = len(pred), len(truth), hits
        if not any(b.code == "burning_smoke" for b in item.boxes):
            smoke_false += sum(1 for s in sightings if s.type == "burning_smoke")
        flagged = any(s.type in WASTE for s in sightings)
        if any(b.code in WASTE for b in item.boxes):
            dump, dump_flag = dump + 1, dump_flag + flagged
        else:
            clean, clean_flag = clean + 1, clean_flag + flagged
        rows.append(row)
    km2 = area_m2 / 1e6
    classes = {
        c: ClassFigures(c, truth_n[c], box_n[c], hit_n[c],
                        hit_n[c] / truth_n[c] if truth_n[c] else None,
                        hit_n[c] / box_n[c] if box_n[c] else None,
                        false_n[c] / km2 if km2 else 0.0)
        for c in codes
    }
    return RealEval(detector.card.version, len(items), km2, classes, smoke_false, dump,
                    dump_flag / dump if dump else None, clean_flag / clean if clean else None, rows)
