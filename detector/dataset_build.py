"""`patrol dataset build`: one YOLO training set from every source an analyst has, with a held-out
split that stays put from one build to the next.

Sources: the city's reviewed evidence (crops: confirmed findings are boxes, rejected ones are
hard negatives with no box), the synthetic city, and imported real train sets (cut into tiles at
the training resolution). Every image is checked (readable, labels well-formed, classes the
model knows) and the error names the file and line. Whether an image is held out is decided by
the SHA-256 of its content (of the source photo, for tiles cut from one, so no photo straddles
the split); the held-out list and its hash go into the manifest, and `patrol eval` keys its
results by that hash so that models are only ever ranked on the same photos.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from detector.datasets import (IMAGE_SUFFIXES, DatasetError, image_size, load_manifest, parse_yolo_line, read_manifest,
                               read_set)
from detector.real_tiles import cut_training_tiles
from detector.synth.dataset import TILE_PX, TRAIN_GSD_M

HELDOUT, TRAIN = "heldout", "train"
BUILD_MANIFEST = "manifest.yaml"


@dataclass(frozen=True)
class Example:
    """One training image: its file, YOLO label lines (class index, cx, cy, w, h) and provenance."""

    image: Path
    labels: tuple[tuple[int, float, float, float, float], ...]
    source: str
    group_sha: str  # content hash that decides its split (the photo it was cut from, or itself)


class SourceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: str = Field(description="reviewed | synthetic | imported")
    path: str
    licence: str
    origin: str = Field(description="where the images came from (repository and commit, dispatch URL, generator seed)")
    images: int = 0
    objects: int = 0
    hard_negatives: int = 0


class BuildManifest(BaseModel):
    """manifest.yaml of a built training set."""

    model_config = ConfigDict(extra="forbid")
    classes: list[str]
    heldout_percent: float
    built_at: str
    sources: list[SourceRecord]
    heldout_sha256: str = Field(description="over the held-out images and labels: the split's identity for eval")
    data_sha256: str = Field(description="over every image and label in the set")
    counts: dict[str, dict[str, int]]
    heldout: list[str] = Field(description="content SHA-256 of every held-out group (source photo or image)")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_labels(path: Path, names: Sequence[str]) -> tuple[tuple[int, float, float, float, float], ...]:
    """A YOLO label file, each line checked; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: label file is not UTF-8 text") from None
    lines = (parse_yolo_line(line, f"{path}:{n}", names) for n, line in enumerate(text.splitlines(), 1))
    return tuple(x for x in lines if x is not None)


def check_image(path: Path) -> None:
    if path.stat().st_size == 0:
        raise DatasetError(f"{path}: image file is empty (0 bytes)")
    image_size(path)


def _remap(labels, names: Sequence[str], classes: Sequence[str], where: Path):
    """Class indices of a source's own list → the build's class list; a class it lacks is an error."""
    index = {c: k for k, c in enumerate(classes)}
    out = []
    for cls, *box in labels:
        code = names[cls]
        if code not in index:
            raise DatasetError(f"{where}: class {code!r} is not among the model's classes {list(classes)}")
        out.append((index[code], *box))
    return tuple(out)


def _check_classes(names: Sequence[str], taxonomy: frozenset[str], where: Path) -> None:
    unknown = [c for c in names if c not in taxonomy]
    if unknown:
        raise DatasetError(f"{where}: classes {unknown} are not taxonomy codes (known: {sorted(taxonomy)})")


def yolo_folder(images: Path, labels: Path, names: Sequence[str], classes: Sequence[str], source: str,
                group: Callable[[Path], str] | None = None) -> list[Example]:
    """Every image under `images` with its same-stem label under `labels` (a missing label file
    is an error: in a training set it would silently become an empty scene)."""
    out = []
    for img in sorted(p for p in images.rglob("*") if p.suffix in IMAGE_SUFFIXES):
        label = labels / img.relative_to(images).with_suffix(".txt")
        if not label.is_file():
            raise DatasetError(f"{img}: no label file {label} (an image with nothing in it needs an empty one)")
        check_image(img)
        raw = read_labels(label, names)
        out.append(Example(img, _remap(raw, names, classes, label), source, group(img) if group else sha256_file(img)))
    return out


