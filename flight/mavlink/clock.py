"""One time base for everything that speaks MAVLink here, so a rehearsal can run faster than life.

Vehicle-side timers (stream intervals, failsafes, battery) and controller-side timers (protocol
timeouts, liveness) all read the same clock; a `ScaledClock(speed=20)` makes twenty simulated
seconds pass per real second for both ends, which keeps their timing relationships intact.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    speed: float

    def now(self) -> float:
        """Seconds on this clock (monotonic; only differences mean anything)."""

    def utc(self) -> datetime:
        """Wall time on this clock, timezone-aware UTC."""

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of clock time."""

    async def wait_for(self, aw, timeout: float):
        """asyncio.wait_for with the timeout in clock seconds."""


class ScaledClock:
    """Clock time runs `speed` times faster than the event loop's real time; speed=1 is real time."""

    def __init__(self, speed: float = 1.0, start_utc: datetime | None = None, real0: float | None = None) -> None:
        """`real0`: the time.monotonic() at which clock time 0 was (another process's clock: the
        system's monotonic clock is one for every process)."""
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {speed!r}")
        self.speed = float(speed)
        self._real0 = time.monotonic() if real0 is None else real0
        self._utc0 = start_utc or datetime.now(timezone.utc)

    def now(self) -> float:
        return (time.monotonic() - self._real0) * self.speed

    def utc(self) -> datetime:
        return self._utc0 + timedelta(seconds=self.now())

    def monotonic_at(self, clock_seconds: float) -> float:
        """time.monotonic() value at which this clock reads `clock_seconds` (shared by processes)."""
        return self._real0 + clock_seconds / self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    async def wait_for(self, aw, timeout: float):
        """asyncio.wait_for with the timeout in clock seconds."""
        return await asyncio.wait_for(aw, timeout / self.speed)


def real_clock() -> ScaledClock:
    return ScaledClock(1.0)
