"""Train the shipped detector on the synthetic city (and real train tiles), on CPU, offline.

Run with the training venv (torch + Ultralytics are not runtime dependencies):

    python3 -m venv .venv-train
    .venv-train/bin/pip install torch==2.14.1 torchvision==0.29.1 ultralytics==8.4.190 onnx onnxslim
    .venv-train/bin/pip install --no-deps -e .
    .venv-train/bin/python scripts/train_detector.py --minutes 30
    # from COCO-pretrained features (see scripts/convert_yolov5_weights.py) with real train tiles:
    .venv-train/bin/python scripts/train_detector.py --init out/init/yolov5nu-coco.pt --real out/real_train \
        --name patrol-yolov5nu-real --seed 9 --minutes 48 --freeze 10

Writes models/<name>.onnx, models/<name>.pt (same weights, for the SAHI bench) and models/<name>.yaml (the model card: classes → taxonomy codes,
input size, training GSD, per-class confidence thresholds and mAP50 on the held-out split,
data hash). Everything Ultralytics would fetch or phone home is switched off here, in code.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from detector.card import ModelCard, write_card  # noqa: E402
from detector.synth.dataset import TILE_PX, TRAIN_GSD_M, dataset_hash, write_dataset  # noqa: E402
from detector.synth.world import CLASSES  # noqa: E402
from detector.training import offline_ultralytics  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="patrol-yolo11n-synth")
    p.add_argument("--data-dir", type=Path, default=ROOT / "out" / "synth_dataset")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-tiles", type=int, default=3000)
    p.add_argument("--val-tiles", type=int, default=500)
    p.add_argument("--minutes", type=float, default=28.0, help="wall-clock training budget (Ultralytics time=)")
    p.add_argument("--epochs", type=int, default=30, help="upper bound; the time budget usually ends training first")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models-dir", type=Path, default=ROOT / "models")
    p.add_argument("--dataset-only", action="store_true", help="write the YOLO dataset and stop (needs no torch)")
    p.add_argument("--init", type=Path, default=None, help="fine-tune from these .pt weights instead of training from scratch")
    p.add_argument("--real", type=Path, action="append", default=[],
                   help="imported real train set (patrol dataset import --split train) to cut into training tiles; repeat")
    p.add_argument("--freeze", type=int, default=None,
                   help="keep the first N layers as --init has them (e.g. 10: a pretrained backbone); CPU time goes to the rest")
    p.add_argument("--architecture", default=None, help="architecture line for the card (default: from --init)")
    return p.parse_args()


def thresholds_from_f1(f1_curve: np.ndarray, px: np.ndarray, floor: float = 0.1) -> list[float]:
    """Per-class confidence that maximises F1 on the validation split (never below `floor`)."""
    return [round(max(floor, float(px[int(np.argmax(row))])), 3) for row in f1_curve]


def _val_split(data_yaml: Path) -> str:
    synth = yaml.safe_load(data_yaml.read_text())["synth"]
    if "mined" in synth:
        seeds = [m["seed"] for m in synth["mined"]["val"]]
        return f"val (tiles cut from whole rendered photos of held-out synthetic city seed {seeds})"
    return "val (held-out blocks of the synthetic city)"


def _init_summary(init: Path | None) -> dict | None:
    """What the starting weights were trained on, from the card saved beside them."""
    if init is None:
        return None
    card = init.with_suffix(".yaml")
    raw = yaml.safe_load(card.read_text()) if card.exists() else {}
    if "source" in raw:  # pretrained weights converted by scripts/convert_yolov5_weights.py
        return {"weights": init.name, **raw}
    return {"weights": init.name, "data_hash": raw.get("data_hash"), "training": raw.get("training"),
            "map50": raw.get("metrics", {}).get("map50")}


def _add_real_tiles(sets: list[Path], data_dir: Path, seed: int) -> list[dict]:
    """Cut each real train set into the dataset's train split (once: a marker file per set)."""
    from detector.datasets import load_manifest
    from detector.real_tiles import cut_training_tiles

    out = []
    for k, root in enumerate(sets):
        marker = data_dir / f"real_{k}.yaml"
        if marker.exists():
            out.append(yaml.safe_load(marker.read_text()))
            continue
        counts = cut_training_tiles(root, data_dir, TRAIN_GSD_M, TILE_PX, seed=seed + k)
        manifest = load_manifest(root)
        entry = {"set": str(root), **counts, "sources": [s.model_dump() for s in manifest.sources]}
        marker.write_text(yaml.safe_dump(entry, sort_keys=False, allow_unicode=True))
        print(f"real tiles from {root}: {counts}", flush=True)
        out.append(entry)
    return out


