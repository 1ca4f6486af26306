"""One sortie on one drone: upload, verify, launch, watch — a state machine with reasons.

queued → uploading → ready → launched → surveying → returning → landed, or aborted / failed
with a reason. Progress is the last mission item known reached (MISSION_ITEM_REACHED, or
MISSION_CURRENT - 1 when reached messages were lost), in the sortie's own item numbering.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.fleet.hub import DroneLink
from flight.mavlink import commands
from flight.mavlink import mission_protocol as mp
from flight.mavlink.errors import CommandFailed, MavlinkError, MissionMismatch
from flight.mavlink.mission_wire import differences, frame_class, home_item
from flight.mission import MissionItem, Sortie


class SortieState(str, enum.Enum):
    QUEUED = "queued"
    UPLOADING = "uploading"
    READY = "ready"
    LAUNCHED = "launched"
    SURVEYING = "surveying"
    RETURNING = "returning"
    LANDED = "landed"
    ABORTED = "aborted"
    FAILED = "failed"
    HANDED_OVER = "handed_over"  # left in the air at a strip boundary for a preempting sortie

    @property
    def finished(self) -> bool:
        return self in (SortieState.LANDED, SortieState.ABORTED, SortieState.FAILED, SortieState.HANDED_OVER)


RETURN_COMMANDS = {mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, mavlink.MAV_CMD_NAV_LAND}


@dataclass
class FleetSettings:
    """Controller policy. Times are clock seconds. When to launch and when to turn home is not
    policy but the drone model's `Battery` (the one the planner sized the sorties with)."""

    stale_after_s: float = 5.0  # no heartbeat: mark stale, keep listening
    failed_after_s: float = 60.0  # no heartbeat this long in flight: drone lost, coverage reassigned
    prearm_timeout_s: float = 180.0  # EKF/prearm must be ready within this
    upload_attempts: int = 3
    charge_timeout_s: float = 3 * 3600.0
    stream_scale: float = 1.0  # telemetry rates asked for, × the hub's STREAMS (a sped-up rehearsal asks less)
    timing: mp.Timing = field(default_factory=mp.Timing)


@dataclass
class SortieRun:
    sortie: Sortie
    drone_id: str
    state: SortieState = SortieState.QUEUED
    reason: str = ""
    interrupted: str = ""  # why the sortie stopped short of its plan (low battery, failsafe...)
    last_item: int = -1  # index into sortie.items of the last item known reached
    offset: int = 0  # wire seq minus sortie item index (see wire_items)
    captures: int = 0
    started: datetime | None = None
    ended: datetime | None = None
    history: list[tuple[str, str]] = field(default_factory=list)

    def to(self, state: SortieState, reason: str = "", when: datetime | None = None) -> None:
        self.state = state
        if reason:
            self.reason = reason
        self.history.append((state.value, reason))
        if state.finished:
            self.ended = when

    @property
    def launched(self) -> bool:
        """It left the dock: some of it may be flown."""
        return any(state == SortieState.LAUNCHED.value for state, _ in self.history)

    @property
    def complete(self) -> bool:
        """Every item flown: nothing of this sortie needs flying again."""
        return self.state == SortieState.LANDED and not self.interrupted


def has_home_slot(items: list[MissionItem]) -> bool:
    """True when item 0 is a home placeholder (absolute-altitude waypoint before the takeoff), as
    flight.planner writes missions; such a slot is ArduPilot's seq 0 and must not reach PX4."""
    return (len(items) > 1 and items[0].command == mavlink.MAV_CMD_NAV_WAYPOINT
            and frame_class(items[0].frame) == mavlink.MAV_FRAME_GLOBAL
            and items[1].command == mavlink.MAV_CMD_NAV_TAKEOFF)


def wire_items(dl: DroneLink, sortie: Sortie) -> list[MissionItem]:
    """The sortie's items as the autopilot stores them: ArduPilot has home at seq 0, PX4 does not.

    `len(wire) - len(sortie.items)` is then the wire seq of sortie item 0 (-1, 0 or 1)."""
    items, slot = list(sortie.items), has_home_slot(sortie.items)
    if not dl.state.flavour.home_at_seq0:
        return items[1:] if slot else items
    if slot:
        return items
    home = dl.state.home or (items[0].lat, items[0].lon, 0.0)
    return [home_item(*home)] + items


async def upload_verified(dl: DroneLink, sortie: Sortie, settings: FleetSettings) -> list[MissionItem]:
    """Upload, read back, compare; retry the whole transfer on mismatch or cancellation."""
    items = wire_items(dl, sortie)
    skip_home = dl.state.flavour.home_at_seq0
    last_error: Exception | None = None
    for _ in range(settings.upload_attempts):
        try:
            await mp.upload(dl.channel, items, settings.timing)
            got = await mp.download(dl.channel, settings.timing)
        except MavlinkError as exc:
            if getattr(exc, "result", None) not in (mavlink.MAV_MISSION_OPERATION_CANCELLED, None):
                raise  # the vehicle refused the mission itself: retrying cannot help
            last_error = exc
            continue
        diff = differences(items, got, skip_first=skip_home)
        if not diff:
            return items
        last_error = MissionMismatch("mission read back differs: " + "; ".join(diff[:3]))
    assert last_error is not None
    raise last_error


async def launch(dl: DroneLink, clock, settings: FleetSettings) -> None:
    """Wait for prearm, GUIDED (ArduPilot), arm (retrying while prearm fails), MISSION_START."""
    state, ch = dl.state, dl.channel
    deadline = clock.now() + settings.prearm_timeout_s
    while not state.prearm_ok:
        if clock.now() > deadline:
            raise MavlinkError(f"prearm checks not passed after {settings.prearm_timeout_s:.0f} s: "
                               f"{state.last_text('PreArm') or 'no PreArm message'}")
        await clock.sleep(1.0)
    wait = settings.timing.timeout_s
    if state.flavour.must_guided_before_arm:
        await commands.set_mode(ch, state.flavour, "GUIDED", timeout_s=wait)
    while True:
        try:
            await commands.arm(ch, detail=lambda: state.last_text("PreArm") or state.last_text("Arm"), timeout_s=wait)
            break
        except CommandFailed:
            if clock.now() > deadline:
                raise
            await clock.sleep(2.0)
    await commands.mission_start(ch, timeout_s=wait)


async def redirect(dl: DroneLink) -> None:
    """An airborne drone, holding in GUIDED with a new mission on board: fly it from item 1.

    (Its NAV_TAKEOFF completes at once in the air, as on ArduCopter.)"""
    await commands.mission_start(dl.channel)
