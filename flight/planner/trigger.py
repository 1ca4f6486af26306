"""How ArduPilot's distance trigger really fires, so a strip's mission takes exactly its planned photos.

Measured on ArduCopter 4.8 SITL (notes/issue-13.md): AP_Camera checks the distance from the last
photo at 50 Hz, so each photo fires up to one check (speed / 50 m) late and, being measured from
the previous photo, the lateness adds up along a strip (12 of 13 photos were taken with the
planned spacing). A waypoint counts as reached WP_RADIUS_M (2 m by default) before it, and the
camera is switched off there. So the mission asks for a spacing one check shorter than planned
(every photo at or before its planned place, never a gap) and puts the strip's end waypoint
WP_RADIUS_M plus a margin past the last photo.
"""

from __future__ import annotations

TRIGGER_CHECK_HZ = 50.0  # AP_Camera's update rate
WP_RADIUS_M = 2.0  # ArduCopter's default WP_RADIUS_M
END_MARGIN_M = 0.5
END_OVERSHOOT_M = WP_RADIUS_M + END_MARGIN_M  # end waypoint past the last photo


def late_by_m(speed_m_s: float) -> float:
    """Most a photo fires past its trigger distance: one camera check at `speed_m_s`."""
    return speed_m_s / TRIGGER_CHECK_HZ


def mission_spacing_m(spacing_m: float, speed_m_s: float) -> float:
    """DO_SET_CAM_TRIGG_DIST distance for photos every `spacing_m` at `speed_m_s`."""
    return max(spacing_m - late_by_m(speed_m_s), 0.5 * spacing_m)

