"""mAP50 and mAP50-95 per class on a build's held-out split, scored on the ONNX model that ships.

Each held-out image goes through the same inference backend the detector uses (ONNX Runtime or
OpenVINO), whole, padded to a multiple of 32; boxes down to confidence 0.001 after class-aware
NMS (IoU 0.7), as detection benchmarks score. Average precision is COCO's: 101-point
interpolated precision-recall area, at IoU 0.50 and averaged over 0.50:0.05:0.95, greedy
matching of predictions (best score first) to unmatched ground truth of the same class.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.backends import Backend
from detector.dataset_build import HELDOUT, load_build, read_labels
from detector.datasets import IMAGE_SUFFIXES, DatasetError
from detector.tiling import decode

IOUS = np.linspace(0.5, 0.95, 10)
CONF_MIN, NMS_IOU = 0.001, 0.7


@dataclass(frozen=True)
class ClassAP:
    code: str
    instances: int
    ap50: float
    ap50_95: float


@dataclass(frozen=True)
class HeldoutEval:
    key: str  # heldout:<first 16 of the split's sha256>, what results are compared by
    images: int
    map50: float
    map50_95: float
    per_class: dict[str, ClassAP]

    def to_card(self) -> dict:
        return {"split": "heldout", "images": self.images, "map50": round(self.map50, 4),
                "map50_95": round(self.map50_95, 4),
                "per_class": {c: {"instances": a.instances, "ap50": round(a.ap50, 4), "ap50_95": round(a.ap50_95, 4)}
                              for c, a in self.per_class.items()}}


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float = NMS_IOU) -> np.ndarray:
    """Indices kept by class-aware greedy non-maximum suppression."""
    keep = []
    for c in np.unique(classes):
        idx = np.nonzero(classes == c)[0]
        idx = idx[np.argsort(-scores[idx])]
        while len(idx):
            keep.append(idx[0])
            if len(idx) == 1:
                break
            idx = idx[1:][iou_matrix(boxes[idx[:1]], boxes[idx[1:]])[0] < iou]
    return np.array(sorted(keep, key=lambda k: -scores[k]), int)


def predict(backend: Backend, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = image_rgb.shape[:2]
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    canvas = np.full((ph, pw, 3), 114, np.uint8)
    canvas[:h, :w] = image_rgb
    out = backend.run(np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0)
    found = decode(out[0], CONF_MIN)
    keep = nms(found.boxes, found.scores, found.classes)
    return found.boxes[keep], found.scores[keep], found.classes[keep]


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """COCO 101-point AP from a precision-recall curve ordered by falling score: at each recall
    level 0, 0.01, …, 1 the best precision reached at that recall or beyond (0 past the curve)."""
    if not len(recall):
        return 0.0
    envelope = np.flip(np.maximum.accumulate(np.flip(precision)))
    at = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    return float(np.mean(np.where(at < len(envelope), envelope[np.minimum(at, len(envelope) - 1)], 0.0)))


def _tp_matrix(pred_b: np.ndarray, pred_c: np.ndarray, truth_b: np.ndarray, truth_c: np.ndarray) -> np.ndarray:
    """tp[i, t]: prediction i (ordered by score) matches an unclaimed same-class truth at IOUS[t]."""
    tp = np.zeros((len(pred_b), len(IOUS)), bool)
    if not len(pred_b) or not len(truth_b):
        return tp
    ious = iou_matrix(pred_b, truth_b) * (pred_c[:, None] == truth_c[None, :])
    for t, thr in enumerate(IOUS):
        taken = np.zeros(len(truth_b), bool)
        for i in range(len(pred_b)):
            cand = np.where(~taken & (ious[i] >= thr), ious[i], -1.0)
            j = int(np.argmax(cand))
            if cand[j] >= 0:
                taken[j] = True
                tp[i, t] = True
    return tp


def split_hash(images: list[Path], labels_dir: Path) -> str:
    digest = hashlib.sha256()
    for img in images:
        digest.update(img.read_bytes())
        digest.update((labels_dir / img.with_suffix(".txt").name).read_bytes())
    return digest.hexdigest()


def evaluate_heldout(backend: Backend, classes: list[str], data: Path) -> HeldoutEval:
    """Score `backend` (a model with the build's class list) on the build at `data`."""
    build = load_build(data)
    if list(build.classes) != list(classes):
        raise DatasetError(f"{data}: built for classes {build.classes}, the model has {classes}")
    img_dir, lab_dir = Path(data) / "images" / HELDOUT, Path(data) / "labels" / HELDOUT
    images = sorted(p for p in img_dir.iterdir() if p.suffix in IMAGE_SUFFIXES)
    if not images:
        raise DatasetError(f"{img_dir}: the held-out split has no images")
    scores, pred_cls, tps, truth_cls = [], [], [], []
    for img in images:
        bgr = cv2.imread(str(img), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DatasetError(f"{img}: not a readable image (corrupt or unknown format)")
        h, w = bgr.shape[:2]
        labels = np.array(read_labels(lab_dir / img.with_suffix(".txt").name, classes), float).reshape(-1, 5)
        tb = np.stack([(labels[:, 1] - labels[:, 3] / 2) * w, (labels[:, 2] - labels[:, 4] / 2) * h,
                       (labels[:, 1] + labels[:, 3] / 2) * w, (labels[:, 2] + labels[:, 4] / 2) * h], axis=1)
        tc = labels[:, 0].astype(int)
        pb, ps, pc = predict(backend, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        tps.append(_tp_matrix(pb, pc, tb, tc))
        scores.append(ps)
        pred_cls.append(pc)
        truth_cls.append(tc)
    score, pcls, tp, tcls = (np.concatenate(x) for x in (scores, pred_cls, tps, truth_cls))
    order = np.argsort(-score, kind="stable")
    pcls, tp = pcls[order], tp[order]
    per_class = {}
    for k, code in enumerate(classes):
        n = int((tcls == k).sum())
        if n == 0:
            continue
        hits = tp[pcls == k]
        ctp = np.cumsum(hits, axis=0)
        prec = ctp / np.arange(1, len(hits) + 1)[:, None] if len(hits) else np.zeros((0, len(IOUS)))
        aps = [average_precision(ctp[:, t] / n, prec[:, t]) if len(hits) else 0.0 for t in range(len(IOUS))]
        per_class[code] = ClassAP(code, n, aps[0], float(np.mean(aps)))
    if not per_class:
        raise DatasetError(f"{img_dir}: no labelled objects in the held-out split (only hard negatives); mAP is undefined")
    key = "heldout:" + split_hash(images, lab_dir)[:16]
    return HeldoutEval(key, len(images), float(np.mean([a.ap50 for a in per_class.values()])),
                       float(np.mean([a.ap50_95 for a in per_class.values()])), per_class)
