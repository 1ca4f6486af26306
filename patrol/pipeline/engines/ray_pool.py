"""Detection on a Ray cluster: the same `Detector` as a pool of Ray actors, one loaded model each.

Ray does the cluster work (scheduling on CPUs or GPUs by resource request, object transfer,
noticing dead workers); this module only keeps the photo-stage contract: at most
`max_in_flight` photos out at once, and every photo answered exactly once. A photo whose actor
dies is sent to another live actor (a fresh actor takes the dead one's place), up to
`max_attempts` times; its result is handed on only from the attempt that returned, so a
photo's sightings are never handed on twice (and their keys are deterministic, so dispatch
would also take a repeat as a duplicate).

Photos travel as `Capture`s: a path must be readable on the worker's node (the dock sync
folder on shared storage), an in-memory image travels through Ray's object store.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray.exceptions import ObjectLostError, RayActorError, RayTaskError, WorkerCrashedError
from shapely.geometry.base import BaseGeometry

from detector.capture import Capture
from detector.card import load_card
from detector.detect import Detector, PhotoResult
from patrol.pipeline.engines.base import Finished, Slots

WAIT_S = 0.05  # how long the collector waits on Ray per look (also how soon it sees new photos)
WORKER_LOST = (RayActorError, WorkerCrashedError, ObjectLostError)


class DetectorActor:
    """Runs in a Ray worker process: loads the model once, then detects photo after photo."""

    def __init__(self, card_path: str, taxonomy_codes: list[str] | None, backend: str, threads: int):
        self.detector = Detector(Path(card_path), taxonomy_codes=taxonomy_codes, backend=backend, threads=threads)

    def ready(self) -> str:
        return self.detector.model_version

    def detect(self, capture: Capture, zone_mask: BaseGeometry | None, thresholds: np.ndarray) -> Finished:
        t0 = time.perf_counter()
        self.detector.thresholds = thresholds
        (result,) = self.detector.detect_batch([capture], zone_mask)
        return Finished(result, time.perf_counter() - t0)


@dataclass
class _Job:
    ticket: int
    capture: Capture
    zone: Any  # ObjectRef of the zone mask (sent once, not with every photo) or None
    thresholds: np.ndarray
    attempts: int = 0
    actor: Any = None


class RayPool:
    """`DetectionPool` on Ray. `address`: an existing cluster (`ray://…` or `host:port`, or
    "auto"); None starts a local one unless Ray is already initialised in this process.
    `num_gpus` per actor: None → 1 when the cluster has GPUs (backend CUDA), else CPU actors
    with `threads` CPUs each. `workers` defaults to what the cluster's resources hold."""

    def __init__(self, card_path: Path, taxonomy_codes: Sequence[str] | None = None, workers: int | None = None,
                 address: str | None = None, max_in_flight: int | None = None, num_gpus: float | None = None,
                 threads: int = 1, max_attempts: int = 3, backend: str = "auto"):
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        codes = list(taxonomy_codes) if taxonomy_codes is not None else None
        self.card = load_card(card_path, codes)  # refuse a bad card here, before any actor starts
        self.thresholds = np.array([self.card.conf_thresholds[c] for c in self.card.classes], np.float32)
        resources = ray.cluster_resources()
        if num_gpus is None:
            num_gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        if workers is None:
            workers = int(resources.get("GPU", 0) // num_gpus) if num_gpus else int(resources.get("CPU", 1) // threads)
        if workers < 1:
            raise ValueError(f"workers: the Ray cluster has room for none ({resources}); "
                             f"each needs {threads} CPU(s) and {num_gpus} GPU(s)")
        self.max_attempts = max_attempts
        self.max_in_flight = 2 * workers if max_in_flight is None else max_in_flight
        self._slots = Slots(self.max_in_flight)
        # Ray's own restarts stay off: a lost photo is re-sent here, to whichever actor is alive.
        self._actor_cls = ray.remote(DetectorActor).options(num_cpus=threads, num_gpus=num_gpus, max_restarts=0,
                                                            max_task_retries=0)
        self._actor_args = (str(Path(card_path).resolve()), codes, "cuda" if num_gpus else backend, threads)
        self._actors = [self._actor_cls.remote(*self._actor_args) for _ in range(workers)]
        ray.get([a.ready.remote() for a in self._actors])  # each model loads once, and a broken one fails here
        self._lock = threading.Lock()
        self._pending: dict[Any, _Job] = {}
        self._tickets = itertools.count()
        self._zone_obj: BaseGeometry | None = None
        self._zone_ref: Any = None
        self.retried = 0  # photos sent again because their worker died
        self._stop = threading.Event()
        self._collector = threading.Thread(target=self._collect, name="ray-collect", daemon=True)
        self._collector.start()

    @property
    def actors(self) -> list[Any]:
        """The live actor handles (for operations: `ray.kill` one to drain a node)."""
        with self._lock:
            return list(self._actors)

    @property
    def in_flight(self) -> int:
        return self._slots.count

    def submit(self, capture: Capture, zone_mask: BaseGeometry | None = None) -> None:
        self._slots.acquire()
        if zone_mask is not self._zone_obj:
            self._zone_obj, self._zone_ref = zone_mask, (None if zone_mask is None else ray.put(zone_mask))
        job = _Job(next(self._tickets), capture, self._zone_ref, self.thresholds.copy())
        with self._lock:
            self._send(job)

    def next_result(self, timeout_s: float) -> Finished | None:
        return self._slots.take(timeout_s)

    def close(self) -> None:
        self._stop.set()
        self._collector.join(timeout=10)
        for actor in self.actors:
            ray.kill(actor)
        if self._owns_ray:
            ray.shutdown()

    def _send(self, job: _Job) -> None:
        """Give the job to the live actor with the fewest photos (caller holds the lock)."""
        load = {id(a): 0 for a in self._actors}
        for j in self._pending.values():
            load[id(j.actor)] = load.get(id(j.actor), 0) + 1
        job.actor = min(self._actors, key=lambda a: load[id(a)])
        job.attempts += 1
        self._pending[job.actor.detect.remote(job.capture, job.zone, job.thresholds)] = job

    def _collect(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                refs = list(self._pending)
            if not refs:
                self._stop.wait(WAIT_S)
                continue
            ready, _ = ray.wait(refs, num_returns=1, timeout=WAIT_S)
            for ref in ready:
                with self._lock:
                    job = self._pending.pop(ref)
                try:
                    finished = ray.get(ref)
                except WORKER_LOST as exc:
                    self._worker_lost(job, exc)
                    continue
                except RayTaskError as exc:  # the detector itself raised: that photo's error, not a retry
                    finished = Finished(PhotoResult(job.capture, error=f"detector failed on Ray: {exc.cause!r}"), 0.0)
                self._slots.done.put(finished)

    def _worker_lost(self, job: _Job, exc: Exception) -> None:
        """Replace the dead actor, then send its photo again unless it has had all its attempts."""
        with self._lock:
            if job.actor in self._actors:
                self._actors.remove(job.actor)
                self._actors.append(self._actor_cls.remote(*self._actor_args))
            if job.attempts < self.max_attempts:
                self.retried += 1
                self._send(job)
                return
        err = f"Ray worker lost {job.attempts} times ({type(exc).__name__}); photo not detected"
        self._slots.done.put(Finished(PhotoResult(job.capture, error=err), 0.0))
