"""`patrol eval [MODEL]`: a model and the current one side by side — held-out mAP, real photos,
pipeline figures — with threshold calibration; results are recorded in each card."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.status import Status
from rich.table import Table

from detector.card import CardError
from detector.detect import Detector, DetectorSettings
from detector.real_eval import RealEval, evaluate
from detector.registry import MODELS_DIR, Registry, RegistryError
from patrol.model_eval import CitySpec, ModelEval, evaluate_model

console = Console()
VEHICLE = "illegal_parking"


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def targets(ev: RealEval) -> dict[str, bool | None]:
    """The issue's real-photo targets; None where the dev set has no photos to judge by."""
    car = ev.classes.get(VEHICLE)
    return {
        "vehicles R≥0.80 at P≥0.80": None if car is None or car.recall is None
        else bool(car.recall >= 0.80 and (car.precision or 0.0) >= 0.80),
        "dumps: ≥0.70 dump photos flagged, ≤0.10 clean": None if ev.dump_photos_flagged is None
        else bool(ev.dump_photos_flagged >= 0.70 and (ev.clean_photos_flagged or 0.0) <= 0.10),
        "no burning_smoke box without smoke": ev.smoke_boxes_without_smoke == 0,
    }


def report(results: list[RealEval]) -> Table:
    """One table, one column pair per model, so the new model is read against the old in one look."""
    table = Table(title=f"真实照片评估 · real dev set: {results[0].images} photos, {results[0].area_km2:.4f} km²")
    table.add_column("class")
    for ev in results:
        table.add_column(f"{ev.model}\nR / P (truth, boxes)", justify="right")
        table.add_column("false /km²", justify="right")
    for code in results[0].classes:
        cells = []
        for ev in results:
            c = ev.classes[code]
            cells += [f"{_f(c.recall)} / {_f(c.precision)} ({c.truth}, {c.boxes})", f"{c.false_per_km2:.0f}"]
        table.add_row(code, *cells)
    table.add_row("burning_smoke boxes, no-smoke photos", *sum(([str(ev.smoke_boxes_without_smoke), ""] for ev in results), []))
    table.add_row("dump photos flagged / clean flagged",
                  *sum(([f"{_f(ev.dump_photos_flagged)} / {_f(ev.clean_photos_flagged)} ({ev.dump_photos} dump)", ""]
                        for ev in results), []))
    for name in targets(results[0]):
        table.add_row(f"target: {name}", *sum(([{True: "✓", False: "✗", None: "no data"}[targets(ev)[name]], ""]
                                                for ev in results), []))
    return table


def run_eval(real: Path, models: list[Path], backend: str, json_path: Path | None) -> list[RealEval]:
    """Real-photo figures only, nothing recorded (scripts/eval_real.py)."""
    results = []
    for card in models:
        det = Detector(card, backend=backend, threads=2, settings=DetectorSettings(evidence=False))
        results.append(evaluate(det, real))
    console.print(report(results))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"dev_set": str(real), "models": [r.to_json() for r in results],
                                         "targets": {r.model: targets(r) for r in results}}, indent=2, ensure_ascii=False),
                             encoding="utf-8")
    return results


def evaluate_cmd_models(model: Path | None, baseline: Path | None, models: Path = MODELS_DIR) -> list[Path]:
    """The model to judge and the one to judge it against (both default to the registry's current)."""
    current = Registry(models).current_path()
    first, second = model or current, baseline or current
    return [first] if second.resolve() == first.resolve() else [first, second]


def heldout_table(evals: list[ModelEval]) -> Table:
    first = evals[0].heldout
    table = Table(title=f"留出集评估 · held-out split {first.key} ({first.images} images): AP50 / AP50-95 per class")
    table.add_column("class")
    for ev in evals:
        table.add_column(ev.version, justify="right")
    for code in first.per_class:
        table.add_row(f"{code} ({first.per_class[code].instances})",
                      *[f"{ev.heldout.per_class[code].ap50:.3f} / {ev.heldout.per_class[code].ap50_95:.3f}" for ev in evals])
    table.add_row("mAP50 / mAP50-95", *[f"{ev.heldout.map50:.3f} / {ev.heldout.map50_95:.3f}" for ev in evals])
    return table


