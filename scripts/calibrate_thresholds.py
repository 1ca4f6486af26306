"""Calibrate the model card's per-class confidence thresholds on whole rendered photos.

Thresholds picked on training tiles (max-F1) let look-alikes through on whole photos, where
distractors are far more common than in the tile mix. This renders nadir surveys of held-out
synthetic cities, detects with a low threshold and scores what would become alerts: a planted
violation is found if some photo has a same-type detection within `--radius` m of it, and the
other detections group into false incidents as dispatch would group them. For each class it
takes the lowest threshold whose alert-level precision reaches `--precision` (else the one
with the best F0.5).
It rewrites `conf_thresholds` in the card and records the run under `calibration`.

    .venv/bin/python scripts/calibrate_thresholds.py --card models/patrol-yolo11n-synth.yaml
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import yaml

from detector.detect import Detector
from detector.synth.world import World
from dispatch.settings import IncidentWindows
from patrol.calibration import collect, pick, render_survey, survey_poses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--card", type=Path, default=Path("models/patrol-yolo11n-synth.yaml"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 5], help="held-out synthetic cities (not training seeds, not the demo's 7)")
    ap.add_argument("--size-m", type=float, default=1200.0)
    ap.add_argument("--alt-m", type=float, default=100.0)
    ap.add_argument("--violation-rate", type=float, default=0.5)
    ap.add_argument("--precision", type=float, default=0.92)
    ap.add_argument("--radius", type=float, default=10.0)
    ap.add_argument("--floor", type=float, default=0.1)
    ap.add_argument("--dry-run", action="store_true", help="print the thresholds, leave the card alone")
    args = ap.parse_args()

    card = yaml.safe_load(args.card.read_text(encoding="utf-8"))
    detector = Detector(args.card)
    detector.thresholds[:] = args.floor
    windows = IncidentWindows.load()
    scored: dict[str, list[tuple[float, bool]]] = {c: [] for c in detector.card.classes}
    photos = 0
    for seed in args.seeds:
        world = World(seed=seed, violation_rate=args.violation_rate)
        poses = survey_poses(world, args.size_m, args.alt_m)
        photos += len(poses)
        with tempfile.TemporaryDirectory() as tmp:
            shots = render_survey(world, poses, Path(tmp))
            for c, entries in collect(detector, world, shots, args.radius, windows).items():
                scored[c] += entries
    print(f"{photos} photos of city seeds {args.seeds}; class, threshold old → new, alert precision, recall")
    result = {}
    for c in detector.card.classes:
        t, p, r = pick(scored[c], args.precision, args.floor)
        n = sum(h for _, h in scored[c])
        print(f"  {c:20s} {card['conf_thresholds'][c]:.3f} → {t:.3f}   P {p:.3f}  R {r:.3f}  (planted {n})")
        result[c] = round(t, 3)
    if args.dry_run:
        return
    card["conf_thresholds"] = result
    card["calibration"] = {
        "method": f"lowest threshold with alert-level precision ≥ {args.precision} (else best F0.5): each planted "
                  "violation scores its best detection over all photos, false detections group into incidents",
        "city_seeds": args.seeds, "photos": photos, "altitude_m": args.alt_m, "match_radius_m": args.radius,
        "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    args.card.write_text(yaml.safe_dump(card, allow_unicode=True, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    main()