def synthetic_examples(root: Path, classes: Sequence[str], taxonomy: frozenset[str]) -> list[Example]:
    """A synthetic-city dataset (detector.synth.dataset.write_dataset): both its splits, re-split here."""
    meta_path = Path(root) / "dataset.yaml"
    if not meta_path.is_file():
        raise DatasetError(f"{meta_path} not found; write one with `scripts/train_detector.py --dataset-only`")
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
        names = meta["names"]
        names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise DatasetError(f"{meta_path}: not a YOLO dataset.yaml with 'names' ({exc})") from None
    _check_classes(names, taxonomy, meta_path)
    return yolo_folder(Path(root) / "images", Path(root) / "labels", names, classes, "synthetic")


def imported_examples(root: Path, classes: Sequence[str], taxonomy: frozenset[str], staging: Path) -> tuple[list[Example], str]:
    """An imported real train set cut into training tiles; each tile's split follows its photo."""
    manifest = load_manifest(root)
    if manifest.split != "train":
        raise DatasetError(f"{Path(root) / 'manifest.yaml'}: split is {manifest.split!r}; a dev set is never trained on "
                           "(give it to `patrol eval --real`)")
    _check_classes(manifest.classes, taxonomy, Path(root) / "manifest.yaml")
    _, items = read_set(root)  # checks every label line and image
    photo_sha = {f"real_{i.source}_{i.path.stem}_": sha256_file(i.path) for i in items}
    cut_training_tiles(root, staging, TRAIN_GSD_M, TILE_PX)

    def group(tile: Path) -> str:
        prefix = max((p for p in photo_sha if tile.name.startswith(p)), key=len)
        return photo_sha[prefix]

    name = Path(root).name
    licences = "; ".join(f"{s.name}: {s.licence} ({s.repo} @ {s.commit})" for s in manifest.sources)
    return yolo_folder(staging / "images" / "train", staging / "labels" / "train", manifest.classes, classes,
                       f"imported:{name}", group), licences


def reviewed_examples(root: Path, classes: Sequence[str], taxonomy: frozenset[str]) -> list[Example]:
    """The review queue's evidence set (`patrol dataset fetch-reviewed`): an imported-style set."""
    manifest = load_manifest(root)
    _check_classes(manifest.classes, taxonomy, Path(root) / "manifest.yaml")
    return yolo_folder(Path(root) / "images", Path(root) / "labels", manifest.classes, classes, "reviewed")


def is_heldout(sha: str, percent: float) -> bool:
    return int(sha[:8], 16) % 10_000 < percent * 100


