"""The photo a camera at a pose would take of the synthetic city, and what is visible in it.

Flat ground makes the ground→image map a homography, so a photo is one north-up orthophoto
painted at the photo's finest ground resolution and one perspective warp; then light, motion
blur and sensor grain. JPEG artefacts come from saving (or `jpeg_roundtrip` for in-memory tiles).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from detector.camera import CameraModel
from detector.capture import CameraPose, Capture
from detector.georef import Georeferencer
from detector.synth.paint import Look, paint_ground
from detector.synth.world import Planted, World

MAX_CANVAS_PX = 9000
SKY = (196, 206, 220)


@dataclass(frozen=True)
class Visible:
    """A planted violation as it appears in one photo: box in pixels and how much of it shows."""

    planted: Planted
    box: tuple[float, float, float, float]
    visible_fraction: float


def scaled_camera(camera: CameraModel, scale: float) -> CameraModel:
    """The same lens and sensor read out at `scale` × the pixel count per side."""
    if scale == 1.0:
        return camera
    return replace(
        camera,
        image_width_px=max(1, int(round(camera.image_width_px * scale))),
        image_height_px=max(1, int(round(camera.image_height_px * scale))),
    )


def georeferencer(world: World, pose: CameraPose, camera: CameraModel) -> Georeferencer:
    return Georeferencer(pose, camera, frame=world.frame)


def _camera_local(world: World, g: Georeferencer) -> tuple[float, float]:
    return g.origin_m[0] - world.origin_m[0], g.origin_m[1] - world.origin_m[1]


def photo_effects(image: np.ndarray, look: Look, rng: np.random.Generator, blur_px: float) -> np.ndarray:
    """Exposure, contrast, white balance, haze, and motion blur of `blur_px` pixels."""
    x = np.arange(256, dtype=np.float32)
    luts = []
    for ch in range(3):
        v = (x - 128.0) * look.contrast + 128.0
        v = v * look.brightness * look.tint[ch]
        v = v * (1.0 - look.haze) + 235.0 * look.haze
        luts.append(np.clip(v, 0, 255).astype(np.uint8))
    out = cv2.merge([cv2.LUT(image[..., ch], luts[ch]) for ch in range(3)])
    if blur_px >= 1.0:
        n = int(round(blur_px)) * 2 + 1
        kernel = np.zeros((n, n), np.float32)
        angle = rng.uniform(0, np.pi)
        c = n // 2
        dx, dy = np.cos(angle) * blur_px, np.sin(angle) * blur_px
        cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1.0, 1)
        kernel /= kernel.sum()
        out = cv2.filter2D(out, -1, kernel)
    return out


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def render_photo(
    world: World,
    pose: CameraPose,
    camera: CameraModel,
    look: Look | None = None,
    seed: int = 0,
    blur_px: float | None = None,
    detail: float = 1.0,
) -> np.ndarray:
    """RGB photo (H×W×3 uint8) that `camera` at `pose` takes of the world.

    `detail` < 1 paints the ground coarser than the photo's pixels (faster, softer). The
    renderer is a pinhole: a camera with lens distortion is refused rather than drawn wrongly.
    """
    if any(abs(c) > 0 for c in camera.distortion):
        raise ValueError("camera.distortion: the synthetic renderer draws undistorted (pinhole) photos only")
    rng = np.random.default_rng(seed)
    look = look or Look.random(rng)
    g = georeferencer(world, pose, camera)
    cx, cy = _camera_local(world, g)
    fp = g.footprint_local()
    x0, y0 = fp.min(axis=0)
    x1, y1 = fp.max(axis=0)
    gsd = camera.gsd_m(pose.alt_agl_m) / detail
    gsd = max(gsd, (x1 - x0) / MAX_CANVAS_PX, (y1 - y0) / MAX_CANVAS_PX)
    x0, y0, x1, y1 = x0 - 2 * gsd, y0 - 2 * gsd, x1 + 2 * gsd, y1 + 2 * gsd
    canvas = paint_ground(world, cx + x0, cy + y0, cx + x1, cy + y1, gsd, look, seed)
    h_canvas, w_canvas = canvas.shape[:2]
    gsd_x, gsd_y = (x1 - x0) / w_canvas, (y1 - y0) / h_canvas
    canvas_to_local = np.array([[gsd_x, 0.0, x0 + 0.5 * gsd_x], [0.0, -gsd_y, y1 - 0.5 * gsd_y], [0.0, 0.0, 1.0]])
    h = g.homography_local_to_pixel() @ canvas_to_local
    size = (camera.image_width_px, camera.image_height_px)
    photo = cv2.warpPerspective(canvas, h, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=SKY)
    w, hgt = camera.image_width_px, camera.image_height_px
    corners = g.rays(np.array([0.0, w - 1.0, 0.0, w - 1.0]), np.array([0.0, 0.0, hgt - 1.0, hgt - 1.0]))
    if np.any(corners[:, 2] > -0.02):  # part of the frame may show sky: paint it
        uu, vv = np.meshgrid(np.arange(0, w, 8, dtype=float), np.arange(0, hgt, 8, dtype=float))
        sky = (g.rays(uu.ravel(), vv.ravel())[:, 2] > -1e-3).reshape(uu.shape).astype(np.uint8)
        photo[cv2.resize(sky, (w, hgt), interpolation=cv2.INTER_NEAREST) > 0] = SKY
    blur = float(rng.uniform(0.0, 2.0)) if blur_px is None else blur_px
    return photo_effects(photo, look, rng, blur)


def visible_violations(world: World, pose: CameraPose, camera: CameraModel, min_fraction: float = 0.5) -> list[Visible]:
    """Planted violations in the photo, with pixel boxes; those cut by the frame to less than
    `min_fraction` of their box area are left out."""
    g = georeferencer(world, pose, camera)
    cx, cy = _camera_local(world, g)
    fp = g.footprint_local()
    (x0, y0), (x1, y1) = fp.min(axis=0), fp.max(axis=0)
    out = []
    w, h = camera.image_width_px, camera.image_height_px
    for v in world.violations_local(cx + x0 - 12, cy + y0 - 12, cx + x1 + 12, cy + y1 + 12):
        u, vv, front = g.local_to_pixel(v.extent[:, 0] - cx, v.extent[:, 1] - cy)
        if not front.all():
            continue
        bx0, by0, bx1, by1 = u.min(), vv.min(), u.max(), vv.max()
        full = (bx1 - bx0) * (by1 - by0)
        cx0, cy0, cx1, cy1 = max(bx0, -0.5), max(by0, -0.5), min(bx1, w - 0.5), min(by1, h - 0.5)
        if cx1 <= cx0 or cy1 <= cy0 or full <= 0:
            continue
        frac = (cx1 - cx0) * (cy1 - cy0) / full
        if frac >= min_fraction:
            out.append(Visible(v, (float(cx0), float(cy0), float(cx1), float(cy1)), float(frac)))
    return out


def render_capture(
    world: World,
    pose: CameraPose,
    camera: CameraModel,
    path: Path,
    *,
    drone_id: str = "sim",
    sortie_id: str = "sim",
    seq: int = 0,
    time: datetime | None = None,
    scale: float = 1.0,
    quality: int = 88,
    seed: int | None = None,
) -> Capture:
    """Render the photo to a JPEG file at `path` and return the Capture that describes it.

    `scale` < 1 renders fewer pixels with a correspondingly scaled camera (same lens, same
    footprint), so the detector's GSD maths stays exact.
    """
    cam = scaled_camera(camera, scale)
    image = render_photo(world, pose, cam, seed=seq if seed is None else seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write photo to {path}")
    return Capture(image=path, time=time or datetime.now(timezone.utc), pose=pose, camera=cam, drone_id=drone_id, sortie_id=sortie_id, seq=seq)
