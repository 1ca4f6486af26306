"""Build a fine-tuning dataset of whole-photo tiles mined with the current model.

Photographs held-apart synthetic cities with the survey camera, cuts each photo the way the
detector does, and keeps the tiles that hold a violation or make the current model fire (see
detector/synth/mining.py). The training split also lists an earlier tile dataset's training
images, so fine-tuning keeps what the model knew; validation is whole-photo tiles of another city.

    .venv/bin/python scripts/mine_hard_tiles.py --out out/synth_dataset_v4 --base out/synth_dataset_v3
    .venv-train/bin/python scripts/train_detector.py --data-dir out/synth_dataset_v4 \\
        --init models/patrol-yolo11n-synth.pt --minutes 45
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import asdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detector.detect import DEFAULT_MODEL, Detector  # noqa: E402
from detector.synth.dataset import TILE_PX, TRAIN_GSD_M  # noqa: E402
from detector.synth.mining import MiningSpec, mine_split  # noqa: E402
from detector.synth.world import CLASSES  # noqa: E402
from patrol.config import load_city  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--base", type=Path, required=True, help="tile dataset whose training images are kept in the mix")
    ap.add_argument("--card", type=Path, default=DEFAULT_MODEL, help="the model whose detections pick hard tiles")
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "quzhou.yaml", help="city whose drones' camera takes the photos")
    ap.add_argument("--train-seeds", type=int, nargs="+", default=[4, 6], help="cities to mine (not 3: calibration, not 7: demo)")
    ap.add_argument("--val-seed", type=int, default=8)
    ap.add_argument("--size-m", type=float, default=1200.0)
    ap.add_argument("--val-size-m", type=float, default=500.0)
    args = ap.parse_args()

    base = yaml.safe_load((args.base / "dataset.yaml").read_text())
    detector = Detector(args.card)
    camera = load_city(args.config).drones[0].camera
    t0 = time.time()
    splits = {"train": [MiningSpec(s, args.size_m) for s in args.train_seeds], "val": [MiningSpec(args.val_seed, args.val_size_m)]}
    instances, digests = {}, []
    for name, specs in splits.items():
        counts, digest = mine_split(args.out, name, specs, detector, camera,
                                    progress=lambda k, n: print(f"  {name} photo {k}/{n}", flush=True) if k % 50 == 0 else None)
        instances[name] = dict(zip(CLASSES, counts))
        digests.append(digest)
        print(f"{name}: {sum(counts)} instances, {time.time() - t0:.0f} s", flush=True)
    meta = {
        "path": str(args.out.resolve()),
        "train": [str((args.base / base["train"]).resolve()), "images/train"],
        "val": "images/val",
        "names": dict(enumerate(CLASSES)),
        "synth": {
            "mined_with": f"{detector.card.version} (detections ≥ {MiningSpec.fire_conf})",
            "base": {"seed": base["synth"]["seed"], "sha256": base["synth"]["sha256"]},
            "gsd_m": TRAIN_GSD_M,
            "tile_px": TILE_PX,
            "mined": {name: [asdict(s) for s in specs] for name, specs in splits.items()},
            "instances": instances,
            "sha256": hashlib.sha256("".join([base["synth"]["sha256"], *digests]).encode()).hexdigest(),
        },
    }
    (args.out / "dataset.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
    print(f"dataset: {args.out / 'dataset.yaml'}")


if __name__ == "__main__":
    main()
