"""Photo sources: a dock's synced folder is matched to camera triggers by image index."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from detector.camera import CameraModel
from detector.capture import CameraPose, Capture
from patrol.pipeline.sources import DirectoryCamera

CAM = CameraModel(17.3, 13.0, 12.29, 5280, 3956)


def trigger(seq: int) -> Capture:
    return Capture(None, datetime(2026, 11, 27, tzinfo=timezone.utc), CameraPose(28.95, 118.87, 100.0, 170.0),
                   CAM, "uav-01", "s-1", seq)


def test_finds_the_photo_by_index(tmp_path):
    folder = tmp_path / "uav-01"
    folder.mkdir()
    for name in ("DJI_0041.JPG", "DJI_0042.JPG", "DJI_0042.DNG", "notes.txt"):
        (folder / name).write_bytes(b"x")
    got = DirectoryCamera(tmp_path, wait_s=1)(trigger(42))
    assert got.image == folder / "DJI_0042.JPG" and got.seq == 42 and got.pose == trigger(42).pose


def test_missing_photo_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"photo #7 of uav-01 not in .*uav-01"):
        DirectoryCamera(tmp_path, wait_s=0.2, poll_s=0.05)(trigger(7))


def test_an_earlier_flights_photo_with_the_same_index_is_not_taken(tmp_path):
    import os

    folder = tmp_path / "uav-01"
    (folder / "100MEDIA").mkdir(parents=True)
    (folder / "101MEDIA").mkdir()
    shot = trigger(42).time.timestamp()
    old, new = folder / "100MEDIA" / "DJI_0042.JPG", folder / "101MEDIA" / "DJI_0042.JPG"
    for path, written in ((old, shot - 86400.0), (new, shot + 30.0)):
        path.write_bytes(b"x")
        os.utime(path, (written, written))
    assert DirectoryCamera(tmp_path, wait_s=1)(trigger(42)).image == new
    new.unlink()
    with pytest.raises(FileNotFoundError, match="written after 2026-11-27"):
        DirectoryCamera(tmp_path, wait_s=0.2, poll_s=0.05)(trigger(42))
