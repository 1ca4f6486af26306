"""Turn the official COCO-pretrained YOLOv5n checkpoint into a start for our detector.

    .venv-train/bin/python scripts/convert_yolov5_weights.py yolov5n.pt --out out/init/yolov5nu-coco.pt

The checkpoint (github.com/ultralytics/yolov5 @ 981548a1b78a, `yolov5n.pt`, COCO, GPL-3.0 at that
commit) is a pickle of YOLOv5's own module classes. Their code is not needed to read the tensors:
every `models.*`/`utils.*` class is unpickled as a plain `torch.nn.Module`, which keeps parameters
and buffers, so no GPL code is imported or copied. Ultralytics' `yolov5.yaml` at scale n has the
same backbone and neck (Conv/C3/SPPF, same cv1/cv2/cv3/m names, layers 0-23); its Detect head is
anchor-free, so the head starts from scratch. Tensors move by name and shape; the script prints
and records how many did, with the source's sha256, beside the output (`.yaml`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import sys
import types
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
os.environ["YOLO_OFFLINE"] = "1"
os.environ["YOLO_CONFIG_DIR"] = str(ROOT / ".ultralytics")
sys.path.insert(0, str(ROOT))

SOURCE = {"repo": "ultralytics/yolov5", "commit": "981548a1b78a10eb4fcf575997fa7392d5f74615", "path": "yolov5n.pt",
          "licence": "GPL-3.0 (LICENSE at that commit; the repository is AGPL-3.0 since 2023)",
          "trained_on": "COCO 2017 train, 80 classes (official YOLOv5 v6 release weights)"}


def _stub_unpickler(torch):
    """A pickle module whose Unpickler reads YOLOv5's module classes as bare nn.Modules."""

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            if module.split(".")[0] in ("models", "utils"):
                return type(name, (torch.nn.Module,), {"__module__": f"yolov5_stub.{module}"})
            return super().find_class(module, name)

    mod = types.ModuleType("yolov5_pickle")
    mod.Unpickler, mod.load = Unpickler, pickle.load
    return mod


def source_state(path: Path) -> tuple[dict, dict]:
    """The checkpoint's float state dict and facts about it (class names, date)."""
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_stub_unpickler(torch))
    model = ckpt.get("ema") or ckpt["model"]
    facts = {"classes": len(model.names), "date": ckpt.get("date"), "yaml": {k: model.yaml[k] for k in ("depth_multiple", "width_multiple")}}
    return {k: v.float() for k, v in model.state_dict().items()}, facts


def transfer(src: dict, dst: dict) -> tuple[dict, list[str], list[str]]:
    """Tensors of `src` whose name and shape match in `dst`; names moved and names left."""
    moved = {k: v for k, v in src.items() if k in dst and dst[k].shape == v.shape}
    return moved, sorted(moved), sorted(k for k in dst if k not in moved)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", type=Path, help="yolov5n.pt from ultralytics/yolov5 @ 981548a1b")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "init" / "yolov5nu-coco.pt")
    ap.add_argument("--sha256", default="4f180cf23ba0717ada0badd6c685026d73d48f184d00fc159c2641284b2ac0a3",
                    help="expected sha256 of the input ('' to skip the check)")
    args = ap.parse_args()
    digest = hashlib.sha256(args.weights.read_bytes()).hexdigest()
    if args.sha256 and digest != args.sha256:
        raise SystemExit(f"weights: sha256 {digest} is not the recorded {args.sha256} ({args.weights})")

    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    from detector.synth.world import CLASSES

    src, facts = source_state(args.weights)
    yolo = YOLO("yolov5n.yaml")  # Ultralytics' yolov5.yaml at scale n: built from its YAML, nothing fetched
    yolo.model = DetectionModel(yolo.model.yaml, nc=len(CLASSES), verbose=False)  # our 9 classes
    yolo.model.names = dict(enumerate(CLASSES))
    dst = yolo.model.state_dict()
    moved, names, left = transfer(src, dst)
    yolo.model.load_state_dict({**dst, **moved})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    yolo.save(args.out)
    head = [k for k in left if k.startswith("model.24.")]
    record = {"source": {**SOURCE, "sha256": digest, "bytes": args.weights.stat().st_size, **facts},
              "target": "ultralytics yolov5.yaml scale n (yolov5nu), anchor-free Detect head, "
                        f"{len(CLASSES)} classes", "ultralytics": __import__("ultralytics").__version__,
              "transferred_tensors": len(names), "source_tensors": len(src), "target_tensors": len(dst),
              "from_scratch": {"detect_head": len(head), "other": [k for k in left if k not in head]}}
    args.out.with_suffix(".yaml").write_text(yaml.safe_dump(record, sort_keys=False), encoding="utf-8")
    print(f"transferred {len(names)}/{len(dst)} tensors ({len(src)} in the source); "
          f"{len(head)} Detect-head tensors from scratch, {len(left) - len(head)} other -> {args.out}")


if __name__ == "__main__":
    main()
