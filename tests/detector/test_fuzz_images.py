"""Fuzzing the photo loader: whatever bytes sit in a photo file (noise, a good JPEG or PNG cut or
with bytes flipped, another format, another size), `read_photo` gives the pixels at the asked
scale or raises PhotoError saying what is wrong; never another exception. Bounded: fixed count."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from detector import CameraModel, CameraPose, Capture
from detector.photo import PhotoError, read_photo

CAMERA = CameraModel(sensor_width_mm=6.4, sensor_height_mm=4.8, focal_length_mm=4.5, image_width_px=160, image_height_px=120)
FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def encoded(fmt: str, size: tuple[int, int] = (160, 120)) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise(size, 50).convert("RGB").save(buf, format=fmt)
    return buf.getvalue()


GOOD = {fmt: encoded(fmt) for fmt in ("JPEG", "PNG", "BMP", "TIFF", "GIF", "WEBP")}


@st.composite
def photo_bytes(draw) -> bytes:
    how = draw(st.sampled_from(["noise", "flip", "cut", "other size", "as is"]))
    if how == "noise":
        return draw(st.binary(max_size=4000))
    if how == "other size":
        return encoded(draw(st.sampled_from(["JPEG", "PNG"])), (draw(st.integers(1, 400)), draw(st.integers(1, 400))))
    data = bytearray(GOOD[draw(st.sampled_from(sorted(GOOD)))])
    if how == "cut":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 12))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@FUZZ
@given(data=photo_bytes(), scale=st.sampled_from([1.0, 0.6, 0.5, 0.25, 0.2, 0.1]))
def test_any_photo_file_reads_or_is_a_photo_error(tmp_path_factory, data, scale):
    path = tmp_path_factory.mktemp("photo") / "frame.jpg"
    path.write_bytes(data)
    capture = Capture(image=path, time=datetime(2026, 7, 1, tzinfo=timezone.utc),
                      pose=CameraPose(28.95, 118.87, 100.0, 170.0), camera=CAMERA, drone_id="uav-01", sortie_id="s-1")
    try:
        photo = read_photo(capture, scale)
    except PhotoError as exc:
        assert str(exc).startswith("image:")
        return
    assert photo.pixels.ndim == 3 and photo.pixels.shape[2] == 3 and photo.pixels.dtype == np.uint8
    assert abs(photo.pixels.shape[1] - round(160 * photo.scale)) <= 1 and photo.scale <= 1.0
