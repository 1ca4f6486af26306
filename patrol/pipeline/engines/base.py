"""The detection-pool interface and its in-process engine (threads, one loaded model each)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from shapely.geometry.base import BaseGeometry

from detector.capture import Capture
from detector.card import ModelCard
from detector.detect import Detector, PhotoResult

ENGINES = ("inprocess", "ray")


@dataclass(frozen=True)
class Finished:
    """One photo's outcome and the seconds its worker spent on it (model, merge, georeferencing)."""

    result: PhotoResult
    detect_s: float


@runtime_checkable
class DetectionPool(Protocol):
    """Where photos are detected. Each submitted photo gives exactly one `Finished`."""

    card: ModelCard
    thresholds: np.ndarray  # per-class score floor, in card class order; set before submitting
    max_in_flight: int

    def submit(self, capture: Capture, zone_mask: BaseGeometry | None = None) -> None:
        """Queue one photo; blocks while `max_in_flight` photos are submitted and not yet taken."""

    def next_result(self, timeout_s: float) -> Finished | None:
        """The next finished photo, or None if none finished within `timeout_s`."""

    @property
    def in_flight(self) -> int:
        """Photos submitted whose result has not been taken by `next_result` yet."""

    def close(self) -> None:
        """Stop the workers (photos still in flight are abandoned)."""


class Slots:
    """The in-flight bound shared by both engines: a photo holds a slot from `submit` until its
    result is taken, so finished-but-unread results count too (the reader sets the pace)."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"max_in_flight: must be at least 1 (got {limit})")
        self.limit = limit
        self._sem = threading.BoundedSemaphore(limit)
        self._count = 0
        self._lock = threading.Lock()
        self.done: queue.Queue[Finished] = queue.Queue()

    def acquire(self) -> None:
        self._sem.acquire()
        with self._lock:
            self._count += 1

    def take(self, timeout_s: float) -> Finished | None:
        try:
            item = self.done.get(timeout=timeout_s)
        except queue.Empty:
            return None
        with self._lock:
            self._count -= 1
        self._sem.release()
        return item

    @property
    def count(self) -> int:
        with self._lock:
            return self._count


class InProcessPool:
    """Detectors on threads of this process (ONNX Runtime / OpenVINO release the GIL while they run).
    One `Detector` per worker, so each model is loaded once and never shared between threads."""

    def __init__(self, detectors: Sequence[Detector], max_in_flight: int | None = None):
        if not detectors:
            raise ValueError("detectors: need at least one")
        self._idle: queue.Queue[Detector] = queue.Queue()
        for d in detectors:
            self._idle.put(d)
        self.card = detectors[0].card
        self.thresholds = detectors[0].thresholds.copy()
        self.max_in_flight = 2 * len(detectors) if max_in_flight is None else max_in_flight
        self._slots = Slots(self.max_in_flight)
        self._pool = ThreadPoolExecutor(max_workers=len(detectors), thread_name_prefix="detect")

    def submit(self, capture: Capture, zone_mask: BaseGeometry | None = None) -> None:
        self._slots.acquire()
        self._pool.submit(self._run, capture, zone_mask, self.thresholds.copy())

    def _run(self, capture: Capture, zone_mask: BaseGeometry | None, thresholds: np.ndarray) -> None:
        detector = self._idle.get()
        t0 = time.perf_counter()
        try:
            detector.thresholds = thresholds
            (result,) = detector.detect_batch([capture], zone_mask)
        except Exception as exc:  # a detector bug must cost one photo, not the slot (the stage would hang)
            result = PhotoResult(capture, error=f"{type(exc).__name__}: {exc}")
        finally:
            self._idle.put(detector)
        self._slots.done.put(Finished(result, time.perf_counter() - t0))

    def next_result(self, timeout_s: float) -> Finished | None:
        return self._slots.take(timeout_s)

    @property
    def in_flight(self) -> int:
        return self._slots.count

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def open_pool(engine: str, card_path: Path, taxonomy_codes: Sequence[str] | None = None, workers: int | None = 1,
              ray_address: str | None = None, max_in_flight: int | None = None) -> DetectionPool:
    """The pool `patrol run --engine` names: `inprocess` (threads here) or `ray` (actors on a cluster)."""
    if engine == "inprocess":
        return InProcessPool([Detector(card_path, taxonomy_codes=taxonomy_codes) for _ in range(workers or 1)], max_in_flight)
    if engine == "ray":
        from patrol.pipeline.engines.ray_pool import RayPool  # Ray loads only when asked for

        return RayPool(card_path, taxonomy_codes, workers=workers, address=ray_address, max_in_flight=max_in_flight)
    raise ValueError(f"engine: must be one of {', '.join(ENGINES)} (got {engine!r})")
