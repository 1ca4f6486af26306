"""`patrol models list|promote|rollback`: the model registry in models/ · 模型库."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from detector.card import CardError, ModelCard
from detector.registry import MODELS_DIR, Registry, RegistryError

console = Console()
app = typer.Typer(help="the model registry: list, promote a better model, roll back · 模型库", no_args_is_help=True)
DIR = typer.Option(MODELS_DIR, "--models", help="registry folder (model cards + ONNX files)")


def _f(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def heldout_cells(card: ModelCard) -> tuple[str, str, str]:
    """mAP50, mAP50-95 and where they come from: `patrol eval` on a held-out set, else training's own val split."""
    for key, r in card.evaluations.items():
        if key.startswith("heldout:"):
            return _f(r.get("map50")), _f(r.get("map50_95")), f"{key[:20]} ({r.get('images')} img)"
    m = card.metrics
    return _f(m.get("map50")), _f(m.get("map50_95")), "training val split"


def real_cell(card: ModelCard) -> str:
    """Real-photo figures: per class with labelled objects, recall / precision (objects)."""
    for key, r in card.evaluations.items():
        if key.startswith("real:"):
            parts = [f"{c} R {_f(v['recall'])} P {_f(v['precision'])} ({v['truth']})"
                     for c, v in r["per_class"].items() if v["truth"]]
            return f"F1 {_f(r.get('score'))}: " + ("; ".join(parts) or "no labelled objects")
    parts = [f"{c} R {_f(v.get('recall'))} P {_f(v.get('precision'))} ({v.get('objects')})"
             for c, v in card.real_validation.items() if v.get("objects")]
    return "; ".join(parts) or "not evaluated on real photos"


@app.command("list")
def list_models(models: Path = DIR) -> None:
    """Every model with its held-out mAP and real-photo figures; ★ marks the current one 列出模型.

    One block per model rather than a table: versions and figures stay whole in a narrow terminal."""
    reg = Registry(models)
    try:
        current = reg.current_path().name
        entries = reg.entries()
    except (RegistryError, CardError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[bold]模型库 model registry[/bold] · {models}")
    for e in entries:
        m50, m95, where = heldout_cells(e.card)
        star = "★ current 当前" if e.path.name == current else ""
        console.print(f"[bold]{e.version}[/bold] {star}", highlight=False)
        console.print(f"  parent {e.card.parent or '—'} · data {e.card.data_hash[:12]} · classes {len(e.card.classes)} · "
                      f"input {e.card.input_size} px · GSD {e.card.train_gsd_m} m", highlight=False)
        console.print(f"  mAP50 {m50} · mAP50-95 {m95} ({where})", highlight=False)
        console.print(f"  real photos 真实照片: {real_cell(e.card)}", highlight=False)
    for h in reg.history()[-5:]:
        console.print(f"  {h['at']} {h['action']} {h['from']} → {h['to']} by {h['by']}"
                      + (" [yellow](forced)[/yellow]" if h.get("forced") else ""))


@app.command("promote")
def promote(model: str = typer.Argument(..., help="version, name or card file of the model"),
            force: bool = typer.Option(False, "--force", help="promote even if worse, or never compared"),
            note: str = typer.Option("", help="why (kept in the registry history)"), models: Path = DIR) -> None:
    """Make a model current if it is no worse than the current one on every shared split 上线模型."""
    try:
        e = Registry(models).promote(model, force=force, note=note)
    except (RegistryError, CardError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"promoted {e.version} ({e.path.name}); running detectors that follow the registry switch on their next photo")


@app.command("rollback")
def rollback(models: Path = DIR) -> None:
    """Put back the model that was current before the latest promotion 回滚."""
    try:
        e = Registry(models).rollback()
    except (RegistryError, CardError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"rolled back: {e.version} ({e.path.name}) is current again")
