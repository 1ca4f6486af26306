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
    """Finds the photo a dock synced: `<root>/<drone id>/` holding a JPEG whose name ends in the
    trigger's image index (e.g. DJI_0042.JPG for index 42), waiting up to `wait_s` for it."""

    root: Path
    wait_s: float = 120.0
    poll_s: float = 0.5

    def __call__(self, trigger: Capture) -> Capture:
        folder = self.root / trigger.drone_id
        deadline = time.monotonic() + self.wait_s
        while True:
            found = self._find(folder, trigger.seq)
            if found is not None:
                return replace(trigger, image=found)
            if time.monotonic() >= deadline:
                raise FileNotFoundError(
                    f"photo #{trigger.seq} of {trigger.drone_id} not in {folder} after {self.wait_s:.0f} s "
                    "(expected a .jpg whose name ends in the image index)")
            time.sleep(self.poll_s)

    @staticmethod
    def _find(folder: Path, seq: int) -> Path | None:
        if not folder.is_dir():
            return None
        for path in sorted(folder.iterdir()):
            stem = path.stem
            digits = stem[len(stem.rstrip("0123456789")):]
            if path.suffix.lower() in (".jpg", ".jpeg") and digits and int(digits) == seq:
                return path
        return None
