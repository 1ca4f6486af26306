"""Calibrate the model card's per-class confidence thresholds on whole rendered photos.

Thresholds picked on training tiles (max-F1) let look-alikes through on whole photos, where
distractors are far more common than in the tile mix. This renders a nadir survey of a held-out
synthetic city, detects with a low threshold, matches detections to the planted violations in
each photo (same type, within `--radius` m, one to one), and for each class takes the lowest
threshold whose photo-level precision reaches `--precision` (else the one with the best F0.5).
It rewrites `conf_thresholds` in the card and records the run under `calibration`.

    .venv/bin/python scripts/calibrate_thresholds.py --card models/patrol-yolo11n-synth.yaml
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

from detector.camera import CameraModel
from detector.capture import CameraPose
from detector.detect import Detector
from detector.georef import Georeferencer
from detector.synth.render import render_capture
from detector.synth.world import World

CAMERA = CameraModel(17.3, 13.0, 12.29, 5280, 3956)


def survey_poses(world: World, size_m: float, alt_m: float) -> list[CameraPose]:
    across, along = (f * 0.7 for f in CAMERA.footprint_m(alt_m))
    poses = []
    for x in np.arange(0.0, size_m, across):
        for y in np.arange(0.0, size_m, along):
            lon, lat = world.to_lonlat(x, y)
            poses.append(CameraPose(lat=float(lat), lon=float(lon), alt_agl_m=alt_m, alt_amsl_m=alt_m + 70.0))
    return poses


def collect(detector: Detector, world: World, poses: list[CameraPose], radius_m: float, workdir: Path):
    """Per class: [(confidence, matched?)] over all detections, and the number of planted in view."""
    scored: dict[str, list[tuple[float, bool]]] = {c: [] for c in detector.card.classes}
    truth: dict[str, int] = {c: 0 for c in detector.card.classes}
    for k, pose in enumerate(poses):
        cap = render_capture(world, pose, CAMERA, workdir / f"{k:04d}.jpg", seq=k, scale=0.5, seed=k)
        g = Georeferencer(pose, cap.camera, frame=world.frame)
        planted = world.violations(g.footprint())
        for p in planted:
            truth[p.code] = truth.get(p.code, 0) + 1
        pe, pn = (np.asarray(a) for a in world.frame.forward([p.lon for p in planted], [p.lat for p in planted]))
        taken: set[int] = set()
        for s in sorted(detector.detect(cap), key=lambda s: -s.confidence):
            e, n = world.frame.forward(s.lon, s.lat)
            d = np.hypot(pe - e, pn - n) if len(planted) else np.array([])
            best = [j for j in np.argsort(d) if d[j] <= radius_m and planted[j].code == s.type and j not in taken]
            if best:
                taken.add(int(best[0]))
            scored[s.type].append((s.confidence, bool(best)))
    return scored, truth


def pick(scores: list[tuple[float, bool]], total: int, precision: float, floor: float) -> tuple[float, float, float]:
    """(threshold, precision, recall) for one class."""
    if not scores or not total:
        return floor, float("nan"), float("nan")
    conf = np.array([c for c, _ in scores])
    hit = np.array([h for _, h in scores])
    order = np.argsort(-conf)
    conf, hit = conf[order], hit[order]
    tp = np.cumsum(hit)
    prec = tp / np.arange(1, len(hit) + 1)
    rec = tp / total
    ok = np.nonzero(prec >= precision)[0]
    if len(ok):
        i = ok.max()
    else:
        f05 = 1.25 * prec * rec / np.maximum(0.25 * prec + rec, 1e-9)
        i = int(np.argmax(f05))
    return max(floor, float(conf[i])), float(prec[i]), float(rec[i])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--card", type=Path, default=Path("models/patrol-yolo11n-synth.yaml"))
    ap.add_argument("--seed", type=int, default=3, help="held-out synthetic city (not a training seed)")
    ap.add_argument("--size-m", type=float, default=900.0)
    ap.add_argument("--alt-m", type=float, default=100.0)
    ap.add_argument("--violation-rate", type=float, default=0.5)
    ap.add_argument("--precision", type=float, default=0.92)
    ap.add_argument("--radius", type=float, default=10.0)
    ap.add_argument("--floor", type=float, default=0.1)
    args = ap.parse_args()

    card = yaml.safe_load(args.card.read_text(encoding="utf-8"))
    detector = Detector(args.card)
    detector.thresholds[:] = args.floor
    world = World(seed=args.seed, violation_rate=args.violation_rate)
    poses = survey_poses(world, args.size_m, args.alt_m)
    with tempfile.TemporaryDirectory() as tmp:
        scored, truth = collect(detector, world, poses, args.radius, Path(tmp))
    print(f"{len(poses)} photos of city seed {args.seed}; class, threshold old → new, photo precision, recall")
    result = {}
    for c in detector.card.classes:
        t, p, r = pick(scored[c], truth[c], args.precision, args.floor)
        print(f"  {c:20s} {card['conf_thresholds'][c]:.3f} → {t:.3f}   P {p:.3f}  R {r:.3f}  (n={truth[c]})")
        result[c] = round(t, 3)
    card["conf_thresholds"] = result
    card["calibration"] = {
        "method": f"lowest threshold with photo-level precision ≥ {args.precision} (else best F0.5)",
        "city_seed": args.seed, "photos": len(poses), "altitude_m": args.alt_m, "match_radius_m": args.radius,
        "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    args.card.write_text(yaml.safe_dump(card, allow_unicode=True, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    main()
