"""The photo stage: fetch what the camera saw, detect, take a second look, post sightings.

Two threads, so the fleet keeps flying while photos are processed: one fetches each photo and
hands it to the detection pool (in-process or Ray; the pool's in-flight limit holds it back,
so pixels never pile up while triggers — a pose each — simply queue), the other takes finished
photos, runs the second look and posts. Each photo's outcome (sightings, or the error) is kept,
and one bad photo never stops the rest. The stage sets the pool's thresholds to what the second
look needs as support.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable

import httpx
from shapely.geometry.base import BaseGeometry

from detector.capture import Capture
from detector.detect import Detector
from detector.sighting import Sighting
from patrol.pipeline.engines import DetectionPool, Finished, InProcessPool
from detector.second_look import LookStats, SecondLook

log = logging.getLogger(__name__)
POST_RETRIES = 5
IDLE_CHECK_S = 1.0  # with no photo for this long (wall time), release held detections that waited enough


@dataclass
class PhotoStats:
    photos: int = 0
    errors: list[str] = field(default_factory=list)
    sightings: int = 0
    refused: int = 0  # sightings dispatch answered with a 4xx (not retried: the same body would fail again)
    ready_at: dict[str, float] = field(default_factory=dict)  # photo path → time.time() when it existed
    captures: list[Capture] = field(default_factory=list)
    fetch_s: float = 0.0
    detect_s: float = 0.0
    post_s: float = 0.0
    second_look: LookStats = field(default_factory=LookStats)


class PhotoStage:
    """Consumes camera triggers from the fleet: fetch pixels → detect → POST /v1/sightings (retried)."""

    def __init__(self, source: Callable[[Capture], Capture], detector: Detector | DetectionPool, dispatch_url: str,
                 ingest_token: str, zone_mask: BaseGeometry | None,
                 clock: Callable[[], datetime] = partial(datetime.now, timezone.utc)):
        """`detector`: a pool, or one Detector (then an in-process pool of it). `clock` tells the
        time on the cameras' clock (the fleet's, in a simulation): held detections are released
        by it when no photo comes for a while."""
        self.pool: DetectionPool = InProcessPool([detector]) if isinstance(detector, Detector) else detector
        self.source, self.zone_mask, self.clock = source, zone_mask, clock
        self.look = SecondLook(self.pool.card.conf_thresholds)
        self.pool.thresholds = self.look.support_thresholds(self.pool.card.classes)
        self.stats = PhotoStats(second_look=self.look.stats)
        self._queue: queue.Queue[Capture | None] = queue.Queue()
        self._intake_done = threading.Event()
        self._client = httpx.Client(base_url=dispatch_url, timeout=30.0, headers={"Authorization": f"Bearer {ingest_token}"})
        self._intake = threading.Thread(target=self._take_in, name="photo-intake", daemon=True)
        self._thread = threading.Thread(target=self._run, name="photo-stage", daemon=True)

    def start(self) -> None:
        self._intake.start()
        self._thread.start()

    def submit(self, capture: Capture) -> None:
        """Called by the fleet controller for every camera trigger (any thread)."""
        self._queue.put(capture)

    @property
    def backlog(self) -> int:
        """Photos not yet finished: triggers waiting for a pool slot plus photos in the pool."""
        return self._queue.qsize() + self.pool.in_flight

    def finish(self) -> PhotoStats:
        """Process what is queued, post what still waits for a second look, then stop."""
        self._queue.put(None)
        self._intake.join()
        self._thread.join()
        self._send_held(self.look.flush(), "at the end of the patrol")
        self._client.close()
        return self.stats

    def _take_in(self) -> None:
        """Triggers → pixels → pool, one photo at a time as the pool makes room."""
        while (trigger := self._queue.get()) is not None:
            t0 = time.perf_counter()
            try:
                capture = self.source(trigger)
            except Exception as exc:  # an unreadable photo is reported; intake goes on with the next
                self._error(f"{trigger.drone_id}/{trigger.sortie_id}#{trigger.seq}: {exc}")
                continue
            self.stats.ready_at[str(capture.image)] = time.time()
            self.stats.captures.append(capture)
            self.stats.photos += 1
            self.stats.fetch_s += time.perf_counter() - t0
            self.pool.submit(capture, self.zone_mask)
        self._intake_done.set()

    def _run(self) -> None:
        """Finished photos → second look → dispatch, until intake is over and the pool is empty."""
        while True:
            done = self.pool.next_result(IDLE_CHECK_S)
            if done is None:
                if self._intake_done.is_set() and self.pool.in_flight == 0:
                    return
                self._send_held(self.look.expire(self.clock()), "after their wait")
                continue
            try:
                self._process(done)
            except Exception as exc:  # one photo's failure, whatever it is, never stops the photos after it
                c = done.result.capture
                self._error(f"{c.drone_id}/{c.sortie_id}#{c.seq}: {exc}")

    def _send_held(self, sightings: list[Sighting], when: str) -> None:
        try:
            self._send(sightings)
        except Exception as exc:  # a refused release must not kill the thread that reads the queue
            self._error(f"held sightings released {when}: {exc}")

    def _error(self, text: str) -> None:
        """Kept in the stats (the run's report shows them) and logged as it happens."""
        self.stats.errors.append(text)
        log.warning("photo stage: %s", text)

    def _process(self, done: Finished) -> None:
        result = done.result
        self.stats.detect_s += done.detect_s
        if not result.ok:
            self.stats.errors.append(f"{Path(str(result.capture.image)).name}: {result.error}")
            return
        t0 = time.perf_counter()
        self._send(self.look.review(result.capture, result.sightings))
        self.stats.post_s += time.perf_counter() - t0

    def _send(self, sightings: list[Sighting]) -> None:
        if sightings:
            self._post([s.to_json() for s in sightings])
            self.stats.sightings += len(sightings)

    def _post(self, batch: list[dict]) -> None:
        """Idempotent on each sighting's key, so retrying a post that may have landed is safe."""
        for attempt in range(POST_RETRIES):
            try:
                resp = self._client.post("/v1/sightings", json=batch)
                if 400 <= resp.status_code < 500:
                    self.stats.refused += len(batch)
                    raise ValueError(f"dispatch refused {len(batch)} sighting(s): {resp.status_code} {_detail(resp)}")
                if resp.status_code < 500:
                    resp.raise_for_status()
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2 * 2**attempt)
        raise OSError(f"dispatch did not accept {len(batch)} sighting(s) after {POST_RETRIES} tries")


def _detail(resp: httpx.Response) -> str:
    """Dispatch's one-line reason (it names the field), or the start of whatever came back."""
    try:
        return str(resp.json()["detail"])[:300]
    except (ValueError, KeyError, TypeError):
        return resp.text[:300]
