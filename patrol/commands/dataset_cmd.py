"""`patrol dataset import|fetch-reviewed|synth|build`: labelled photo sets in the taxonomy's terms,
and the training set built from all of them."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import httpx
import typer
from rich.console import Console

from detector.card import CardError, load_card
from detector.datasets import DatasetError, Source, parse_class_map, read_coco, read_yolo, read_yolo_names, write_yolo
from dispatch.taxonomy import Taxonomy

console = Console()
app = typer.Typer(help="labelled photo sets: import YOLO/COCO sets with their licence · 数据集", no_args_is_help=True)


class Format(str, Enum):
    yolo = "yolo"
    coco = "coco"


class Split(str, Enum):
    train = "train"
    dev = "dev"


@app.command("import")
def import_set(
    fmt: Format = typer.Argument(..., metavar="FORMAT", help="yolo or coco"),
    src: Path = typer.Argument(..., help="YOLO: folder of images + .txt labels; COCO: the annotations JSON"),
    out: Path = typer.Option(..., "--out", "-o", help="YOLO folder to write (or add to), with manifest.yaml"),
    split: Split = typer.Option(..., help="train, or dev (held out: never trained on)"),
    class_map: list[str] = typer.Option(..., "--map", help="SOURCE_NAME=TAXONOMY_CODE, or SOURCE_NAME=- to drop; repeat"),
    names: Path = typer.Option(None, help="YOLO: class names file (classes.txt, *.names or data.yaml)"),
    images: Path = typer.Option(None, help="COCO: folder the file_name entries are relative to"),
    include: list[str] = typer.Option([], help="only image file names matching this glob; repeat"),
    exclude: list[str] = typer.Option([], help="skip image file names matching this glob; repeat"),
    source: str = typer.Option(..., help="short name of this source in the manifest"),
    repo: str = typer.Option(..., help="where it came from (owner/name of the public repository)"),
    commit: str = typer.Option(..., help="commit (or version) the files were taken at"),
    licence: str = typer.Option(..., help="licence of the images and labels, e.g. CC-BY-3.0"),
    attribution: str = typer.Option("", help="attribution the licence asks for"),
    gsd: float = typer.Option(..., help="ground sample distance of these photos, m/px"),
    gsd_basis: str = typer.Option(..., help="how the GSD was found"),
    scene: str = typer.Option("", help="what the photos show"),
    store_gsd: float = typer.Option(None, help="store photos finer than this shrunk to it, m/px (keeps a set small)"),
    taxonomy: Path = typer.Option(Path("configs/taxonomy.yaml"), help="taxonomy YAML the codes come from"),
) -> None:
    """Import one source into a YOLO folder, mapping its classes to taxonomy codes 导入数据集."""
    try:
        tax = Taxonomy.load(taxonomy)
        mapping = parse_class_map(class_map, tax.codes)
        if fmt is Format.yolo:
            if names is None:
                raise DatasetError("--names is required for a YOLO set")
            items = read_yolo(src, read_yolo_names(names), mapping, source, include, exclude)
        else:
            if images is None:
                raise DatasetError("--images is required for a COCO set")
            items = read_coco(src, images, mapping, source, include, exclude)
        if not items:
            raise DatasetError(f"{src}: no labelled images matched")
        meta = Source(name=source, repo=repo, commit=commit, licence=licence, attribution=attribution,
                      gsd_m=gsd, gsd_basis=gsd_basis, scene=scene)
        manifest = write_yolo(items, out, [t.code for t in tax.types], meta, split.value, store_gsd)
    except (DatasetError, OSError, ValueError) as exc:  # every bad input, named, exit 2
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    n_obj = sum(len(i.boxes) for i in items)
    console.print(f"imported {len(items)} images, {n_obj} objects from {source} into {out} "
                  f"({len(manifest.images)} images in the set)")


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2) from None


def _model_classes(model: Path | None) -> list[str]:
    from detector.registry import Registry

    return list((load_card(model) if model else Registry().current().card).classes)


MODEL = typer.Option(None, "--model", help="model card whose class list the set uses (default: the registry's current model)")


@app.command("fetch-reviewed")
def fetch_reviewed_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="new folder for the evidence set"),
    url: str = typer.Option("http://127.0.0.1:8600", "--dispatch", help="dispatch base URL"),
    token: str = typer.Option(..., "--token", envvar="PATROL_ADMIN_TOKEN", help="the city admin (analyst) token"),
    licence: str = typer.Option("city-owned patrol photos, internal use", help="licence recorded in the manifest"),
    model: Path = MODEL,
) -> None:
    """Download reviewed evidence (confirmed → boxes, rejected → hard negatives) 拉取复核样本."""
    from patrol.reviewed import fetch_reviewed

    try:
        with console.status(f"fetching reviewed evidence from {url} …"):
            manifest = fetch_reviewed(url, token, out, _model_classes(model), licence)
    except (DatasetError, OSError, ValueError, httpx.HTTPError) as exc:
        _fail(exc)
    negatives = sum(1 for e in manifest.images if not e.objects)
    console.print(f"fetched {len(manifest.images)} reviewed crops into {out} ({negatives} hard negatives)")


@app.command("synth")
def synth(out: Path = typer.Option(..., "--out", "-o"), seed: int = typer.Option(0), tiles: int = typer.Option(3000),
          val_tiles: int = typer.Option(500)) -> None:
    """Render a synthetic-city tile set with exact labels 合成数据."""
    from rich.progress import Progress

    from detector.synth.dataset import write_dataset

    with Progress(console=console) as bar:
        task = bar.add_task("rendering tiles", total=tiles + val_tiles)
        write_dataset(out, seed=seed, train_tiles=tiles, val_tiles=val_tiles, progress=lambda *_: bar.advance(task))
    console.print(f"synthetic set in {out}")


@app.command("build")
def build_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="new folder for the training set"),
    reviewed: list[Path] = typer.Option([], help="evidence set from `patrol dataset fetch-reviewed`; repeat"),
    synthetic: list[Path] = typer.Option([], help="synthetic set from `patrol dataset synth`; repeat"),
    imported: list[Path] = typer.Option([], help="imported real train set (`patrol dataset import --split train`); repeat"),
    heldout_percent: float = typer.Option(20.0, min=1.0, max=90.0, help="share of images held out for evaluation"),
    previous: Path = typer.Option(None, help="an earlier build: its held-out images stay held out"),
    model: Path = MODEL,
    taxonomy: Path = typer.Option(Path("configs/taxonomy.yaml"), help="taxonomy YAML the codes come from"),
) -> None:
    """Build a YOLO training set with a fixed, content-hashed held-out split 构建训练集."""
    from detector.dataset_build import build

    try:
        with console.status("checking every image and label, cutting tiles, writing the set …"):
            manifest = build(out, _model_classes(model), Taxonomy.load(taxonomy).codes, reviewed, synthetic, imported,
                             heldout_percent, previous)
    except (DatasetError, CardError, OSError, ValueError) as exc:
        _fail(exc)
    for s in manifest.sources:
        console.print(f"  {s.name}: {s.images} images, {s.objects} objects, {s.hard_negatives} hard negatives — {s.licence}")
    console.print(f"built {out}: train {manifest.counts['train']}, held-out {manifest.counts['heldout']} "
                  f"(held-out sha256 {manifest.heldout_sha256[:16]})")
