"""Unit-typed quantities for config: "50 m", "1.5 km", "90 min", "6 h" — never a bare number."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]+)\s*$")
_METRES = {"m": 1.0, "km": 1000.0}
_HOURS = {"min": 1 / 60, "h": 1.0, "d": 24.0}


def _parse(value: object, units: dict[str, float], what: str) -> float:
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None or match.group(2) not in units:
        raise ValueError(f"{what} must be a number with a unit ({', '.join(units)}), e.g. '50 {next(iter(units))}'; got {value!r}")
    return float(match.group(1)) * units[match.group(2)]


Metres = Annotated[float, BeforeValidator(lambda v: _parse(v, _METRES, "a distance"))]
Hours = Annotated[float, BeforeValidator(lambda v: _parse(v, _HOURS, "a duration"))]


class IncidentWindow(BaseModel):
    """Two sightings of one type belong to one incident if this close in space and time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    distance: Metres
    window: Hours
