"""Pinhole camera model: the one place where sensor geometry turns into ground metres."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics of a frame camera, from the datasheet (sensor size, focal length, image size).

    `distortion` holds Brown–Conrady coefficients (k1, k2, p1, p2, k3) as OpenCV orders them.
    """

    sensor_width_mm: Positive
    sensor_height_mm: Positive
    focal_length_mm: Positive
    image_width_px: PositiveInt
    image_height_px: PositiveInt
    distortion: tuple[float, float, float, float, float] = field(default=(0.0, 0.0, 0.0, 0.0, 0.0))

    @property
    def fx_px(self) -> float:
        """Focal length in pixels along the image x axis."""
        return self.focal_length_mm * self.image_width_px / self.sensor_width_mm

    @property
    def fy_px(self) -> float:
        return self.focal_length_mm * self.image_height_px / self.sensor_height_mm

    @property
    def megapixels(self) -> float:
        return self.image_width_px * self.image_height_px / 1e6

    def gsd_m(self, altitude_m: float) -> float:
        """Ground sample distance (metres per pixel) looking straight down from `altitude_m`."""
        return altitude_m / self.fx_px

    def footprint_m(self, altitude_m: float) -> tuple[float, float]:
        """Ground width (across image x) and height (along image y) of a nadir photo, metres."""
        return (
            altitude_m * self.sensor_width_mm / self.focal_length_mm,
            altitude_m * self.sensor_height_mm / self.focal_length_mm,
        )
