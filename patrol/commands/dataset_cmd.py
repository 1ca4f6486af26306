"""`patrol dataset import`: bring a real YOLO or COCO photo set into the taxonomy's terms."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

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
