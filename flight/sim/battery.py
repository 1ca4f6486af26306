"""A flight battery good enough for failsafe rehearsal: state of charge, voltage, sag."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Battery:
    """Linear discharge over `endurance_s` of flight; a little drain on the ground while armed."""

    endurance_s: float = 38 * 60.0
    soc: float = 1.0
    cells: int = 6
    capacity_mah: float = 7880.0
    hover_fraction: float = 0.9  # hovering/climbing draws about as much as cruising on a quad

    def drain(self, dt_s: float, flying: bool, armed: bool) -> None:
        rate = 1.0 if flying else (0.05 if armed else 0.0)
        self.soc = max(0.0, self.soc - rate * dt_s / self.endurance_s)

    def charge(self, dt_s: float, full_charge_s: float) -> None:
        """On the dock, disarmed: empty to full in `full_charge_s`."""
        self.soc = min(1.0, self.soc + dt_s / full_charge_s)

    def sag(self, fraction: float) -> None:
        """Sudden loss of `fraction` of full charge (cold cell, damaged pack)."""
        self.soc = max(0.0, self.soc - fraction)

    @property
    def percent(self) -> int:
        return int(round(self.soc * 100))

    @property
    def voltage_v(self) -> float:
        return self.cells * (3.5 + 0.7 * self.soc)

    @property
    def consumed_mah(self) -> int:
        return int((1.0 - self.soc) * self.capacity_mah)
