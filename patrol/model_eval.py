"""`patrol eval MODEL`: every figure a promotion decision needs, for one model, recorded in its card.

Held-out mAP (the build's fixed split), real-photo recall/precision (an imported dev set), and the
pipeline-level recall/precision of planted violations on a held-out synthetic city at the card's
thresholds; optionally the thresholds are re-calibrated first, so those figures are for the
thresholds the model will ship with. Results are keyed by split and content hash in the card's
`evaluations`, which is what `patrol models promote` compares.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from detector.card import load_card, write_card
from detector.datasets import IMAGE_SUFFIXES
from detector.detect import Detector, DetectorSettings
from detector.heldout_eval import HeldoutEval, evaluate_heldout
from detector.real_eval import RealEval, evaluate
from detector.synth.world import World
from dispatch.settings import IncidentWindows
from patrol.calibration import collect, pick, pipeline_figures, render_survey, survey_poses

CALIBRATION_SEED, PIPELINE_SEED = 3, 11  # held-out cities: neither trained on (0, 1, 2, 4, 6, 8) nor the demo's (7)


@dataclass(frozen=True)
class CitySpec:
    """A held-out synthetic city to fly: side of the surveyed square and altitude."""

    size_m: float = 300.0
    alt_m: float = 100.0
    violation_rate: float = 0.5
    radius_m: float = 10.0


@dataclass
class ModelEval:
    card: Path
    version: str
    heldout: HeldoutEval | None = None
    real: RealEval | None = None
    real_key: str | None = None
    pipeline: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)


def folder_hash(root: Path) -> str:
    """SHA-256 over every image and label file of a YOLO folder, by name: the set's identity."""
    digest = hashlib.sha256()
    for p in sorted(Path(root).rglob("*")):
        if p.suffix in IMAGE_SUFFIXES or p.suffix == ".txt":
            digest.update(p.relative_to(root).as_posix().encode())
            digest.update(p.read_bytes())
    return digest.hexdigest()


def real_score(ev: RealEval) -> float | None:
    """Mean F1 over the classes with labelled objects: one figure to rank models on real photos."""
    f1 = []
    for c in ev.classes.values():
        if c.truth:
            r, p = c.recall or 0.0, c.precision or 0.0
            f1.append(2 * r * p / (r + p) if r + p else 0.0)
    return sum(f1) / len(f1) if f1 else None


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def evaluate_model(card: Path, data: Path | None, real: Path | None, city: CitySpec | None, calibrate: bool,
                   backend: str = "auto", precision: float = 0.89) -> ModelEval:
    """Run every asked-for evaluation of one model; write the results (and new thresholds when
    calibrating) into its card."""
    det = Detector(card, backend=backend, threads=2, settings=DetectorSettings(evidence=False, mark_unverified=False))
    out = ModelEval(card, det.card.version, evaluations=dict(det.card.evaluations))
    updates: dict[str, Any] = {}
    if data is not None:
        out.heldout = evaluate_heldout(det.backend, list(det.card.classes), data)
        out.evaluations[out.heldout.key] = {**out.heldout.to_card(), "set": str(data), "at": _stamp()}
    if real is not None:
        out.real = evaluate(det, real)
        out.real_key = "real:" + folder_hash(real)[:16]
        out.evaluations[out.real_key] = {
            "split": "real", "set": str(real), "images": out.real.images, "score": _round(real_score(out.real)),
            "per_class": {c: {"truth": f.truth, "recall": _round(f.recall), "precision": _round(f.precision),
                              "false_per_km2": round(f.false_per_km2, 1)} for c, f in out.real.classes.items()},
            "at": _stamp()}
    if city is not None:
        windows = IncidentWindows.load()
        with tempfile.TemporaryDirectory(prefix="patrol-eval-") as tmp:
            if calibrate:
                world = World(seed=CALIBRATION_SEED, violation_rate=city.violation_rate)
                shots = render_survey(world, survey_poses(world, city.size_m, city.alt_m), Path(tmp) / "cal")
                det.thresholds = np.full(len(det.card.classes), 0.1, np.float32)
                scored = collect(det, world, shots, city.radius_m, windows)
                new = {c: round(pick(scored[c], precision, 0.1)[0], 3) for c in det.card.classes}
                out.calibration = {"old": dict(det.card.conf_thresholds), "new": new, "city_seed": CALIBRATION_SEED,
                                   "photos": len(shots), "precision_target": precision}
                det.card = det.card.model_copy(update={"conf_thresholds": new})
                det.thresholds = np.array([new[c] for c in det.card.classes], np.float32)
                updates["conf_thresholds"] = new
                updates["calibration"] = {"method": f"lowest threshold with alert-level precision ≥ {precision} "
                                          "(else best F0.5), patrol eval --calibrate", "city_seeds": [CALIBRATION_SEED],
                                          "photos": len(shots), "altitude_m": city.alt_m,
                                          "match_radius_m": city.radius_m, "at": _stamp()}
            world = World(seed=PIPELINE_SEED, violation_rate=city.violation_rate)
            shots = render_survey(world, survey_poses(world, city.size_m, city.alt_m), Path(tmp) / "pipe")
            out.pipeline = pipeline_figures(det, world, shots, city.radius_m, windows)
            out.evaluations[f"pipeline:seed{PIPELINE_SEED}-{city.size_m:.0f}m"] = {
                "split": "pipeline", "photos": len(shots), "per_class": out.pipeline, "at": _stamp()}
    updates["evaluations"] = out.evaluations
    write_card(load_card(card).model_copy(update=updates), card)
    return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)
