"""Fine-tuning a registry model on a built training set with Ultralytics, offline.

Nothing is fetched at run time: Ultralytics is told it is offline and may install nothing
(YOLO_OFFLINE, YOLO_AUTOINSTALL) before it is imported, keeps its settings in the project's own
`.ultralytics/`, always gets an explicit `data=` YAML and a local weights file (never a bare model
name it would download), and makes no plots (which would want a font). Training resumes from
the run's `last.pt` when asked; progress is a rich bar fed by Ultralytics' epoch callback.
The result is registered in models/ as ONNX + .pt + card, with the model it came from as parent.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from detector.card import ModelCard, load_card, write_card
from detector.dataset_build import load_build

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_DIR = ROOT / ".ultralytics"
OFF = ("sync", "tensorboard", "mlflow", "wandb", "comet", "clearml", "dvc", "neptune", "raytune")


def offline_ultralytics(threads: int):
    """Import Ultralytics with every download, install and telemetry path shut; returns (torch, YOLO)."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "False"
    os.environ["YOLO_CONFIG_DIR"] = str(SETTINGS_DIR)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    SETTINGS_DIR.mkdir(exist_ok=True)
    try:
        import torch
        from ultralytics import YOLO, settings
    except ImportError as exc:
        raise RuntimeError(f"training needs torch and Ultralytics ({exc}); run it with the training venv: "
                           "`make train-venv`, then `.venv-train/bin/patrol train ...`") from None
    settings.update({k: False for k in OFF if k in settings})
    torch.set_num_threads(threads)
    return torch, YOLO


def pick_device(torch, requested: str) -> str:
    """`auto`: the first CUDA GPU when there is one, else the CPU."""
    if requested != "auto":
        return requested
    return "0" if torch.cuda.is_available() else "cpu"


def _finished(torch, last: Path) -> bool:
    """A run's last.pt after its final epoch has its optimizer stripped and epoch set to -1."""
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    return ckpt.get("optimizer") is None or int(ckpt.get("epoch", -1)) < 0


@dataclass(frozen=True)
class TrainSpec:
    data: Path  # a `patrol dataset build` folder
    parent: Path  # card of the model to fine-tune (its .pt weights lie beside it)
    models_dir: Path
    name: str = "patrol-yolo11n"
    epochs: int = 10
    imgsz: int = 320
    batch: int = 16
    threads: int = 2
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    runs_dir: Path = ROOT / "out" / "train"


def train(spec: TrainSpec, on_epoch: Callable[[int, int], None] | None = None) -> Path:
    """Fine-tune, validate on the held-out split, export ONNX, write the card; returns its path."""
    t0 = time.time()
    build = load_build(spec.data)
    parent = load_card(spec.parent)
    weights = spec.parent.with_suffix(".pt")
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: the parent model's torch weights are missing (only ONNX cannot be fine-tuned)")
    if list(parent.classes) != list(build.classes):
        raise ValueError(f"{spec.data}: built for classes {build.classes}, but {spec.parent} has {parent.classes}")
    torch, YOLO = offline_ultralytics(spec.threads)
    device = pick_device(torch, spec.device)
    run = spec.runs_dir / spec.name
    last = run / "weights" / "last.pt"
    data_yaml = str(Path(spec.data) / "dataset.yaml")
    if spec.resume and not last.is_file():
        raise FileNotFoundError(f"{last}: nothing to resume (no earlier run named {spec.name!r})")
    if spec.resume and _finished(torch, last):
        raise ValueError(f"--resume: run {spec.name!r} ({run}) already finished all its epochs; "
                         "start a new run with another --name (Ultralytics would silently start over)")
    model = YOLO(str(last if spec.resume else weights))
    if on_epoch:
        model.add_callback("on_train_epoch_end", lambda tr: on_epoch(tr.epoch + 1, tr.epochs))
    if spec.resume:
        model.train(resume=True, data=data_yaml, workers=0, plots=False)
    else:
        model.train(data=data_yaml, epochs=spec.epochs, imgsz=spec.imgsz, batch=spec.batch, device=device, workers=0,
                    amp=device != "cpu", pretrained=True, plots=False, val=False, seed=spec.seed,
                    project=str(spec.runs_dir), name=spec.name, exist_ok=True, verbose=False, patience=1000,
                    warmup_epochs=0.0, mosaic=0.5, close_mosaic=0)
    torch.set_num_threads(spec.threads)  # Ultralytics resets it
    best = run / "weights" / "best.pt"
    trained = YOLO(str(best if best.is_file() else last))
    box = trained.val(data=data_yaml, split="val", imgsz=spec.imgsz, batch=spec.batch, device=device, plots=False,
                      verbose=False, project=str(spec.runs_dir), name=f"{spec.name}-val", exist_ok=True).box
    version = f"{spec.name}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"
    onnx = Path(trained.export(format="onnx", imgsz=spec.imgsz, dynamic=True, simplify=True, opset=17, device="cpu"))
    spec.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx, spec.models_dir / f"{version}.onnx")
    shutil.copyfile(best if best.is_file() else last, spec.models_dir / f"{version}.pt")
    classes = list(parent.classes)
    card = ModelCard(
        name=spec.name, version=version, file=f"{version}.onnx",
        architecture=f"{parent.architecture.split(' (')[0]}, fine-tuned from {parent.version}",
        classes=classes, input_size=spec.imgsz, train_gsd_m=parent.train_gsd_m,
        conf_thresholds=dict(parent.conf_thresholds),  # the parent's calibration until `patrol eval --calibrate`
        metrics={"split": f"heldout of {spec.data} (Ultralytics val at training time)", "map50": round(float(box.map50), 4),
                 "map50_95": round(float(box.map), 4),
                 "ap50_per_class": {classes[int(c)]: round(float(a), 4) for c, a in zip(box.ap_class_index, box.ap50)}},
        data_hash=build.data_sha256,
        data={"build": str(spec.data), "heldout_sha256": build.heldout_sha256, "counts": build.counts,
              "sources": [s.model_dump() for s in build.sources]},
        training={"epochs": spec.epochs, "imgsz": spec.imgsz, "batch": spec.batch, "threads": spec.threads,
                  "device": device, "seed": spec.seed, "resumed": spec.resume, "wall_s": round(time.time() - t0),
                  "init_from": weights.name, "ultralytics": str(__import__("ultralytics").__version__),
                  "torch": str(torch.__version__)},
        calibration={"inherited_from": parent.version, **({"method": parent.calibration.get("method")}
                                                          if parent.calibration.get("method") else {})},
        parent=parent.version,
    )
    path = spec.models_dir / f"{version}.yaml"
    write_card(card, path)
    return path
