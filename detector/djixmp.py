"""Pose from the XMP packet DJI cameras embed in each JPEG (drone-dji:* attributes).

DJI writes GpsLatitude/GpsLongitude (or GPSLatitude/GPSLongitude on some models),
AbsoluteAltitude, RelativeAltitude (height above the take-off point, used here as height above
ground: flat terrain assumed) and GimbalYaw/Pitch/RollDegree in the same convention as
`CameraPose` (yaw from north clockwise, pitch -90 at nadir).
"""

from __future__ import annotations

import re
from pathlib import Path

from detector.capture import CameraPose

_ATTR = re.compile(rb'drone-dji:(\w+)\s*=\s*"([^"]*)"')
_ELEM = re.compile(rb"<drone-dji:(\w+)>([^<]*)</drone-dji:\1>")


def read_dji_xmp(raw: bytes) -> dict[str, str]:
    """drone-dji:* fields of the first XMP packet, as strings (empty when there is none)."""
    start = raw.find(b"<x:xmpmeta")
    if start < 0:
        return {}
    end = raw.find(b"</x:xmpmeta>", start)
    packet = raw[start : end if end > 0 else start + 65536]
    fields = {k.decode(): v.decode(errors="replace") for k, v in _ATTR.findall(packet)}
    fields.update({k.decode(): v.decode(errors="replace") for k, v in _ELEM.findall(packet)})
    return fields


def pose_from_dji(path: Path) -> CameraPose | None:
    """The pose recorded in a DJI photo's XMP, or None when the photo has none."""
    with open(path, "rb") as fh:
        head = fh.read(256 * 1024)
    f = read_dji_xmp(head)

    def num(*names: str) -> float | None:
        for n in names:
            if n in f:
                try:
                    return float(f[n].lstrip("+"))
                except ValueError:
                    raise ValueError(f"{path}: XMP drone-dji:{n} is not a number: {f[n]!r}") from None
        return None

    lat, lon = num("GpsLatitude", "GPSLatitude"), num("GpsLongitude", "GPSLongitude", "GpsLongtitude")
    rel, absolute = num("RelativeAltitude"), num("AbsoluteAltitude")
    if lat is None or lon is None or rel is None:
        return None
    return CameraPose(
        lat=lat,
        lon=lon,
        alt_agl_m=rel,
        alt_amsl_m=absolute if absolute is not None else rel,
        yaw_deg=num("GimbalYawDegree") or 0.0,
        pitch_deg=num("GimbalPitchDegree") if num("GimbalPitchDegree") is not None else -90.0,
        roll_deg=num("GimbalRollDegree") or 0.0,
    )
