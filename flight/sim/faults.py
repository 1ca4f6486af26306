"""Faults a rehearsal can inject into a simulated vehicle, timed in seconds after arming."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Faults:
    loss_pct: float = 0.0  # each packet, either direction, dropped with this probability
    outages: tuple[tuple[float, float], ...] = ()  # (start_s after arming, duration_s): link silent
    battery_sag: tuple[float, float] | None = None  # (at_s after arming, fraction of charge lost)
    motor_failure_at_s: float | None = None  # after arming: falls, crashes, goes silent
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss_pct < 100.0:
            raise ValueError(f"faults.loss_pct must be in [0, 100), got {self.loss_pct!r}")
        for start, duration in self.outages:
            if start < 0 or duration <= 0:
                raise ValueError(f"faults.outages entry ({start}, {duration}) needs start >= 0 and duration > 0")

    def link_down(self, since_arm_s: float | None) -> bool:
        if since_arm_s is None:
            return False
        return any(start <= since_arm_s < start + duration for start, duration in self.outages)
