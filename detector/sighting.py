"""Sighting: one typed, geotagged finding in one photo, as POST /v1/sightings takes it."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

import cv2
import numpy as np

EVIDENCE_MAX_BYTES = 48 * 1024
EVIDENCE_MAX_SIDE = 320


def utc_z(t: datetime) -> str:
    """ISO-8601 UTC with a trailing Z; a naive time is taken to be UTC already."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sighting_key(drone_id: str, sortie_id: str, seq: int, code: str, box: tuple[float, float, float, float]) -> str:
    """Idempotency key: the same photo and finding always give the same key, so a resend after a
    lost reply creates nothing new. The box is rounded to 8 px to survive float noise."""
    coarse = ",".join(str(int(round(c / 8.0))) for c in box)
    digest = hashlib.sha256(f"{drone_id}|{sortie_id}|{seq}|{code}|{coarse}".encode()).hexdigest()[:16]
    return f"{drone_id}:{sortie_id}:{seq}:{digest}"


@dataclass(frozen=True)
class Evidence:
    """The crop sent with a sighting, and where the finding sits in it (crop pixels): the review
    queue draws that box, and reviewed crops become training images with it as their label."""

    jpeg_b64: str
    box: tuple[float, float, float, float]


def evidence_jpeg(image_rgb: np.ndarray, box: tuple[float, float, float, float], scale: float) -> Evidence | None:
    """A JPEG crop around `box` (in original-photo pixels) from `image_rgb`, which is the photo at
    `scale` × its size; at most EVIDENCE_MAX_BYTES. None when the crop is empty."""
    h, w = image_rgb.shape[:2]
    x0, y0, x1, y1 = (c * scale for c in box)
    mx, my = max(8.0, 0.5 * (x1 - x0)), max(8.0, 0.5 * (y1 - y0))
    c0, r0 = int(max(0, x0 - mx)), int(max(0, y0 - my))
    c1, r1 = int(min(w, x1 + mx)), int(min(h, y1 + my))
    if c1 <= c0 or r1 <= r0:
        return None
    crop = image_rgb[r0:r1, c0:c1]
    side = max(crop.shape[:2])
    f = min(1.0, EVIDENCE_MAX_SIDE / side)
    if f < 1.0:
        crop = cv2.resize(crop, (max(1, int(crop.shape[1] * f)), max(1, int(crop.shape[0] * f))), interpolation=cv2.INTER_AREA)
    ch, cw = crop.shape[:2]
    fx, fy = cw / (c1 - c0), ch / (r1 - r0)
    inner = (round(max(0.0, (x0 - c0) * fx), 1), round(max(0.0, (y0 - r0) * fy), 1),
             round(min(float(cw), (x1 - c0) * fx), 1), round(min(float(ch), (y1 - r0) * fy), 1))
    bgr = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    for quality in (85, 70, 50, 30):
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(buf) <= EVIDENCE_MAX_BYTES:
            return Evidence(base64.b64encode(buf.tobytes()).decode("ascii"), inner)
    return None


@dataclass(frozen=True)
class Sighting:
    key: str
    type: str
    confidence: float
    lat: float
    lon: float
    uncertainty_m: float
    time: datetime
    footprint: dict | None
    image_ref: str
    box: tuple[float, float, float, float]
    evidence_jpeg_b64: str | None
    model_version: str
    drone_id: str
    sortie_id: str
    unverified: bool = False  # the type was not validated on real photos: an analyst looks first
    evidence_box: tuple[float, float, float, float] | None = None  # the finding inside the evidence crop, px

    def to_json(self) -> dict:
        """The body dispatch validates for POST /v1/sightings."""
        return {
            "key": self.key,
            "type": self.type,
            "confidence": round(float(self.confidence), 4),
            "lat": float(self.lat),
            "lon": float(self.lon),
            "uncertainty_m": round(float(self.uncertainty_m), 2),
            "time": utc_z(self.time),
            "footprint": self.footprint,
            "image": {"ref": self.image_ref, "box": [round(float(c), 1) for c in self.box]},
            "evidence_jpeg_b64": self.evidence_jpeg_b64,
            "evidence_box": None if self.evidence_box is None else list(self.evidence_box),
            "model_version": self.model_version,
            "drone_id": self.drone_id,
            "sortie_id": self.sortie_id,
            "unverified": self.unverified,
        }

    def to_geojson_feature(self) -> dict:
        props = {k: v for k, v in self.to_json().items() if k not in ("lat", "lon", "footprint", "evidence_jpeg_b64", "evidence_box")}
        return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(self.lon), float(self.lat)]}, "properties": props}
