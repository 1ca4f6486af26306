"""Where a photo's pixels come from once the drone reports the shutter fired.

A trigger (CAMERA_FEEDBACK) carries pose and time but no pixels. In production the photo lands
in a folder the dock syncs to; in a rehearsal the synthetic world renders what the camera saw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from detector.capture import Capture
from detector.synth.render import render_capture
from detector.synth.world import World


@dataclass(frozen=True)
class SyntheticCamera:
    """Renders the photo from the synthetic world at the trigger's pose (`scale` < 1: fewer pixels,
    same lens and footprint, so georeferencing stays exact)."""

    world: World
    photo_dir: Path
    scale: float = 0.5

    def __call__(self, trigger: Capture) -> Capture:
        path = self.photo_dir / trigger.drone_id / f"{trigger.sortie_id}_{trigger.seq:05d}.jpg"
        return render_capture(self.world, trigger.pose, trigger.camera, path, drone_id=trigger.drone_id,
                              sortie_id=trigger.sortie_id, seq=trigger.seq, time=trigger.time, scale=self.scale)


@dataclass(frozen=True)
class DirectoryCamera:
    """Finds the photo a dock synced: under `<root>/<drone id>/`, a JPEG whose name ends in the
    trigger's image index (e.g. DJI_0042.JPG for index 42), matched by time as well: a file
    written more than `stale_s` before the shot is an earlier flight's photo with the same index
    (camera counters restart), and of several the one written nearest the shot wins. Waits up
    to `wait_s` for it."""

    root: Path
    wait_s: float = 120.0
    poll_s: float = 0.5
    stale_s: float = 600.0

    def __call__(self, trigger: Capture) -> Capture:
        folder = self.root / trigger.drone_id
        deadline = time.monotonic() + self.wait_s
        while True:
            found = self._find(folder, trigger.seq, trigger.time.timestamp(), self.stale_s)
            if found is not None:
                return replace(trigger, image=found)
            if time.monotonic() >= deadline:
                raise FileNotFoundError(
                    f"photo #{trigger.seq} of {trigger.drone_id} not in {folder} after {self.wait_s:.0f} s "
                    f"(expected a .jpg whose name ends in the image index, written after "
                    f"{trigger.time.isoformat()} less {self.stale_s:.0f} s)")
            time.sleep(self.poll_s)

    @staticmethod
    def _find(folder: Path, seq: int, shot: float, stale_s: float) -> Path | None:
        if not folder.is_dir():
            return None
        best: tuple[float, Path] | None = None
        for path in sorted(folder.rglob("*")):
            stem = path.stem
            digits = stem[len(stem.rstrip("0123456789")):]
            if path.suffix.lower() not in (".jpg", ".jpeg") or not digits or int(digits) != seq:
                continue
            written = path.stat().st_mtime
            if written >= shot - stale_s and (best is None or abs(written - shot) < best[0]):
                best = (abs(written - shot), path)
        return best[1] if best else None
