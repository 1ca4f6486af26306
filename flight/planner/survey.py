"""Survey geometry of one zone flown by one camera: footprint, GSD, strip and photo spacing."""

from __future__ import annotations

from dataclasses import dataclass

from detector.camera import CameraModel
from flight.assets import DroneSpec, PatrolZone
from flight.planner.errors import PlanningError

LEGAL_MAX_AGL_M = 120.0  # China CAAC light-UAV ceiling for routine operations
MAX_OVERLAP = 0.95


@dataclass(frozen=True)
class Survey:
    """How one zone is photographed: the camera's long side lies across the flight line."""

    altitude_m: float
    footprint_across_m: float  # ground width of one photo across the flight line
    footprint_along_m: float  # ground height of one photo along the flight line
    gsd_m: float
    spacing_m: float  # between neighbouring strips, from side overlap
    trigger_m: float  # between photos along a strip, from front overlap


def survey_for(zone: PatrolZone, camera: CameraModel, spec: DroneSpec) -> Survey:
    """Check the zone's altitude and overlaps, then derive strip and trigger spacing."""
    where = f"patrol zone {zone.id!r}"
    ceiling = min(LEGAL_MAX_AGL_M, spec.max_altitude_agl_m)
    if not 0 < zone.altitude_agl_m <= ceiling:
        raise PlanningError(where, "altitude_agl_m", zone.altitude_agl_m,
                            f"altitude must be above 0 and at most {ceiling:g} m AGL (legal limit {LEGAL_MAX_AGL_M:g} m)",
                            f"0 < altitude_agl_m <= {ceiling:g}")
    for name, value in (("front_overlap", zone.front_overlap), ("side_overlap", zone.side_overlap)):
        if not 0 < value < MAX_OVERLAP:
            raise PlanningError(where, name, value,
                                "no overlap budget left: neighbouring photos must overlap to leave no gaps"
                                if value <= 0 else "overlap so high that photos barely advance",
                                f"0 < {name} < {MAX_OVERLAP}")
    across, along = camera.footprint_m(zone.altitude_agl_m)
    return Survey(
        altitude_m=zone.altitude_agl_m,
        footprint_across_m=across,
        footprint_along_m=along,
        gsd_m=camera.gsd_m(zone.altitude_agl_m),
        spacing_m=across * (1.0 - zone.side_overlap),
        trigger_m=along * (1.0 - zone.front_overlap),
    )
