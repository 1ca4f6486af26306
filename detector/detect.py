"""The detector: posed photos in, typed geotagged sightings out.

Per photo: check the pose, decode the JPEG already shrunk (libjpeg DCT scaling) towards the
ground resolution the model was trained at, finish the rescale, cut overlapping tiles, skip
tiles whose ground lies outside the patrol zone, run the tiles in batches, merge boxes across
tile borders, apply the card's per-class thresholds, and georeference each box centre.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from detector.backends import Backend, open_backend
from detector.capture import Capture
from detector.card import ModelCard, load_card
from detector.georef import Georeferencer, GeorefError, PoseErrors
from detector.sighting import Sighting, evidence_jpeg, sighting_key
from detector.tiling import decode, merge, tile_grid

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "patrol-yolo11n-synth.yaml"


class PhotoError(ValueError):
    """A photo that cannot be read: missing, empty, truncated, corrupt, or the wrong size."""


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


def _jpeg_complete(raw: bytes) -> bool:
    return raw[-2:] == b"\xff\xd9" or raw.rstrip(b"\x00")[-2:] == b"\xff\xd9"


def _decode_file(path: Path, cam, scale: float) -> np.ndarray:
    if not path.is_file():
        raise PhotoError(f"image: file {path} not found")
    raw = path.read_bytes()
    if not raw:
        raise PhotoError(f"image: file {path} is empty (0 bytes)")
    is_jpeg = raw[:3] == b"\xff\xd8\xff"
    if is_jpeg and not _jpeg_complete(raw):
        raise PhotoError(f"image: JPEG {path} is truncated (no end-of-image marker)")
    flag, reduce = cv2.IMREAD_COLOR, 1
    if is_jpeg:
        for factor, f in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2)):
            if scale <= 1.0 / factor:
                flag, reduce = f, factor
                break
    bgr = cv2.imdecode(np.frombuffer(raw, np.uint8), flag)
    if bgr is None:
        raise PhotoError(f"image: {path} is not a readable image (corrupt or unknown format)")
    expect = (math.ceil(cam.image_height_px / reduce), math.ceil(cam.image_width_px / reduce))
    if abs(bgr.shape[0] - expect[0]) > 1 or abs(bgr.shape[1] - expect[1]) > 1:
        raise PhotoError(
            f"image: {path} is {bgr.shape[1] * reduce}×{bgr.shape[0] * reduce} px but camera says "
            f"{cam.image_width_px}×{cam.image_height_px}"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_photo(capture: Capture, scale: float) -> tuple[np.ndarray, float]:
    """RGB pixels of the capture at about `scale` × full size, and the exact scale used.

    JPEGs are decoded at 1/2, 1/4 or 1/8 size by the decoder itself when the scale allows.
    """
    cam = capture.camera
    if isinstance(capture.image, np.ndarray):
        img = capture.image
        if img.ndim != 3 or img.shape[2] != 3 or img.size == 0:
            raise PhotoError(f"image: array must be H×W×3, got shape {img.shape}")
        if abs(img.shape[1] - cam.image_width_px) > 1 or abs(img.shape[0] - cam.image_height_px) > 1:
            raise PhotoError(f"image: array is {img.shape[1]}×{img.shape[0]} px but camera says {cam.image_width_px}×{cam.image_height_px}")
    elif capture.image is None:
        raise PhotoError("image: the capture has no pixels yet (image is None)")
    else:
        img = _decode_file(Path(capture.image), cam, scale)
    got = img.shape[1] / cam.image_width_px
    if scale < got:
        f = scale / got
        img = cv2.resize(img, (max(1, round(img.shape[1] * f)), max(1, round(img.shape[0] * f))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img), img.shape[1] / cam.image_width_px


class Detector:
    """A loaded model plus its card; `detect` one capture, `detect_batch` many."""

    def __init__(
        self,
        card_path: Path = DEFAULT_MODEL,
        taxonomy_codes: Iterable[str] | None = None,
        backend: str = "auto",
        threads: int | None = None,
        settings: DetectorSettings = DetectorSettings(),
    ) -> None:
        self.card: ModelCard = load_card(card_path, taxonomy_codes)
        model = Path(card_path).parent / self.card.file
        if not model.is_file():
            raise FileNotFoundError(f"model file {model} named by card {card_path} not found; run scripts/train_detector.py")
        self.backend: Backend = open_backend(model, backend, threads)
        self.settings = settings
        self.thresholds = np.array([self.card.conf_thresholds[c] for c in self.card.classes], np.float32)

    @property
    def model_version(self) -> str:
        return self.card.version

    def scale_for(self, capture: Capture, georef: Georeferencer) -> float:
        """Resize factor that brings the photo's centre to the training ground resolution."""
        cam = capture.camera
        ray = georef.rays(np.array([(cam.image_width_px - 1) / 2]), np.array([(cam.image_height_px - 1) / 2]))[0]
        slant = capture.pose.alt_agl_m * np.linalg.norm(ray) / -ray[2]
        gsd = slant / cam.fx_px
        return min(1.0, gsd / self.card.train_gsd_m)

    def _infer_tiles(self, image: np.ndarray, origins: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tile = self.settings.tile_px
        h, w = image.shape[:2]
        th, tw = min(tile, _ceil32(h)), min(tile, _ceil32(w))
        boxes, scores, classes = [], [], []
        conf_min = float(self.thresholds.min())
        for chunk in _batches(origins, self.settings.batch):
            batch = np.full((len(chunk), th, tw, 3), 114, np.uint8)
            for k, (x, y) in enumerate(chunk):
                part = image[y : y + th, x : x + tw]
                batch[k, : part.shape[0], : part.shape[1]] = part
            tensor = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
            out = self.backend.run(tensor)
            for k, (x, y) in enumerate(chunk):
                b, s, c = decode(out[k], conf_min)
                keep = s >= self.thresholds[c]
                boxes.append(b[keep] + np.array([x, y, x, y], np.float32))
                scores.append(s[keep])
                classes.append(c[keep])
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0), np.zeros(0, int)
        return merge(np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes))

    def _tiles_in_zone(self, georef: Georeferencer, origins, tile: int, scale: float, zone_metric) -> list[tuple[int, int]]:
        keep = []
        for x, y in origins:
            u = np.array([x, x + tile, x + tile, x]) / scale
            v = np.array([y, y, y + tile, y + tile]) / scale
            try:
                e, n = georef.pixel_to_ground_m(u, v)
            except GeorefError:  # tile reaches above the horizon: keep it, the zone test is moot
                keep.append((x, y))
                continue
            if zone_metric.intersects(Polygon(zip(e, n))):
                keep.append((x, y))
        return keep

    def detect(self, capture: Capture, zone_mask: BaseGeometry | None = None) -> list[Sighting]:
        """Sightings in one photo. Raises PhotoError / GeorefError for a bad photo or pose.

        `zone_mask` is a lon/lat (multi)polygon: tiles whose ground misses it are not run, and
        findings whose ground point falls outside it are dropped.
        """
        return self._detect(capture, zone_mask).sightings

    def _detect(self, capture: Capture, zone_mask: BaseGeometry | None) -> PhotoResult:
        georef = Georeferencer(capture.pose, capture.camera)
        scale = self.scale_for(capture, georef)
        image, scale = read_photo(capture, scale)
        h, w = image.shape[:2]
        tile = self.settings.tile_px
        origins = tile_grid(w, h, tile, self.settings.overlap_px)
        total = len(origins)
        zone_metric = None
        if zone_mask is not None:
            zone_metric = prep(georef.frame.to_metric(zone_mask))
            origins = self._tiles_in_zone(georef, origins, tile, scale, zone_metric)
        boxes, scores, classes = self._infer_tiles(image, origins) if origins else (np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
        result = PhotoResult(capture, tiles_run=len(origins), tiles_skipped=total - len(origins))
        if not len(boxes):
            return result
        full_w, full_h = capture.camera.image_width_px, capture.camera.image_height_px
        boxes = boxes / scale
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, full_w - 1)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, full_h - 1)
        cu, cv = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        lon, lat = georef.pixel_to_lonlat(cu, cv)
        e, n = georef.pixel_to_ground_m(cu, cv)
        sigma = georef.uncertainty_m(cu, cv, self.settings.pose_errors)
        footprint = georef.footprint_geojson()
        ref = str(capture.image) if isinstance(capture.image, Path | str) else f"memory://{capture.drone_id}/{capture.sortie_id}/{capture.seq}"
        for k in range(len(boxes)):
            if zone_metric is not None and not zone_metric.covers(Point(e[k], n[k])):
                continue
            box = tuple(float(c) for c in boxes[k])
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            code = self.card.classes[int(classes[k])]
            result.sightings.append(
                Sighting(
                    key=sighting_key(capture.drone_id, capture.sortie_id, capture.seq, code, box),
                    type=code,
                    confidence=float(scores[k]),
                    lat=float(lat[k]),
                    lon=float(lon[k]),
                    uncertainty_m=float(sigma[k]),
                    time=capture.time,
                    footprint=footprint,
                    image_ref=ref,
                    box=box,  # type: ignore[arg-type]
                    evidence_jpeg_b64=evidence_jpeg(image, box, scale) if self.settings.evidence else None,  # type: ignore[arg-type]
                    model_version=self.model_version,
                    drone_id=capture.drone_id,
                    sortie_id=capture.sortie_id,
                    unverified=self.settings.mark_unverified and not self.card.real_validated(code),
                )
            )
        return result

    def detect_batch(self, captures: Iterable[Capture], zone_mask: BaseGeometry | None = None) -> list[PhotoResult]:
        """One result per capture, in order; a bad photo or pose gives that photo an error and
        the batch goes on."""
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
