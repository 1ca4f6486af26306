"""Weather gates before launch: each dock's wind and rain against the drone model's limits.

`WeatherSource` is the interface; `DockWeatherFile` reads a dock-weather JSON file (what a dock's
own station reports, written by whatever polls it) and `WeatherFeed` is a timeline on the clock
(the simulator's wind feed, rehearsals and tests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Weather:
    wind_m_s: float = 0.0
    gust_m_s: float = 0.0
    rain_mm_h: float = 0.0


@dataclass(frozen=True)
class Limits:
    """What one drone model flies in (DJI Matrice 3D/Dock 2: 12 m/s wind, IP54 light rain)."""

    max_wind_m_s: float = 12.0
    max_rain_mm_h: float = 8.0

    def hold_reason(self, w: Weather | None) -> str:
        """'' when flyable; otherwise why not, with the numbers."""
        if w is None:
            return "no weather report from the dock"
        wind = max(w.wind_m_s, w.gust_m_s)
        if wind > self.max_wind_m_s:
            return f"wind {wind:.1f} m/s > limit {self.max_wind_m_s:g} m/s"
        if w.rain_mm_h > self.max_rain_mm_h:
            return f"rain {w.rain_mm_h:.1f} mm/h > limit {self.max_rain_mm_h:g} mm/h"
        return ""


class WeatherSource(Protocol):
    def at(self, dock_id: str, now_s: float) -> Weather | None:
        """The latest weather at a dock (None: nothing known), at clock time `now_s`."""


class FairWeather:
    """No weather station configured: every dock reports calm."""

    def at(self, dock_id: str, now_s: float) -> Weather | None:
        return Weather()


class DockWeatherFile:
    """{"dock-id": {"wind_m_s": 4.2, "gust_m_s": 7.0, "rain_mm_h": 0.0}, ...}, re-read when it changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._mtime = -1.0
        self._data: dict[str, Weather] = {}

    def at(self, dock_id: str, now_s: float) -> Weather | None:
        mtime = self.path.stat().st_mtime if self.path.exists() else -1.0
        if mtime != self._mtime:
            self._mtime = mtime
            raw = json.loads(self.path.read_text()) if mtime >= 0 else {}
            self._data = {k: Weather(**{f: float(v) for f, v in entry.items()}) for k, entry in raw.items()}
        return self._data.get(dock_id)


class WeatherFeed:
    """Weather that changes at given clock times: [(from_s, {dock: Weather}), ...]; '*' is every dock."""

    def __init__(self, steps: list[tuple[float, dict[str, Weather]]]) -> None:
        self.steps = sorted(steps, key=lambda s: s[0])

    def at(self, dock_id: str, now_s: float) -> Weather | None:
        current: Weather | None = Weather()
        for start, by_dock in self.steps:
            if start > now_s:
                break
            current = by_dock.get(dock_id, by_dock.get("*", current))
        return current
