"""Labelled photo sets from outside (YOLO and COCO) in the taxonomy's terms, with their provenance.

A real photo set arrives with its own class names ("car", "rubbish"); importing maps each name to
a taxonomy code, or drops it, and writes one YOLO folder (images/, labels/, classes.txt) with a
`manifest.yaml` that keeps where every image came from, under what licence, and its ground
resolution. Errors name the file, and the line for YOLO labels, so a broken label is found at once.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

M = TypeVar("M", bound=BaseModel)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
MANIFEST = "manifest.yaml"


class DatasetError(ValueError):
    """A label file, annotation file, class map or manifest that cannot be read as given."""


@dataclass(frozen=True)
class Box:
    """One labelled object: taxonomy code and pixel box (x0, y0, x1, y1) in the full image."""

    code: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    width: int
    height: int
    boxes: tuple[Box, ...]
    source: str


class Source(BaseModel):
    """Where a group of images came from; every imported image names one."""

    model_config = ConfigDict(extra="forbid")
    name: str
    repo: str = Field(description="public repository (owner/name) or other origin")
    commit: str
    licence: str
    attribution: str = ""
    gsd_m: float = Field(gt=0, description="ground sample distance of these photos, m/px")
    gsd_basis: str = Field(description="how gsd_m was found (flight altitude, or labelled object sizes)")
    scene: str = Field(default="", description="what the photos show, e.g. 'streets and car parks, nadir'")


class ImageEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    source: str
    width: int
    height: int
    objects: dict[str, int] = Field(default_factory=dict)


class Manifest(BaseModel):
    """manifest.yaml of an imported set: split, classes, sources and one row per image."""

    model_config = ConfigDict(extra="forbid")
    split: str = Field(description="train or dev; a dev set is never trained on")
    classes: list[str]
    sources: list[Source]
    images: list[ImageEntry] = Field(default_factory=list)

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise DatasetError(f"{MANIFEST}: image source {name!r} is not among sources {[s.name for s in self.sources]}")


def parse_class_map(pairs: Iterable[str], taxonomy_codes: Iterable[str]) -> dict[str, str | None]:
    """`name=code` (or `name=-` to drop) pairs → map; a code the taxonomy lacks is refused."""
    known = set(taxonomy_codes)
    out: dict[str, str | None] = {}
    for pair in pairs:
        name, sep, code = pair.partition("=")
        name, code = name.strip(), code.strip()
        if not sep or not name or not code:
            raise DatasetError(f"class map entry {pair!r}: expected SOURCE_NAME=TAXONOMY_CODE (or =- to drop)")
        if code != "-" and code not in known:
            raise DatasetError(f"class map entry {pair!r}: {code!r} is not a taxonomy code (known: {sorted(known)})")
        out[name] = None if code == "-" else code
    return out


def _mapped(name: str, class_map: Mapping[str, str | None], where: str) -> str | None:
    if name not in class_map:
        raise DatasetError(f"{where}: source class {name!r} has no entry in the class map {sorted(class_map)}")
    return class_map[name]


def image_size(path: Path) -> tuple[int, int]:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetError(f"{path}: not a readable image")
    return img.shape[1], img.shape[0]


def _selected(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    return (not include or any(fnmatch.fnmatch(name, p) for p in include)) and not any(
        fnmatch.fnmatch(name, p) for p in exclude)


def parse_yolo_line(line: str, where: str, names: Sequence[str]) -> tuple[int, float, float, float, float] | None:
    """One YOLO label line → (class, cx, cy, w, h), checked; None for a blank line. `where` is
    the file:line the error names."""
    fields = line.split()
    if not fields:
        return None
    if len(fields) != 5:
        raise DatasetError(f"{where}: expected 'class cx cy w h', got {line!r}")
    try:
        cls, cx, cy, bw, bh = int(fields[0]), *(float(f) for f in fields[1:])
    except ValueError:
        raise DatasetError(f"{where}: not numbers: {line!r}") from None
    if not 0 <= cls < len(names):
        raise DatasetError(f"{where}: class index {cls} outside 0..{len(names) - 1} ({list(names)})")
    if not (0 <= cx <= 1 and 0 <= cy <= 1 and 0 < bw <= 1 and 0 < bh <= 1):
        raise DatasetError(f"{where}: box {cx, cy, bw, bh} is not normalised to (0, 1]")
    return cls, cx, cy, bw, bh


def read_yolo_names(path: Path) -> list[str]:
    """Class names of a YOLO set: `classes.txt`/`*.names` (one a line) or a data.yaml `names`."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: class names file not found")
    if path.suffix in (".yaml", ".yml"):
        names = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("names")
        if isinstance(names, dict):
            names = [names[k] for k in sorted(names)]
        if not isinstance(names, list) or not names:
            raise DatasetError(f"{path}: no 'names' list")
        return [str(n) for n in names]
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_yolo(root: Path, names: Sequence[str], class_map: Mapping[str, str | None], source: str,
              include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[LabelledImage]:
    """Images under `root` with a same-stem `.txt` beside them or in a sibling labels/ folder.

    An image with no label file is skipped (it may be unlabelled, not empty); an empty label
    file is an image with nothing in it.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    out = []
    for img in sorted(p for p in root.rglob("*") if p.suffix in IMAGE_SUFFIXES):
        if not _selected(img.name, include, exclude):
            continue
        label = img.with_suffix(".txt")
        if not label.is_file() and "images" in img.parts:
            parts = list(img.parts)
            parts[len(parts) - 1 - parts[::-1].index("images")] = "labels"
            label = Path(*parts).with_suffix(".txt")
        if not label.is_file():
            continue
        if img.stat().st_size == 0:
            raise DatasetError(f"{img}: image file is empty (0 bytes)")
        w, h = image_size(img)
        boxes = []
        for n, line in enumerate(label.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{label}:{n}"
            parsed = parse_yolo_line(line, where, names)
            if parsed is None:
                continue
            cls, cx, cy, bw, bh = parsed
            code = _mapped(names[cls], class_map, where)
            if code is not None:
                boxes.append(Box(code, (cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h))
        out.append(LabelledImage(img, w, h, tuple(boxes), source))
    return out


def read_coco(annotations: Path, images_dir: Path, class_map: Mapping[str, str | None], source: str,
              include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[LabelledImage]:
    """A COCO detection file: `images`, `categories`, `annotations` (bbox = x, y, w, h in px)."""
    annotations = Path(annotations)
    try:
        doc = json.loads(annotations.read_text(encoding="utf-8"))
        cats = {int(c["id"]): str(c["name"]) for c in doc["categories"]}
        images = {int(i["id"]): i for i in doc["images"]}
    except FileNotFoundError:
        raise DatasetError(f"{annotations}: annotation file not found") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{annotations}: not a COCO detection file ({exc!r})") from None
    boxes: dict[int, list[Box]] = {k: [] for k in images}
    for n, ann in enumerate(doc.get("annotations", [])):
        where = f"{annotations}: annotations[{n}] (id {ann.get('id')})"
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(isinstance(v, int | float) for v in bbox) \
                or bbox[2] <= 0 or bbox[3] <= 0:
            raise DatasetError(f"{where}: bbox must be [x, y, w, h] with w, h > 0, got {bbox!r}")
        if ann.get("image_id") not in images:
            raise DatasetError(f"{where}: image_id {ann.get('image_id')!r} is not in images")
        if ann.get("category_id") not in cats:
            raise DatasetError(f"{where}: category_id {ann.get('category_id')!r} is not in categories")
        code = _mapped(cats[ann["category_id"]], class_map, where)
        if code is not None:
            x, y, w, h = (float(v) for v in bbox)
            boxes[ann["image_id"]].append(Box(code, x, y, x + w, y + h))
    out = []
    for k, meta in sorted(images.items()):
        name = str(meta.get("file_name", ""))
        if not _selected(Path(name).name, include, exclude):
            continue
        path = Path(images_dir) / name
        if not path.is_file():
            raise DatasetError(f"{annotations}: images[id {k}] file {path} not found")
        w, h = image_size(path)
        out.append(LabelledImage(path, w, h, tuple(boxes[k]), source))
    return out


def read_manifest(path: Path, model: type[M], made_by: str) -> M:
    """A YAML manifest as its pydantic model; missing or malformed, an error naming the file."""
    if not path.is_file():
        raise DatasetError(f"{path} not found; build the set with `{made_by}`")
    try:
        return model.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (ValidationError, yaml.YAMLError) as exc:
        raise DatasetError(f"{path} is invalid: {exc}") from None


def load_manifest(root: Path) -> Manifest:
    return read_manifest(Path(root) / MANIFEST, Manifest, "patrol dataset import")


def _store(item: LabelledImage, dest: Path, factor: float) -> tuple[str, int, int]:
    """Copy the image, or shrink it by `factor` (< 1) into a q90 JPEG; YOLO boxes are relative,
    so the labels stay valid either way."""
    if factor >= 1.0:
        shutil.copyfile(item.path, dest / item.path.name)
        return item.path.name, item.width, item.height
    img = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
    w, h = max(1, round(item.width * factor)), max(1, round(item.height * factor))
    name = item.path.stem + ".jpg"
    cv2.imwrite(str(dest / name), cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return name, w, h


def write_yolo(items: Sequence[LabelledImage], out: Path, classes: Sequence[str], source: Source, split: str,
               store_gsd_m: float | None = None) -> Manifest:
    """Add `items` to the YOLO folder `out` (created if new) and record them in its manifest.

    With `store_gsd_m`, photos finer than that are stored shrunk to it (the detector would shrink
    them to its training GSD anyway), which keeps a committed dev set small. A second import into
    the same folder appends; a file name already there is refused rather than silently replaced.
    """
    out = Path(out)
    factor = 1.0 if store_gsd_m is None else min(1.0, source.gsd_m / store_gsd_m)
    if factor < 1.0:
        source = source.model_copy(update={"gsd_m": float(store_gsd_m),
                                           "gsd_basis": f"{source.gsd_basis}; stored shrunk from {source.gsd_m} m/px"})
    manifest = load_manifest(out) if (out / MANIFEST).is_file() else Manifest(split=split, classes=list(classes), sources=[])
    if manifest.split != split:
        raise DatasetError(f"{out / MANIFEST}: set is split {manifest.split!r}, cannot add {split!r} images")
    if list(manifest.classes) != list(classes):
        raise DatasetError(f"{out / MANIFEST}: classes {manifest.classes} differ from {list(classes)}")
    if any(s.name == source.name for s in manifest.sources):
        raise DatasetError(f"{out / MANIFEST}: source {source.name!r} was already imported")
    taken = {e.file for e in manifest.images}
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    index = {c: i for i, c in enumerate(classes)}
    for item in items:
        name = item.path.name if factor >= 1.0 else item.path.stem + ".jpg"
        if name in taken:
            raise DatasetError(f"{out}: image {name} is already in the set")
        taken.add(name)
        name, width, height = _store(item, out / "images", factor)
        lines, counts = [], {}
        for b in item.boxes:
            if b.code not in index:
                raise DatasetError(f"{item.path}: code {b.code!r} is not among the set's classes {list(classes)}")
            x0, y0 = max(0.0, b.x0), max(0.0, b.y0)
            x1, y1 = min(float(item.width), b.x1), min(float(item.height), b.y1)
            if x1 <= x0 or y1 <= y0:
                continue
            cx, cy = (x0 + x1) / 2 / item.width, (y0 + y1) / 2 / item.height
            lines.append(f"{index[b.code]} {cx:.6f} {cy:.6f} {(x1 - x0) / item.width:.6f} {(y1 - y0) / item.height:.6f}\n")
            counts[b.code] = counts.get(b.code, 0) + 1
        (out / "labels" / Path(name).with_suffix(".txt")).write_text("".join(lines), encoding="utf-8")
        manifest.images.append(ImageEntry(file=name, source=source.name, width=width, height=height, objects=counts))
    manifest.sources.append(source)
    (out / MANIFEST).write_text(yaml.safe_dump(manifest.model_dump(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return manifest


def read_set(root: Path) -> tuple[Manifest, list[LabelledImage]]:
    """An imported set back as labelled images (through the same YOLO reader)."""
    root = Path(root)
    manifest = load_manifest(root)
    identity = {c: c for c in manifest.classes}
    by_name = {e.file: e for e in manifest.images}
    items = []
    for item in read_yolo(root / "images", manifest.classes, identity, source=""):
        entry = by_name.get(item.path.name)
        if entry is None:
            raise DatasetError(f"{root / MANIFEST}: image {item.path.name} is in images/ but not in the manifest")
        items.append(LabelledImage(item.path, item.width, item.height, item.boxes, entry.source))
    missing = set(by_name) - {i.path.name for i in items}
    if missing:
        raise DatasetError(f"{root}: manifest lists images with no image or label file: {sorted(missing)[:5]}")
    return manifest, items