def pipeline_table(evals: list[ModelEval]) -> Table:
    table = Table(title="流水线评估 · pipeline (tiling, merging, second look, incidents) on a held-out synthetic city: "
                        "recall / precision (planted, alerts)")
    table.add_column("class")
    for ev in evals:
        table.add_column(ev.version, justify="right")
    for code in sorted({c for ev in evals for c in ev.pipeline}):
        cells = []
        for ev in evals:
            r = ev.pipeline.get(code)
            cells.append("—" if r is None else f"{_f(r['recall'])} / {_f(r['precision'])} ({r['planted']}, {r['alerts']})")
        table.add_row(code, *cells)
    return table


def calibration_table(ev: ModelEval) -> Table:
    cal = ev.calibration
    table = Table(title=f"阈值校准 · thresholds calibrated for {ev.version} (alert precision ≥ {cal['precision_target']}, "
                        f"{cal['photos']} photos of city seed {cal['city_seed']})")
    for col in ("class", "old", "new"):
        table.add_column(col, justify="right" if col != "class" else "left")
    for code, new in cal["new"].items():
        table.add_row(code, f"{cal['old'][code]:.3f}", f"{new:.3f}")
    return table


def eval_command(
    model: Path = typer.Argument(None, help="model card to judge (default: the registry's current model)"),
    data: Path = typer.Option(None, "--data", help="a `patrol dataset build` folder: mAP on its held-out split"),
    real: Path = typer.Option(None, "--real", help="real labelled dev set (YOLO folder with manifest.yaml)"),
    city_m: float = typer.Option(0.0, "--city-m", help="fly a held-out synthetic city this many metres square for "
                                                      "pipeline-level figures (0: skip)"),
    calibrate: bool = typer.Option(False, "--calibrate", help="re-calibrate the model's thresholds first (needs --city-m)"),
    baseline: Path = typer.Option(None, help="model card to compare with (default: the registry's current model)"),
    models: Path = typer.Option(MODELS_DIR, "--models", help="registry folder"),
    backend: str = typer.Option("auto", help="auto, onnxruntime, openvino or cuda"),
    json_out: Path = typer.Option(None, "--json", help="write the figures as JSON here"),
) -> None:
    """Score a model against the current one: held-out mAP, real photos, pipeline; record it in the card 模型评估."""
    from detector.datasets import DatasetError

    try:
        if data is None and real is None and not city_m:
            raise ValueError("nothing to evaluate on: give --data, --real and/or --city-m")
        if calibrate and not city_m:
            raise ValueError("--calibrate: needs --city-m (thresholds are calibrated on whole photos of a city)")
        cards = evaluate_cmd_models(model, baseline, models)
        city = CitySpec(size_m=city_m) if city_m else None
        with Status("evaluating 评估中 …", console=console):
            evals = [evaluate_model(c, data, real, city, calibrate and k == 0, backend) for k, c in enumerate(cards)]
    except (DatasetError, CardError, RegistryError, ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if evals[0].calibration:
        console.print(calibration_table(evals[0]))
    if evals[0].heldout:
        console.print(heldout_table(evals))
    if evals[0].real:
        console.print(report([ev.real for ev in evals]))
    if evals[0].pipeline is not None:
        console.print(pipeline_table(evals))
    console.print(f"recorded in {', '.join(str(e.card) for e in evals)}")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({
            "models": [{"card": str(e.card), "version": e.version, "evaluations": e.evaluations,
                        **({"real": e.real.to_json(), "targets": targets(e.real)} if e.real else {})} for e in evals]},
            indent=2, ensure_ascii=False), encoding="utf-8")
