"""The fleet controller: hands sorties to drones, flies them, and recovers from what goes wrong.

Low battery → RTL and the unflown rest re-planned for another drone; link lost → stale, keep
listening, carry on when it comes back (the autopilot keeps flying); no heartbeat for
`failed_after_s` or a crash → drone failed, its remaining coverage reassigned.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from typing import Callable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from detector.capture import Capture
from flight.assets import Drone
from flight.fleet.captures import capture_from_message
from flight.fleet.hub import DroneLink, LinkHub
from flight.fleet.recovery import Replanner, leg_start, remainder_sortie
from flight.fleet.result import FleetResult, Replan, SortieOutcome
from flight.fleet.sortie import (RETURN_COMMANDS, FleetSettings, SortieRun, SortieState, launch, redirect,
                                 upload_verified)
from flight.mavlink import commands
from flight.mavlink.clock import Clock
from flight.mavlink.errors import MavlinkError
from flight.mission import Sortie

log = logging.getLogger(__name__)
CaptureSink = Callable[[Capture], object]
RunListener = Callable[[SortieRun], None]
ACTIVE = (SortieState.LAUNCHED, SortieState.SURVEYING, SortieState.RETURNING)


class FleetController:
    def __init__(self, drones: list[Drone], clock: Clock, settings: FleetSettings | None = None,
                 on_capture: CaptureSink | None = None, replanner: Replanner = remainder_sortie,
                 dock_of: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.settings = settings or FleetSettings()
        self.drone_list = list(drones)
        self.hub = LinkHub(drones, clock, self.settings.stale_after_s)
        self.hub.listeners.append(self._on_message)
        self.on_capture = on_capture
        self.replanner = replanner
        self.dock_of = dock_of or {}  # drone → dock: unassigned sorties go to drones at their dock first
        self.pending: list[Sortie] = []
        self.runs: list[SortieRun] = []
        self.active: dict[str, SortieRun] = {}
        self.captures: list[Capture] = []
        self.tracks: dict[str, list] = defaultdict(list)
        self.replans: list[Replan] = []
        self.failed: set[str] = set()
        self._seen_images: dict[str, set[int]] = defaultdict(set)
        self._capture_item: dict[str, tuple[int, float, float]] = {}  # run id → (last_item, lat, lon)
        self._changed = asyncio.Event()
        self._background: set[asyncio.Task] = set()
        self.status_url: str | None = None
        self.standing = False  # serve(): workers wait for new sorties instead of ending with the queue
        self.held: dict[str, str] = {}  # drone → why it takes no new sortie (paused, weather hold)
        self.on_run_end: list[RunListener] = []
        self._preempt: dict[str, tuple[Sortie, str]] = {}  # airborne drone → sortie to fly at its next strip end

    # ---- public ----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.hub.open()

    def close(self) -> None:
        for task in self._background:
            task.cancel()
        self.hub.close()

    async def fly(self, sorties: list[Sortie]) -> FleetResult:
        """Fly every sortie (and every re-planned remainder) until none is left or no drone can."""
        known = {d.id for d in self.drone_list}
        for s in sorties:
            if s.drone_id is not None and s.drone_id not in known:
                raise ValueError(f"sortie {s.id!r}: drone_id {s.drone_id!r} is not in the fleet ({sorted(known)})")
        self.pending.extend(sorties)
        await asyncio.gather(*(self._worker(d.id) for d in self.drone_list))
        return self.result()

    async def serve(self) -> None:
        """Keep every drone's worker up, taking sorties as `submit` queues them, until `stop_serving`."""
        self.standing = True
        await asyncio.gather(*(self._worker(d.id) for d in self.drone_list))

    def stop_serving(self) -> None:
        """Workers end once their drones have landed and nothing they may fly is queued (a held
        drone ends as soon as it is on the ground)."""
        self.standing = False
        self._notify()

    def submit(self, sorties: list[Sortie], first: bool = False) -> None:
        """Queue sorties for a standing controller; `first` puts them ahead of what is queued."""
        known = {d.id for d in self.drone_list}
        for s in sorties:
            if s.drone_id is not None and s.drone_id not in known:
                raise ValueError(f"sortie {s.id!r}: drone_id {s.drone_id!r} is not in the fleet ({sorted(known)})")
        self.pending[:0 if first else len(self.pending)] = sorties
        self._notify()

    def withdraw(self, sortie_id: str) -> bool:
        """Take a queued sortie back before any drone started it."""
        for s in self.pending:
            if s.id == sortie_id:
                self.pending.remove(s)
                self._notify()
                return True
        return False

    def hold(self, drone_id: str, why: str) -> None:
        """The drone finishes what it flies but takes no new sortie until `release`."""
        self.held[drone_id] = why
        self._notify()

    def release(self, drone_id: str) -> None:
        self.held.pop(drone_id, None)
        self._notify()

    def preempt(self, drone_id: str, sortie: Sortie, why: str) -> None:
        """Fly `sortie` next on an airborne drone: at the end of the strip it is photographing its
        current sortie stops, the unflown strips go back for re-planning and `sortie` is uploaded
        and flown from where the drone is (breakpoint style: no covered strip is flown again)."""
        run = self.active.get(drone_id)
        if run is None or run.state not in (SortieState.LAUNCHED, SortieState.SURVEYING):
            raise ValueError(f"drone {drone_id!r} is not flying a sortie it could leave "
                             f"({run.state.value if run else 'idle'})")
        self._preempt[drone_id] = (Sortie(**{**sortie.__dict__, "drone_id": drone_id}), why)

    def return_home(self, drone_id: str, why: str) -> bool:
        """RTL now; the unflown rest of its sortie goes back for re-planning. False: not flying."""
        run = self.active.get(drone_id)
        if run is None or run.state not in (SortieState.LAUNCHED, SortieState.SURVEYING):
            return False
        self._interrupt(self.hub.drones[drone_id], run, why)
        self._spawn(self._rtl(self.hub.drones[drone_id]))
        return True

    def result(self) -> FleetResult:
        outcomes = [SortieOutcome(r.sortie.id, r.drone_id, r.state.value, r.reason, r.interrupted, r.last_item,
                                  len(r.sortie.items), r.captures,
                                  r.started.isoformat() if r.started else None,
                                  r.ended.isoformat() if r.ended else None) for r in self.runs]
        return FleetResult(outcomes, list(self.captures), dict(self.tracks), list(self.replans),
                           [s.id for s in self.pending], sorted(self.failed), self.hub.counters())

    def snapshot(self) -> dict:
        """Live view for `patrol status` and the rich table."""
        drones = []
        for drone_id, dl in self.hub.drones.items():
            row = dl.state.snapshot()
            run = self.active.get(drone_id)
            row.update(sortie=run.sortie.id if run else None, sortie_state=run.state.value if run else None,
                       progress=f"{run.last_item + 1}/{len(run.sortie.items)}" if run else "",
                       failed=drone_id in self.failed)
            drones.append(row)
        return {"time_utc": self.clock.utc().isoformat(), "drones": drones,
                "pending": [s.id for s in self.pending], "captures": len(self.captures),
                "sorties": [{"id": r.sortie.id, "drone": r.drone_id, "state": r.state.value, "reason": r.reason}
                            for r in self.runs],
                "replans": len(self.replans), "links": self.hub.counters()}

    # ---- scheduling ------------------------------------------------------------------------
    def _live_drones(self) -> list[str]:
        return [d.id for d in self.drone_list if d.id not in self.failed]

    def _take(self, drone_id: str) -> Sortie | None:
        if drone_id in self.held and not self.hub.drones[drone_id].state.armed:
            return None  # (a drone handed over in the air still takes the sortie preempt() gave it)
        mine = [s for s in self.pending if s.drone_id == drone_id]
        others_alive = len(self._live_drones()) > 1
        free = [s for s in self.pending if s.drone_id is None
                and not (others_alive and s.meta.get("interrupted_drone") == drone_id)]
        home = self.dock_of.get(drone_id)
        free.sort(key=lambda s: s.dock_id != home)
        pick = (mine or free or [None])[0]
        if pick is not None:
            self.pending.remove(pick)
        return pick

    def _done(self) -> bool:
        if self.active or self.standing:
            return False
        live = set(self._live_drones())
        return not any(s.drone_id is None or s.drone_id in live for s in self.pending)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _worker(self, drone_id: str) -> None:
        dl = self.hub.drones[drone_id]
        while drone_id not in self.failed:
            sortie = self._take(drone_id)
            if sortie is None:
                if self._done() or (not self.standing and drone_id in self.held and not dl.state.armed):
                    self._notify()
                    return
                try:
                    await self.clock.wait_for(self._changed.wait(), 5.0)
                except asyncio.TimeoutError:
                    pass
                continue
            run = SortieRun(sortie, drone_id, started=self.clock.utc())
            self.runs.append(run)
            self.active[drone_id] = run
            try:
                await self._fly(dl, run)
            finally:
                del self.active[drone_id]
                unserved = self._preempt.pop(drone_id, None)
                if unserved is not None:  # landed (low battery, failsafe) before a strip ended: fly it next
                    self.pending.insert(0, unserved[0])
                for listener in self.on_run_end:
                    listener(run)
                self._notify()

    def _release(self, sortie: Sortie, drone_id: str) -> None:
        """Give an unflown sortie back to the pool for any other drone."""
        meta = {**sortie.meta, "interrupted_drone": drone_id}
        self.pending.append(Sortie(**{**sortie.__dict__, "drone_id": None, "meta": meta}))
        self._notify()

    def _fail_drone(self, drone_id: str) -> None:
        self.failed.add(drone_id)
        for i, s in enumerate(self.pending):
            if s.drone_id == drone_id:
                self.pending[i] = Sortie(**{**s.__dict__, "drone_id": None})
        self._notify()

    # ---- one sortie ------------------------------------------------------------------------
    async def _fly(self, dl: DroneLink, run: SortieRun) -> None:
        s = self.settings
        airborne = dl.state.armed  # handed over in the air by preempt(): hold position, re-task, go on
        try:
            if airborne:
                await commands.set_mode(dl.channel, dl.state.flavour, "GUIDED")
            else:
                await self._wait_ready(dl)
        except MavlinkError as exc:
            run.to(SortieState.ABORTED, str(exc), self.clock.utc())
            self._release(run.sortie, dl.drone.id)
            if airborne:
                return await self._home_after_abort(dl)
            self._fail_drone(dl.drone.id)
            return
        run.to(SortieState.UPLOADING)
        try:
            items = await upload_verified(dl, run.sortie, s)
        except MavlinkError as exc:
            run.to(SortieState.ABORTED, f"upload: {exc}", self.clock.utc())
            if airborne:
                await self._home_after_abort(dl)
            return
        run.to(SortieState.READY)
        dl.state.last_reached = -1
        dl.state.mission_current = 0
        try:
            await (redirect(dl) if airborne else launch(dl, self.clock, s))
        except MavlinkError as exc:
            run.to(SortieState.ABORTED, f"launch: {exc}", self.clock.utc())
            self._release(run.sortie, dl.drone.id)
            if airborne:
                await self._home_after_abort(dl)
            return
        run.to(SortieState.LAUNCHED)
        run.offset = len(items) - len(run.sortie.items)
        await self._watch(dl, run)

    async def _wait_ready(self, dl: DroneLink) -> None:
        """Heard from, and charged enough to fly."""
        s, state = self.settings, dl.state
        deadline = self.clock.now() + s.failed_after_s
        while state.last_heartbeat is None or state.stale:
            if self.clock.now() > deadline:
                raise MavlinkError(f"no heartbeat from {dl.drone.id} ({dl.drone.endpoint}, "
                                   f"system {dl.drone.system_id}) for {s.failed_after_s:.0f} s")
            await self.clock.sleep(1.0)
        deadline = self.clock.now() + s.charge_timeout_s
        while state.battery_pct is None or state.battery_pct < s.launch_battery_pct:
            if self.clock.now() > deadline:
                raise MavlinkError(f"{dl.drone.id} battery {state.battery_pct}% never reached "
                                   f"{s.launch_battery_pct:.0f}%")
            await self.clock.sleep(5.0)

    async def _watch(self, dl: DroneLink, run: SortieRun) -> None:
        s, state, items, offset = self.settings, dl.state, run.sortie.items, run.offset
        n = len(items)
        return_at = next((i for i, it in enumerate(items) if it.command in RETURN_COMMANDS), n)
        takeoff_at = next((i for i, it in enumerate(items) if it.command == mavlink.MAV_CMD_NAV_TAKEOFF), 0)
        seen_armed = False
        while True:
            await self.clock.sleep(0.5)
            now = self.clock.now()
            if state.last_heartbeat is not None and now - state.last_heartbeat > s.failed_after_s:
                return self._lost(dl, run, f"no heartbeat for {now - state.last_heartbeat:.0f} s")
            if state.crashed:
                return self._lost(dl, run, f"crash: {state.last_text('Crash')}")
            if state.stale:
                continue
            if state.armed:
                seen_armed = True
            if state.mode == "AUTO" and state.armed:
                reached = max(state.last_reached, state.mission_current - 1) - offset
                run.last_item = max(run.last_item, min(reached, n - 1))
            elif state.last_reached - offset > run.last_item:
                run.last_item = min(state.last_reached - offset, n - 1)
            if seen_armed and not state.armed:
                await self._fetch_tail_photos(dl, run)
                if run.interrupted:
                    run.to(SortieState.LANDED, run.interrupted, self.clock.utc())
                else:
                    run.last_item = n - 1
                    run.to(SortieState.LANDED, "", self.clock.utc())
                return
            if run.state == SortieState.LAUNCHED and run.last_item >= takeoff_at:
                run.to(SortieState.SURVEYING)
            if run.state in (SortieState.LAUNCHED, SortieState.SURVEYING):
                if dl.drone.id in self._preempt and state.mode == "AUTO" and _between_strips(run):
                    return self._hand_over(dl, run)
                if state.mode in ("RTL", "LAND"):
                    why = state.last_text("Battery Failsafe") or state.last_text("GCS Failsafe") or \
                        f"vehicle switched to {state.mode}"
                    self._interrupt(dl, run, why)
                elif state.mode == "AUTO" and state.mission_current - offset >= return_at:
                    run.to(SortieState.RETURNING)
                elif state.battery_pct is not None and state.battery_pct < s.return_battery_pct \
                        and run.state == SortieState.SURVEYING:
                    self._interrupt(dl, run, f"battery {state.battery_pct}% below return threshold "
                                             f"{s.return_battery_pct:.0f}%")
                    self._spawn(self._rtl(dl))

    def _hand_over(self, dl: DroneLink, run: SortieRun) -> None:
        """Leave the sortie at a strip boundary: unflown strips re-planned, the preempting sortie next."""
        sortie, why = self._preempt.pop(dl.drone.id)
        run.interrupted = why
        run.to(SortieState.HANDED_OVER, why, self.clock.utc())
        self._hand_back(dl, run, why)
        self.pending.insert(0, sortie)

    async def _home_after_abort(self, dl: DroneLink) -> None:
        """Re-tasking in the air failed: fly home and take nothing new until landed (bounded)."""
        try:
            await self._rtl(dl)
        except MavlinkError:
            log.warning("%s: RTL after a failed re-task was not acknowledged", dl.drone.id)
        deadline = self.clock.now() + self.settings.charge_timeout_s
        while dl.state.armed and self.clock.now() < deadline and dl.drone.id not in self.failed:
            await self.clock.sleep(1.0)

    async def _rtl(self, dl: DroneLink) -> None:
        try:
            await commands.return_to_launch(dl.channel)
        except MavlinkError:
            await commands.set_mode(dl.channel, dl.state.flavour, "RTL")

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _interrupt(self, dl: DroneLink, run: SortieRun, why: str) -> None:
        """Stop short: the drone heads home, the rest of its coverage goes back for re-planning."""
        run.interrupted = why
        run.to(SortieState.RETURNING, why)
        self._hand_back(dl, run, why)

    def _lost(self, dl: DroneLink, run: SortieRun, why: str) -> None:
        run.to(SortieState.FAILED, why, self.clock.utc())
        run.interrupted = why
        self._fail_drone(dl.drone.id)
        self._hand_back(dl, run, why)

    def _hand_back(self, dl: DroneLink, run: SortieRun, why: str) -> None:
        last = self._capture_item.get(id(run))
        items = run.sortie.items
        same_leg = last is not None and leg_start(items, last[0]) == leg_start(items, run.last_item)
        resume_at = (last[1], last[2]) if same_leg else None
        new = self.replanner(run.sortie, run.last_item, resume_at, why)
        for sortie in new:
            sortie.meta["interrupted_drone"] = dl.drone.id
        self.replans.append(Replan(run.sortie.id, dl.drone.id, why, run.last_item, [x.id for x in new], self.clock.now()))
        self.pending.extend(new)
        self._notify()

    # ---- messages --------------------------------------------------------------------------
    def _on_message(self, dl: DroneLink, msg) -> None:
        kind = msg.get_type()
        run = self.active.get(dl.drone.id)
        if run is None or run.state not in ACTIVE:
            return
        if kind == "GLOBAL_POSITION_INT":
            track = self.tracks[dl.drone.id]
            now = self.clock.now()
            if not track or now - track[-1][0] >= 1.0:
                track.append((now, msg.lat / 1e7, msg.lon / 1e7, msg.relative_alt / 1000.0))
        elif kind in ("CAMERA_FEEDBACK", "CAMERA_IMAGE_CAPTURED"):
            self._capture(dl, run, msg)

    def _capture(self, dl: DroneLink, run: SortieRun, msg) -> None:
        cap = capture_from_message(msg, dl.drone, run.sortie.id, self.clock.utc())
        seen = self._seen_images[dl.drone.id]
        if cap is None or cap.seq in seen:
            return
        if seen and cap.seq > max(seen) + 1:
            self._request_missing(dl, range(max(seen) + 1, cap.seq))
        seen.add(cap.seq)
        self.captures.append(cap)
        run.captures += 1
        if cap.seq == max(seen):
            leg = max(run.last_item, min(dl.state.last_reached - run.offset, len(run.sortie.items) - 1))
            self._capture_item[id(run)] = (leg, cap.pose.lat, cap.pose.lon)
        if self.on_capture is not None:
            try:
                out = self.on_capture(cap)
            except Exception:  # the consumer's bug must not cost us the rest of this datagram
                log.exception("on_capture failed for %s image %s", cap.drone_id, cap.seq)
                return
            if inspect.isawaitable(out):
                self._spawn(out)

    async def _fetch_tail_photos(self, dl: DroneLink, run: SortieRun) -> None:
        """Landed with fewer photos than planned: the last ones may have been lost with no later
        photo to show the gap, so ask for the records after the last one seen, then wait a moment."""
        short = run.sortie.photo_count - run.captures
        if run.interrupted or short <= 0:
            return
        seen = self._seen_images[dl.drone.id]
        first = max(seen) + 1 if seen else 0
        self._request_missing(dl, range(first, first + short))
        await self.clock.sleep(2.0)

    def _request_missing(self, dl: DroneLink, indices: range) -> None:
        """Photos fired during a link outage: ask the camera for their CAMERA_IMAGE_CAPTURED records."""
        ch = dl.channel
        for index in indices:
            ch.send(ch.mav.command_long_encode(ch.system_id, ch.component_id, mavlink.MAV_CMD_REQUEST_MESSAGE, 0,
                                               mavlink.MAVLINK_MSG_ID_CAMERA_IMAGE_CAPTURED, index, 0, 0, 0, 0, 0))


def _between_strips(run: SortieRun) -> bool:
    """No strip of the sortie is half photographed: the last item reached is outside every lane."""
    return not any(lane.start_item <= run.last_item < lane.end_item for lane in run.sortie.lanes)
