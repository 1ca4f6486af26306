"""The scaling step: a capture's pixels read at the ground resolution the model was trained at.

A JPEG is decoded already shrunk (libjpeg's DCT scaling, 1/2 to 1/8) and the rest of the way
by area resampling, so a 20 MP frame never exists at full size when the model needs a quarter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.capture import Capture
from detector.georef import Georeferencer


class PhotoError(ValueError):
    """A photo that cannot be read: missing, empty, truncated, corrupt, or the wrong size."""


@dataclass(frozen=True, eq=False)
class ScaledPhoto:
    """RGB pixels of a capture at `scale` × the camera's full size (the exact scale reached)."""

    pixels: np.ndarray
    scale: float


def ground_scale(capture: Capture, georef: Georeferencer, train_gsd_m: float) -> float:
    """Resize factor that brings the photo's centre to the training ground resolution (never enlarges)."""
    cam = capture.camera
    ray = georef.rays(np.array([(cam.image_width_px - 1) / 2]), np.array([(cam.image_height_px - 1) / 2]))[0]
    slant = capture.pose.alt_agl_m * np.linalg.norm(ray) / -ray[2]
    gsd = slant / cam.fx_px
    return min(1.0, gsd / train_gsd_m)


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


def read_photo(capture: Capture, scale: float) -> ScaledPhoto:
    """The capture's pixels at about `scale` × full size (an array capture is checked and resized)."""
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
    return ScaledPhoto(np.ascontiguousarray(img), img.shape[1] / cam.image_width_px)
