"""The detector: posed photos in, typed geotagged sightings out.

`Detector` composes separate steps, each handing one value to the next:

    capture → scaling (detector.photo: read at the training ground resolution) → ScaledPhoto
            → tiling (detector.tiling.tile_grid) → tile origins
            → masking (detector.masking: tiles whose ground misses the zone are not run)
            → inference (batches of tiles, decoded, the card's per-class thresholds) → Detections
            → merging across tile borders, back to the full frame's pixels → Detections
            → georeferencing (box centre on the ground, uncertainty, zone kept) → Sighting[]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from shapely.geometry.base import BaseGeometry

from detector.backends import Backend, open_backend
from detector.capture import Capture
from detector.card import ModelCard, load_card
from detector.detections import Detections
from detector.georef import Georeferencer, GeorefError, PoseErrors
from detector.masking import ZoneMask
from detector.photo import PhotoError, ScaledPhoto, ground_scale, read_photo
from detector.registry import Registry
from detector.sighting import Sighting, evidence_jpeg, sighting_key
from detector.tiling import decode, merge_overlaps, tile_grid

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "patrol-yolo11n-synth.yaml"


@dataclass
class PhotoResult:
    """What one photo of a batch gave: its sightings, or the error that stopped it."""

    capture: Capture
    sightings: list[Sighting] = field(default_factory=list)
    error: str | None = None
    tiles_run: int = 0
    tiles_skipped: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class DetectorSettings:
    # Tile side at training GSD. The ONNX input is dynamic and the model fully convolutional, so
    # larger tiles work too; the model's own 320 was fastest per frame on OpenVINO here.
    tile_px: int = 320
    overlap_px: int = 48
    batch: int = 8
    evidence: bool = True
    pose_errors: PoseErrors = PoseErrors()
    # Mark sightings of classes the card does not list as validated on real photos `unverified`
    # (dispatch holds them for an analyst). Off only where the photos are of the world the model
    # was validated on: the demo's synthetic city.
    mark_unverified: bool = True


class Detector:
    """A loaded model plus its card; `detect` one capture, `detect_batch` many."""

    def __init__(
        self,
        card_path: Path = DEFAULT_MODEL,
        taxonomy_codes: Iterable[str] | None = None,
        backend: str = "auto",
        threads: int | None = None,
        settings: DetectorSettings = DetectorSettings(),
        follow: Registry | None = None,
    ) -> None:
        """`follow`: a model registry; the detector then runs its current model and, before each
        photo, swaps to a newly promoted one (no restart of anything)."""
        self._codes = None if taxonomy_codes is None else list(taxonomy_codes)
        self._engine, self._threads = backend, threads
        self.settings = settings
        self.registry, self._stamp = follow, self._registry_stamp(follow)
        self._load(follow.current_path() if follow is not None else Path(card_path))

    def _load(self, card_path: Path) -> None:
        card = load_card(card_path, self._codes)
        model = Path(card_path).parent / card.file
        if not model.is_file():
            raise FileNotFoundError(f"model file {model} named by card {card_path} not found; run scripts/train_detector.py")
        self.backend: Backend = open_backend(model, self._engine, self._threads)
        self.card: ModelCard = card
        self.card_path = Path(card_path)
        self.thresholds = np.array([self.card.conf_thresholds[c] for c in self.card.classes], np.float32)

    @staticmethod
    def _registry_stamp(registry: Registry | None) -> int:
        try:
            return registry.state_path.stat().st_mtime_ns if registry is not None else 0
        except FileNotFoundError:
            return 0

    def reload_if_promoted(self) -> bool:
        """Swap to the registry's current model if it changed since the last look (a stat per
        call; the card and ONNX file are read only on a change). True when it swapped."""
        stamp = self._registry_stamp(self.registry)
        if self.registry is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        path = self.registry.current_path()
        if path.resolve() == self.card_path.resolve():
            return False
        self._load(path)
        return True

    @property
    def model_version(self) -> str:
        return self.card.version

    def scaled(self, capture: Capture, georef: Georeferencer) -> ScaledPhoto:
        """Scaling: the capture read at the ground resolution the model was trained at."""
        return read_photo(capture, ground_scale(capture, georef, self.card.train_gsd_m))

    def infer(self, image: np.ndarray, origins: Sequence[tuple[int, int]]) -> Detections:
        """Inference on the tiles at `origins` of `image`, in batches: each tile's findings above
        the per-class thresholds, placed in the image, then merged across tile borders."""
        tile = self.settings.tile_px
        h, w = image.shape[:2]
        th, tw = min(tile, _ceil32(h)), min(tile, _ceil32(w))
        floor = float(self.thresholds.min())
        parts = []
        for chunk in _batches(origins, self.settings.batch):
            batch = np.full((len(chunk), th, tw, 3), 114, np.uint8)
            for k, (x, y) in enumerate(chunk):
                part = image[y : y + th, x : x + tw]
                batch[k, : part.shape[0], : part.shape[1]] = part
            tensor = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
            out = self.backend.run(tensor)
            parts += [decode(out[k], floor).above(self.thresholds).shifted(x, y) for k, (x, y) in enumerate(chunk)]
        return merge_overlaps(Detections.merge(parts))

    def detect(self, capture: Capture, zone_mask: BaseGeometry | None = None) -> list[Sighting]:
        """Sightings in one photo. Raises PhotoError / GeorefError for a bad photo or pose.

        `zone_mask` is a lon/lat (multi)polygon: tiles whose ground misses it are not run, and
        findings whose ground point falls outside it are dropped.
        """
        self.reload_if_promoted()
        return self._detect(capture, zone_mask).sightings

    def _detect(self, capture: Capture, zone_mask: BaseGeometry | None) -> PhotoResult:
        georef = Georeferencer(capture.pose, capture.camera)
        photo = self.scaled(capture, georef)
        h, w = photo.pixels.shape[:2]
        tiles = tile_grid(w, h, self.settings.tile_px, self.settings.overlap_px)
        zone = ZoneMask(zone_mask, georef) if zone_mask is not None else None
        run = zone.tiles(tiles, self.settings.tile_px, photo.scale) if zone is not None else tiles
        cam = capture.camera
        found = self.infer(photo.pixels, run).unscaled(photo.scale, cam.image_width_px, cam.image_height_px)
        return PhotoResult(capture, self.georeference(capture, georef, photo, found, zone),
                           tiles_run=len(run), tiles_skipped=len(tiles) - len(run))

    def georeference(self, capture: Capture, georef: Georeferencer, photo: ScaledPhoto, found: Detections,
                     zone: ZoneMask | None) -> list[Sighting]:
        """Georeferencing: each finding's box centre put on the ground, with its uncertainty; those
        outside the zone, or under a pixel wide or high, are dropped."""
        if not len(found):
            return []
        u, v = found.centres()
        lon, lat = georef.pixel_to_lonlat(u, v)
        e, n = georef.pixel_to_ground_m(u, v)
        sigma = georef.uncertainty_m(u, v, self.settings.pose_errors)
        boxes = found.boxes.astype(np.float64)
        keep = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        if zone is not None:
            keep &= zone.covers(e, n)
        footprint = georef.footprint_geojson()
        ref = str(capture.image) if isinstance(capture.image, Path | str) else f"memory://{capture.drone_id}/{capture.sortie_id}/{capture.seq}"
        out = []
        for k in np.flatnonzero(keep):
            box = tuple(float(c) for c in boxes[k])
            code = self.card.classes[int(found.classes[k])]
            crop = evidence_jpeg(photo.pixels, box, photo.scale) if self.settings.evidence else None
            out.append(Sighting(
                key=sighting_key(capture.drone_id, capture.sortie_id, capture.seq, code, box),
                type=code,
                confidence=float(found.scores[k]),
                lat=float(lat[k]),
                lon=float(lon[k]),
                uncertainty_m=float(sigma[k]),
                time=capture.time,
                footprint=footprint,
                image_ref=ref,
                box=box,  # type: ignore[arg-type]
                evidence_jpeg_b64=crop.jpeg_b64 if crop else None,
                model_version=self.model_version,
                drone_id=capture.drone_id,
                sortie_id=capture.sortie_id,
                unverified=self.settings.mark_unverified and not self.card.real_validated(code),
                evidence_box=crop.box if crop else None,
            ))
        return out

    def detect_batch(self, captures: Iterable[Capture], zone_mask: BaseGeometry | None = None) -> list[PhotoResult]:
        """One result per capture, in order; a bad photo or pose gives that photo an error and
        the batch goes on."""
        self.reload_if_promoted()
        results = []
        for capture in captures:
            try:
                results.append(self._detect(capture, zone_mask))
            except (PhotoError, GeorefError, OSError) as exc:
                results.append(PhotoResult(capture, error=f"{type(exc).__name__}: {exc}"))
        return results


def _batches(items: Sequence, size: int) -> list[Sequence]:
    """Full batches, then the remainder one by one: only two input shapes ever reach the
    engine, so OpenVINO compiles (and ONNX Runtime plans) each once."""
    full = len(items) // size * size
    return [items[i : i + size] for i in range(0, full, size)] + [items[i : i + 1] for i in range(full, len(items))]


def _ceil32(n: int) -> int:
    return int(math.ceil(n / 32) * 32)
