"""Detection on a real local Ray cluster (`ray.init(num_cpus=2)`, one per module: Ray starts
slowly on two cores): the Ray pool gives the in-process pool's sightings on the same photos,
an actor killed mid-batch costs no photo and doubles none, and the in-flight bound holds."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import httpx
import pytest
import ray

from detector.camera import CameraModel
from detector.capture import CameraPose, Capture
from detector.detect import DEFAULT_MODEL, Detector, PhotoResult
from detector.synth.world import World
from dispatch.app import create_app
from dispatch.credentials import Credentials
from dispatch.departments import with_webhook_base
from dispatch.server import BackgroundServer
from dispatch.settings import Settings
from patrol.pipeline.engines import Finished, InProcessPool
from patrol.pipeline.engines.ray_pool import RayPool
from patrol.pipeline.photos import PhotoStage
from patrol.pipeline.sources import SyntheticCamera

pytestmark = pytest.mark.slow
CAM = CameraModel(17.3, 13.0, 12.29, 5280, 3956)
PHOTOS = 6


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 2**20)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Capture]:
    """Six photos centred on planted violations of a seeded synthetic city (one bad pose among them
    would only test the detector; these all carry sightings)."""
    world = World(seed=5, violation_rate=1.0)
    camera = SyntheticCamera(world, tmp_path_factory.mktemp("photos"), scale=0.4)
    spots = world.violations_local(0, 0, 900, 900)[:PHOTOS]
    t = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
    return [camera(Capture(None, t, CameraPose(lat=v.lat, lon=v.lon, alt_agl_m=100.0, alt_amsl_m=170.0), CAM,
                           "uav-01", "s-1", seq)) for seq, v in enumerate(spots, 1)]


@pytest.fixture(scope="module")
def reference(photos) -> dict[int, list[dict]]:
    """What the in-process pool finds on each photo (keyed by seq)."""
    pool = InProcessPool([Detector()])
    try:
        return by_photo(run_all(pool, photos))
    finally:
        pool.close()


def run_all(pool, photos: list[Capture], on_first=None) -> list[Finished]:
    """Submit every photo from a thread (submit may block) and read results until all are in."""
    feeder = threading.Thread(target=lambda: [pool.submit(c) for c in photos], daemon=True)
    feeder.start()
    out: list[Finished] = []
    while len(out) < len(photos):
        done = pool.next_result(120.0)
        assert done is not None, f"pool gave {len(out)} of {len(photos)} results in time"
        out.append(done)
        if on_first is not None and len(out) == 1:
            on_first()
    feeder.join(timeout=10)
    assert pool.next_result(0.5) is None, "a photo was answered twice"
    return out


def by_photo(done: list[Finished]) -> dict[int, list[dict]]:
    seqs = [d.result.capture.seq for d in done]
    assert sorted(seqs) == list(range(1, len(seqs) + 1)), f"each photo exactly once, got {sorted(seqs)}"
    return {d.result.capture.seq: sorted((s.to_json() for s in d.result.sightings), key=lambda j: j["key"])
            for d in done}


def test_ray_pool_finds_what_the_in_process_pool_finds(cluster, photos, reference):
    assert sum(map(len, reference.values())) >= PHOTOS, "the photos show violations"
    pool = RayPool(DEFAULT_MODEL, workers=2)
    try:
        got = run_all(pool, photos)
    finally:
        pool.close()
    assert all(d.result.ok for d in got)
    assert by_photo(got) == reference


def test_killed_actor_mid_batch_loses_no_photo_and_doubles_none(cluster, photos, reference):
    pool = RayPool(DEFAULT_MODEL, workers=2, max_in_flight=PHOTOS)  # every photo queued: the victim holds several
    victim = pool.actors[0]
    try:
        got = run_all(pool, photos, on_first=lambda: ray.kill(victim, no_restart=True))
        assert pool.retried >= 1, "the killed actor had photos in hand"
        assert all(a is not victim for a in pool.actors) and len(pool.actors) == 2, "a fresh actor took its place"
    finally:
        pool.close()
    assert all(d.result.ok for d in got)
    assert by_photo(got) == reference


def test_submit_blocks_at_the_in_flight_limit(cluster, photos):
    pool = RayPool(DEFAULT_MODEL, workers=1, max_in_flight=2)
    try:
        pool.submit(photos[0])
        pool.submit(photos[1])
        third = threading.Thread(target=pool.submit, args=(photos[2],), daemon=True)
        third.start()
        third.join(timeout=3.0)
        assert third.is_alive() and pool.in_flight == 2, "a third photo must wait for a slot"
        first = pool.next_result(120.0)
        third.join(timeout=10.0)
        assert isinstance(first, Finished) and not third.is_alive()
        rest = [pool.next_result(120.0) for _ in range(2)]
        assert all(isinstance(r, Finished) and isinstance(r.result, PhotoResult) for r in rest)
        assert pool.in_flight == 0
    finally:
        pool.close()


def test_bad_in_flight_limit_is_refused_by_name():
    with pytest.raises(ValueError, match="max_in_flight"):
        InProcessPool([Detector()], max_in_flight=0)


def test_photo_stage_on_ray_posts_each_sighting_once_despite_a_killed_actor(cluster, photos, tmp_path, quzhou_city):
    """`patrol run --engine ray`'s path: photo stage → Ray pool → a real dispatch server. An actor
    dies with photos in hand; dispatch still gets every sighting the stage sent, and no repeat."""
    creds = Credentials.generate([d.id for d in quzhou_city.departments])
    settings = Settings(departments=with_webhook_base(quzhou_city.departments, "http://127.0.0.1:9"),
                        taxonomy=quzhou_city.taxonomy, credentials=creds, database_url=f"sqlite:///{tmp_path / 'd.db'}")
    pool = RayPool(DEFAULT_MODEL, workers=2, max_in_flight=PHOTOS)
    with BackgroundServer(create_app(settings)) as server:
        stage = PhotoStage(lambda c: c, pool, server.url, creds.ingest_token, zone_mask=None)
        try:
            stage.start()
            for c in photos:
                stage.submit(c)
            deadline = time.monotonic() + 60
            while pool.in_flight < PHOTOS and time.monotonic() < deadline:
                time.sleep(0.02)
            ray.kill(pool.actors[0], no_restart=True)
            stats = stage.finish()
        finally:
            pool.close()
        metrics = httpx.get(f"{server.url}/metrics").text
    assert pool.retried >= 1 and stats.photos == PHOTOS and not stats.errors
    assert stats.sightings >= 1
    assert f'dispatch_sightings_total{{result="created"}} {float(stats.sightings)}' in metrics
    assert 'dispatch_sightings_total{result="duplicate"}' not in metrics