def write_build(out: Path, examples: list[Example], classes: Sequence[str], sources: list[SourceRecord],
                heldout_percent: float, previous: Path | None = None) -> BuildManifest:
    """Copy the examples into `out` (images/{train,heldout}, labels/…, dataset.yaml, manifest.yaml).

    The split rule is a pure function of content hash and percentage, so the same images land in
    the same split in every build. With `previous` (an earlier build's manifest) its percentage is
    used and everything it held out stays held out.
    """
    if not examples:
        raise DatasetError("dataset: no images from any source; review some evidence or add --synthetic/--imported")
    before_held: set[str] = set()
    if previous is not None:
        prev = load_build(Path(previous).parent if Path(previous).is_file() else Path(previous))
        before_held = set(prev.heldout)
        heldout_percent = prev.heldout_percent
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out}: folder exists and is not empty; build into a new folder")
    for split in (TRAIN, HELDOUT):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    digest, held_digest = hashlib.sha256(), hashlib.sha256()
    counts = {TRAIN: {"images": 0, "objects": 0}, HELDOUT: {"images": 0, "objects": 0}}
    held_groups: set[str] = set()
    for ex in sorted(examples, key=lambda e: sha256_file(e.image)):
        held = ex.group_sha in before_held or is_heldout(ex.group_sha, heldout_percent)
        split = HELDOUT if held else TRAIN
        raw = ex.image.read_bytes()
        stem = f"{ex.source.replace(':', '_')}_{hashlib.sha256(raw).hexdigest()[:20]}"
        text = "".join(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for c, cx, cy, w, h in ex.labels)
        target = out / "images" / split / f"{stem}{ex.image.suffix.lower()}"
        if target.exists():  # the same picture twice (a crop reviewed twice): once is enough
            continue
        shutil.copyfile(ex.image, target)
        (out / "labels" / split / f"{stem}.txt").write_text(text, encoding="utf-8")
        for d in (digest, held_digest) if held else (digest,):
            d.update(raw)
            d.update(text.encode())
        if held:
            held_groups.add(ex.group_sha)
        counts[split]["images"] += 1
        counts[split]["objects"] += len(ex.labels)
    if not counts[HELDOUT]["images"] or not counts[TRAIN]["images"]:
        raise DatasetError(f"dataset: the {HELDOUT if not counts[HELDOUT]['images'] else TRAIN} split is empty "
                           f"({counts}); add images or change --heldout-percent")
    manifest = BuildManifest(classes=list(classes), heldout_percent=heldout_percent,
                             built_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), sources=sources,
                             heldout_sha256=held_digest.hexdigest(), data_sha256=digest.hexdigest(), counts=counts,
                             heldout=sorted(held_groups))
    (out / BUILD_MANIFEST).write_text(yaml.safe_dump(manifest.model_dump(), sort_keys=False, allow_unicode=True),
                                      encoding="utf-8")
    (out / "dataset.yaml").write_text(yaml.safe_dump({
        "path": str(out.resolve()), "train": f"images/{TRAIN}", "val": f"images/{HELDOUT}",
        "names": dict(enumerate(classes))}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return manifest


def load_build(root: Path) -> BuildManifest:
    return read_manifest(Path(root) / BUILD_MANIFEST, BuildManifest, "patrol dataset build")


def build(out: Path, classes: Sequence[str], taxonomy: frozenset[str], reviewed: Sequence[Path] = (),
          synthetic: Sequence[Path] = (), imported: Sequence[Path] = (), heldout_percent: float = 20.0,
          previous: Path | None = None) -> BuildManifest:
    """Gather, check and write; nothing is written to `out` until every source has been read."""
    _check_classes(classes, taxonomy, Path("model card"))
    examples: list[Example] = []
    sources: list[SourceRecord] = []

    def add(name: str, kind: str, path: Path, licence: str, origin: str, got: list[Example]) -> None:
        examples.extend(got)
        sources.append(SourceRecord(name=name, kind=kind, path=str(path), licence=licence, origin=origin,
                                    images=len(got), objects=sum(len(e.labels) for e in got),
                                    hard_negatives=sum(1 for e in got if not e.labels)))

    for root in reviewed:
        m = load_manifest(root)
        add(f"reviewed:{Path(root).name}", "reviewed", root, "; ".join(s.licence for s in m.sources),
            "; ".join(f"{s.repo} @ {s.commit}" for s in m.sources), reviewed_examples(root, classes, taxonomy))
    for root in synthetic:
        meta = yaml.safe_load((Path(root) / "dataset.yaml").read_text(encoding="utf-8")) if (Path(root) / "dataset.yaml").is_file() else {}
        got = synthetic_examples(root, classes, taxonomy)
        add(f"synthetic:{Path(root).name}", "synthetic", root, "generated by this project (its own licence)",
            f"detector.synth seed {meta.get('synth', {}).get('seed')}", got)
    with tempfile.TemporaryDirectory(prefix="patrol-build-") as tmp:
        for k, root in enumerate(imported):
            got, licences = imported_examples(root, classes, taxonomy, Path(tmp) / str(k))
            add(f"imported:{Path(root).name}", "imported", root, licences, "patrol dataset import", got)
        return write_build(out, examples, classes, sources, heldout_percent, previous)
