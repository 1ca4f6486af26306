"""`patrol eval --real DIR`: the shipped model and the one before it, side by side, on real photos."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from detector.detect import DEFAULT_MODEL, Detector, DetectorSettings
from detector.real_eval import RealEval, evaluate

console = Console()
PREVIOUS_MODEL = DEFAULT_MODEL.parent / "patrol-yolo11n-synth.yaml"
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


def evaluate_cmd_models(model: Path | None, baseline: Path | None) -> list[Path]:
    first = model or DEFAULT_MODEL
    second = baseline or PREVIOUS_MODEL
    return [first] if second.resolve() == first.resolve() else [first, second]


def eval_command(
    real: Path = typer.Option(..., "--real", help="real labelled dev set (YOLO folder with manifest.yaml)"),
    model: Path = typer.Option(None, help="model card to judge (default: the shipped model)"),
    baseline: Path = typer.Option(None, help="model card to compare with (default: the previously shipped model)"),
    backend: str = typer.Option("auto", help="auto, onnxruntime, openvino or cuda"),
    json_out: Path = typer.Option(None, "--json", help="write the figures as JSON here"),
) -> None:
    """Score models on real photos: per-class recall/precision, false alarms per km² 真实照片评估."""
    from detector.datasets import DatasetError

    try:
        run_eval(real, evaluate_cmd_models(model, baseline), backend, json_out)
    except (DatasetError, ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
