"""`patrol train`: fine-tune a registry model on a built training set (Ultralytics, offline) · 训练."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from detector.card import CardError
from detector.datasets import DatasetError
from detector.registry import MODELS_DIR, Registry, RegistryError

console = Console()


def train(
    data: Path = typer.Option(..., "--data", help="a `patrol dataset build` folder"),
    parent: str = typer.Option(None, "--from", help="model to fine-tune: version or card (default: the current model)"),
    name: str = typer.Option("patrol-yolo11n", help="name of the new model (its version adds the UTC time)"),
    epochs: int = typer.Option(10, min=1),
    imgsz: int = typer.Option(320, min=32, help="training image size, px (multiple of 32)"),
    batch: int = typer.Option(16, min=1),
    threads: int = typer.Option(2, min=1, help="CPU threads for torch"),
    device: str = typer.Option("auto", help="auto (CUDA when present), cpu, or a CUDA index such as 0"),
    seed: int = typer.Option(0),
    resume: bool = typer.Option(False, "--resume", help="continue the interrupted run of this --name"),
    runs: Path = typer.Option(Path("out/train"), help="where Ultralytics keeps the run (weights, resume state)"),
    models: Path = typer.Option(MODELS_DIR, "--models", help="registry folder the new model is written to"),
) -> None:
    """Fine-tune, validate on the held-out split and register the result (not promoted) 训练模型."""
    from detector.training import TrainSpec, train as run_training

    try:
        if imgsz % 32:
            raise ValueError(f"--imgsz: {imgsz} is not a multiple of 32")
        reg = Registry(models)
        start = reg.find(parent) if parent else reg.current()
        spec = TrainSpec(data=data, parent=start.path, models_dir=models, name=name, epochs=epochs, imgsz=imgsz,
                         batch=batch, threads=threads, device=device, seed=seed, resume=resume, runs_dir=runs.resolve())
        with Progress(TextColumn("[bold]训练 training[/bold] epoch"), MofNCompleteColumn(), BarColumn(),
                      TimeElapsedColumn(), console=console, transient=False) as bar:
            task = bar.add_task("epochs", total=epochs)
            card = run_training(spec, on_epoch=lambda done, total: bar.update(task, completed=done, total=total))
    except (DatasetError, CardError, RegistryError, ValueError, FileNotFoundError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"registered {card} (parent {start.version}); evaluate it with `patrol eval {card} --data {data}`, "
                  "then `patrol models promote`")
