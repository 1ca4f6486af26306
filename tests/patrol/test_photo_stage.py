"""The photo stage against a real dispatch server: a corrupt photo is reported by name and the
photos after it are still detected and posted."""

from __future__ import annotations

from dataclasses import replace
import time
from datetime import datetime, timezone

import httpx

from detector.camera import CameraModel
from detector.capture import CameraPose, Capture
from detector.detect import Detector
from detector.synth.world import World
from dispatch.app import create_app
from dispatch.credentials import Credentials
from dispatch.departments import with_webhook_base
from dispatch.server import BackgroundServer
from dispatch.settings import Settings
from patrol.pipeline.photos import PhotoStage
from patrol.pipeline.sources import SyntheticCamera

CAM = CameraModel(17.3, 13.0, 12.29, 5280, 3956)


def test_bad_photo_is_reported_and_the_rest_still_flow(tmp_path, quzhou_city):
    world = World(seed=5, violation_rate=1.0)
    target = next(v for v in world.violations_local(0, 0, 600, 600) if v.code == "illegal_structure")
    pose = CameraPose(lat=target.lat, lon=target.lon, alt_agl_m=100.0, alt_amsl_m=170.0)
    camera = SyntheticCamera(world, tmp_path / "photos")

    def source(trigger: Capture) -> Capture:
        if trigger.seq != 2:
            return camera(trigger)
        bad = tmp_path / "photos" / "uav-01" / "broken_00002.jpg"
        bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00garbage" * 64 + b"\xff\xd9")
        return replace(trigger, image=bad)

    creds = Credentials.generate([d.id for d in quzhou_city.departments])
    settings = Settings(departments=with_webhook_base(quzhou_city.departments, "http://127.0.0.1:9"),
                        taxonomy=quzhou_city.taxonomy, credentials=creds, database_url=f"sqlite:///{tmp_path / 'd.db'}")
    server = BackgroundServer(create_app(settings))
    server.start()
    detector = Detector()
    stage = PhotoStage(source, detector, server.url, creds.ingest_token, zone_mask=None)
    try:
        stage.start()
        for seq in (1, 2, 3):
            stage.submit(Capture(None, datetime.now(timezone.utc), pose, CAM, "uav-01", "s-1", seq))
        stats = stage.finish()
        total = httpx.get(f"{server.url}/v1/admin/stats", headers={"Authorization": f"Bearer {creds.admin_token}"}).json()["total"]
    finally:
        server.stop()

    assert stats.photos == 3
    assert len(stats.errors) == 1 and "broken_00002.jpg" in stats.errors[0]
    # two good photos of one structure: the second look confirms it, both sightings go out
    assert stage.look.stats.confirmed >= 1 and stats.sightings >= 2
    assert total >= 1


def test_a_refused_release_is_reported_and_later_photos_still_flow(tmp_path, quzhou_city, monkeypatch):
    """Dispatch answers every post with a 4xx (here: the ingest token is wrong). The held detection
    released on the idle timer is refused; the stage says so, and the photo after it is still read."""
    import patrol.pipeline.photos as photos

    monkeypatch.setattr(photos, "IDLE_CHECK_S", 0.2)
    world = World(seed=5, violation_rate=1.0)
    target = next(v for v in world.violations_local(0, 0, 600, 600) if v.code == "illegal_structure")
    pose = CameraPose(lat=target.lat, lon=target.lon, alt_agl_m=100.0, alt_amsl_m=170.0)
    creds = Credentials.generate([d.id for d in quzhou_city.departments])
    settings = Settings(departments=with_webhook_base(quzhou_city.departments, "http://127.0.0.1:9"),
                        taxonomy=quzhou_city.taxonomy, credentials=creds, database_url=f"sqlite:///{tmp_path / 'd.db'}")
    server = BackgroundServer(create_app(settings))
    server.start()
    later = datetime(2100, 1, 1, tzinfo=timezone.utc)  # the camera clock has moved on: everything held is due
    stage = PhotoStage(SyntheticCamera(world, tmp_path / "photos"), Detector(), server.url, "ing_wrong", None,
                       clock=lambda: later)
    try:
        stage.start()
        stage.submit(Capture(None, datetime.now(timezone.utc), pose, CAM, "uav-01", "s-1", 1))
        deadline = time.monotonic() + 60
        while not any("held sightings released" in e for e in stage.stats.errors) and time.monotonic() < deadline:
            time.sleep(0.1)
        stage.submit(Capture(None, datetime.now(timezone.utc), pose, CAM, "uav-01", "s-1", 2))
        stats = stage.finish()
    finally:
        server.stop()

    released = [e for e in stats.errors if "held sightings released after their wait" in e]
    assert released and "401" in released[0] and "authorization" in released[0]
    assert stats.photos == 2  # the photo after the refused release was still fetched and detected
    assert stats.refused >= 1
