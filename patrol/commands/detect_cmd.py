"""`patrol detect PHOTOS...`: find violations in drone photos, write GeoJSON and annotated images."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import cv2
import typer
from rich.console import Console
from rich.progress import track

from detector import CameraModel, CameraPose, Capture
from detector.detect import DEFAULT_MODEL, Detector, PhotoResult
from detector.djixmp import pose_from_dji

console = Console()
M4E_WIDE = "17.3,13.0,12.29,5280,3956"


def parse_pose(text: str) -> CameraPose:
    """`lat,lon,alt_agl[,yaw,pitch,roll]` → CameraPose."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 6):
        raise typer.BadParameter(f"--pose must be lat,lon,alt_agl[,yaw,pitch,roll]; got {text!r}")
    try:
        v = [float(p) for p in parts]
    except ValueError:
        raise typer.BadParameter(f"--pose values must be numbers; got {text!r}") from None
    yaw, pitch, roll = v[3:] if len(v) == 6 else (0.0, -90.0, 0.0)
    return CameraPose(lat=v[0], lon=v[1], alt_agl_m=v[2], alt_amsl_m=v[2], yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll)


def parse_camera(text: str) -> CameraModel:
    """`sensor_w_mm,sensor_h_mm,focal_mm,width_px,height_px` → CameraModel."""
    parts = text.split(",")
    if len(parts) != 5:
        raise typer.BadParameter(f"--camera must be sensor_w_mm,sensor_h_mm,focal_mm,width_px,height_px; got {text!r}")
    try:
        sw, sh, f, w, h = (float(p) for p in parts)
    except ValueError:
        raise typer.BadParameter(f"--camera values must be numbers; got {text!r}") from None
    return CameraModel(sw, sh, f, int(w), int(h))


POSE_FIELDS = {"lat", "lon", "alt_agl_m", "alt_amsl_m", "yaw_deg", "pitch_deg", "roll_deg"}


def _poses_file(path: Path) -> dict[str, CameraPose]:
    """JSON list of {photo, lat, lon, alt_agl_m, [alt_amsl_m, yaw_deg, pitch_deg, roll_deg]}, keyed by file name."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"--poses {path}: {exc}") from None
    if not isinstance(rows, list):
        raise typer.BadParameter(f"--poses {path}: expected a JSON list of poses, got {type(rows).__name__}")
    out = {}
    for i, row in enumerate(rows):
        where = f"--poses {path}[{i}]"
        if not isinstance(row, dict) or not isinstance(row.get("photo"), str):
            raise typer.BadParameter(f"{where}: each pose is an object with a \"photo\" file name")
        values = {k: v for k, v in row.items() if k != "photo"}
        unknown, missing = set(values) - POSE_FIELDS, {"lat", "lon", "alt_agl_m"} - set(values)
        if unknown or missing:
            raise typer.BadParameter(f"{where}: " + "; ".join(
                ([f"unknown field(s) {sorted(unknown)}"] if unknown else []) + ([f"missing {sorted(missing)}"] if missing else [])))
        bad = [k for k, v in values.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
        if bad:
            raise typer.BadParameter(f"{where}.{bad[0]}: must be a number, got {values[bad[0]]!r}")
        out[Path(row["photo"]).name] = CameraPose(**{"alt_amsl_m": values["alt_agl_m"], **values})
    return out


def annotate(photo: Path, result: PhotoResult, out: Path) -> None:
    img = cv2.imread(str(photo))
    if img is None:
        return
    thick = max(2, img.shape[1] // 800)
    for s in result.sightings:
        x0, y0, x1, y1 = (int(c) for c in s.box)
        cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 255), thick)
        cv2.putText(img, f"{s.type} {s.confidence:.2f}", (x0, max(0, y0 - 3 * thick)), cv2.FONT_HERSHEY_SIMPLEX, thick * 0.5, (0, 0, 255), thick)
    cv2.imwrite(str(out), img, [cv2.IMWRITE_JPEG_QUALITY, 85])


def detect(
    photos: list[Path] = typer.Argument(..., help="photo files (JPEG/PNG)"),
    pose: str = typer.Option(None, "--pose", help="lat,lon,alt_agl[,yaw,pitch,roll] for every photo (else DJI XMP in the photo)"),
    poses: Path = typer.Option(None, "--poses", help="JSON list of per-photo poses: {photo, lat, lon, alt_agl_m, yaw_deg, pitch_deg, roll_deg}"),
    camera: str = typer.Option(M4E_WIDE, "--camera", help="sensor_w_mm,sensor_h_mm,focal_mm,width_px,height_px"),
    output: Path = typer.Option(Path("out/detect"), "-o", "--output", help="folder for sightings.geojson and annotated/"),
    model: Path = typer.Option(DEFAULT_MODEL, "--model", help="model card YAML (the ONNX file sits beside it)"),
    backend: str = typer.Option("auto", "--backend", help="auto | onnxruntime | openvino | cuda"),
    drone_id: str = typer.Option("manual", "--drone-id"),
    sortie_id: str = typer.Option("manual", "--sortie-id"),
) -> None:
    """Detect violations in photos; write sightings as GeoJSON (lon/lat) and annotated images.

    A bad photo or pose is reported and skipped; the rest are still processed.
    """
    cam = parse_camera(camera)
    common = parse_pose(pose) if pose else None
    table = _poses_file(poses) if poses else {}
    detector = Detector(model, backend=backend)
    output.mkdir(parents=True, exist_ok=True)
    (output / "annotated").mkdir(exist_ok=True)
    features, errors = [], []
    now = datetime.now(timezone.utc)
    for seq, photo in enumerate(track(photos, description="detecting", console=console)):
        try:
            p = table.get(photo.name) or common or (pose_from_dji(photo) if photo.is_file() else None)
        except (ValueError, OSError) as exc:
            errors.append({"photo": str(photo), "error": str(exc)})
            continue
        if p is None:
            errors.append({"photo": str(photo), "error": "no pose: give --pose/--poses or use a photo with DJI XMP"})
            continue
        capture = Capture(image=photo, time=now, pose=p, camera=cam, drone_id=drone_id, sortie_id=sortie_id, seq=seq)
        result = detector.detect_batch([capture])[0]
        if not result.ok:
            errors.append({"photo": str(photo), "error": result.error})
            continue
        features += [s.to_geojson_feature() for s in result.sightings]
        annotate(photo, result, output / "annotated" / f"{photo.stem}.jpg")
    (output / "sightings.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1))
    (output / "errors.json").write_text(json.dumps(errors, ensure_ascii=False, indent=1))
    console.print(f"{len(features)} sighting(s) from {len(photos) - len(errors)} photo(s) → {output / 'sightings.geojson'}")
    for e in errors:
        console.print(f"[red]✗[/] {e['photo']}: {e['error']}", highlight=False)
    if errors and len(errors) == len(photos):
        raise typer.Exit(1)
