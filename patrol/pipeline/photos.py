"""The photo stage: fetch what the camera saw, detect, take a second look, post sightings.

Runs on its own thread so the fleet keeps flying while photos are processed; each photo's
outcome (sightings, or the error) is kept, and one bad photo never stops the rest. The stage
owns its detector: it lowers the thresholds to what the second look needs as support.
"""

from __future__ import annotations

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
from patrol.pipeline.second_look import LookStats, SecondLook

POST_RETRIES = 5
IDLE_CHECK_S = 1.0  # with no photo for this long (wall time), release held detections that waited enough


@dataclass
class PhotoStats:
    photos: int = 0
    errors: list[str] = field(default_factory=list)
    sightings: int = 0
    ready_at: dict[str, float] = field(default_factory=dict)  # photo path → time.time() when it existed
    captures: list[Capture] = field(default_factory=list)
    fetch_s: float = 0.0
    detect_s: float = 0.0
    post_s: float = 0.0
    second_look: LookStats = field(default_factory=LookStats)


class PhotoStage:
    """Consumes camera triggers from the fleet: fetch pixels → detect → POST /v1/sightings (retried)."""

    def __init__(self, source: Callable[[Capture], Capture], detector: Detector, dispatch_url: str,
                 ingest_token: str, zone_mask: BaseGeometry | None,
                 clock: Callable[[], datetime] = partial(datetime.now, timezone.utc)):
        """`clock` tells the time on the cameras' clock (the fleet's, in a simulation): held
        detections are released by it when no photo comes for a while."""
        self.source, self.detector, self.zone_mask, self.clock = source, detector, zone_mask, clock
        self.look = SecondLook(detector.card.conf_thresholds)
        detector.thresholds = self.look.support_thresholds(detector.card.classes)
        self.stats = PhotoStats(second_look=self.look.stats)
        self._queue: queue.Queue[Capture | None] = queue.Queue()
        self._client = httpx.Client(base_url=dispatch_url, timeout=30.0, headers={"Authorization": f"Bearer {ingest_token}"})
        self._thread = threading.Thread(target=self._run, name="photo-stage", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, capture: Capture) -> None:
        """Called by the fleet controller for every camera trigger (any thread)."""
        self._queue.put(capture)

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def finish(self) -> PhotoStats:
        """Process what is queued, post what still waits for a second look, then stop."""
        self._queue.put(None)
        self._thread.join()
        self._send_held(self.look.flush(), "at the end of the patrol")
        self._client.close()
        return self.stats

    def _run(self) -> None:
        while True:
            try:
                trigger = self._queue.get(timeout=IDLE_CHECK_S)
            except queue.Empty:
                self._send_held(self.look.expire(self.clock()), "after their wait")
                continue
            if trigger is None:
                return
            try:
                self._process(trigger)
            except (OSError, ValueError, httpx.HTTPError) as exc:
                self.stats.errors.append(f"{trigger.drone_id}/{trigger.sortie_id}#{trigger.seq}: {exc}")

    def _send_held(self, sightings: list[Sighting], when: str) -> None:
        try:
            self._send(sightings)
        except OSError as exc:
            self.stats.errors.append(f"held sightings released {when}: {exc}")

    def _process(self, trigger: Capture) -> None:
        t0 = time.perf_counter()
        capture = self.source(trigger)
        self.stats.ready_at[str(capture.image)] = time.time()
        self.stats.captures.append(capture)
        self.stats.photos += 1
        t1 = time.perf_counter()
        (result,) = self.detector.detect_batch([capture], self.zone_mask)
        t2 = time.perf_counter()
        self.stats.fetch_s += t1 - t0
        self.stats.detect_s += t2 - t1
        if not result.ok:
            self.stats.errors.append(f"{Path(str(capture.image)).name}: {result.error}")
            return
        self._send(self.look.review(capture, result.sightings))
        self.stats.post_s += time.perf_counter() - t2

    def _send(self, sightings: list[Sighting]) -> None:
        if sightings:
            self._post([s.to_json() for s in sightings])
            self.stats.sightings += len(sightings)

    def _post(self, batch: list[dict]) -> None:
        """Idempotent on each sighting's key, so retrying a post that may have landed is safe."""
        for attempt in range(POST_RETRIES):
            try:
                resp = self._client.post("/v1/sightings", json=batch)
                if resp.status_code < 500:
                    resp.raise_for_status()
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2 * 2**attempt)
        raise OSError(f"dispatch did not accept {len(batch)} sighting(s) after {POST_RETRIES} tries")