def main() -> None:
    args = parse_args()
    t0 = time.time()
    data_yaml = args.data_dir / "dataset.yaml"
    if not data_yaml.exists():
        print(f"writing synthetic dataset to {args.data_dir} ...", flush=True)
        write_dataset(args.data_dir, seed=args.seed, train_tiles=args.train_tiles, val_tiles=args.val_tiles,
                      progress=lambda split, k, n: print(f"  {split} {k}/{n}", flush=True) if k % 250 == 0 else None)
        print(f"dataset written in {time.time() - t0:.0f} s", flush=True)
    real = _add_real_tiles(args.real, args.data_dir, args.seed)
    if args.dataset_only:
        print(f"dataset: {data_yaml}")
        return

    torch, YOLO = offline_ultralytics(args.threads)  # before anything imports Ultralytics

    # architecture from the package's YAML (no weights are fetched), or our own earlier weights
    model = YOLO(str(args.init)) if args.init else YOLO("yolo11n.yaml")
    project = ROOT / "out" / "train"
    model.train(
        data=str(data_yaml), epochs=args.epochs, time=args.minutes / 60.0, imgsz=TILE_PX, batch=args.batch,
        device="cpu", workers=0, amp=False, pretrained=bool(args.init), plots=False, val=False, seed=args.seed,
        project=str(project), name=args.name, exist_ok=True, verbose=False,
        fliplr=0.5, flipud=0.5, degrees=0.0, scale=0.2, translate=0.1, mosaic=1.0, close_mosaic=2,
        hsv_h=0.01, hsv_s=0.4, hsv_v=0.3, patience=100, warmup_epochs=0.5, freeze=args.freeze,
    )
    torch.set_num_threads(args.threads)
    best = project / args.name / "weights" / "best.pt"
    if not best.exists():
        best = project / args.name / "weights" / "last.pt"
    trained = YOLO(str(best))
    metrics = trained.val(data=str(data_yaml), split="val", imgsz=TILE_PX, batch=args.batch, device="cpu",
                          plots=False, verbose=False, project=str(project), name=f"{args.name}-val", exist_ok=True)
    box = metrics.box
    ap50_by_class = {CLASSES[int(c)]: round(float(a), 4) for c, a in zip(box.ap_class_index, box.ap50)}
    best_conf = dict(zip((CLASSES[int(c)] for c in box.ap_class_index), thresholds_from_f1(np.asarray(box.f1_curve), np.asarray(box.px))))
    thresholds = {c: best_conf.get(c, 0.25) for c in CLASSES}
    onnx_path = Path(trained.export(format="onnx", imgsz=TILE_PX, dynamic=True, simplify=True, opset=17, device="cpu"))
    args.models_dir.mkdir(exist_ok=True)
    target = args.models_dir / f"{args.name}.onnx"
    shutil.copyfile(onnx_path, target)
    shutil.copyfile(best, target.with_suffix(".pt"))  # the same weights for torch-based comparisons (SAHI bench)
    card = ModelCard(
        name=args.name,
        version=f"{args.name}-{time.strftime('%Y%m%d')}",
        file=target.name,
        architecture=args.architecture or ("YOLO11n (ultralytics yolo11n.yaml, trained from scratch)" if not args.init
                                           else f"YOLO11n, fine-tuned from {args.init.name}"),
        classes=list(CLASSES),
        input_size=TILE_PX,
        train_gsd_m=TRAIN_GSD_M,
        conf_thresholds=thresholds,
        metrics={"split": _val_split(data_yaml), "map50": round(float(box.map50), 4),
                 "map50_95": round(float(box.map), 4), "ap50_per_class": ap50_by_class},
        data_hash=dataset_hash(data_yaml),
        data={**yaml.safe_load(data_yaml.read_text())["synth"], **({"real": real} if real else {})},
        training={"minutes_budget": args.minutes, "wall_s": round(time.time() - t0), "batch": args.batch,
                  "threads": args.threads, "seed": args.seed, "freeze": args.freeze, "init_from": _init_summary(args.init), "ultralytics": str(__import__("ultralytics").__version__),
                  "torch": str(torch.__version__)},
    )
    write_card(card, args.models_dir / f"{args.name}.yaml")
    print(yaml.safe_dump(card.model_dump(), sort_keys=False, allow_unicode=True))


if __name__ == "__main__":
    main()
