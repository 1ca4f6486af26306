"""The fleet controller: hands sorties to drones, flies them, and recovers from what goes wrong.

Low battery (below what the way home takes, by the drone model's `Battery`) → RTL and the
unflown rest re-planned for another drone; link lost → stale, keep listening, carry on when it
comes back (the autopilot keeps flying); no heartbeat for `failed_after_s` or a crash → drone
failed, its remaining coverage and its queue re-planned. A sortie a drone cannot upload or launch
goes back to the pool for the others; one every live drone refused is left unflown, with each
drone's reason. Re-plans are awaited in tasks of their own, so the links never wait on them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections import defaultdict
from dataclasses import replace
from typing import Callable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from detector.capture import Capture
from flight.assets import Drone
from flight.fleet.captures import capture_from_message
from flight.fleet.hub import DroneLink, LinkHub
from flight.fleet.recovery import Replanner, Stop, leg_start, remainder_replanner
from flight.fleet.result import FleetResult, Replan, SortieOutcome
from flight.fleet.sortie import (RETURN_COMMANDS, FleetSettings, SortieRun, SortieState, launch, redirect,
                                 upload_verified)
from flight.mavlink import commands
from flight.mavlink.clock import Clock
from flight.mavlink.errors import MavlinkError, ProtocolTimeout
from flight.mission import Sortie

log = logging.getLogger(__name__)
CaptureSink = Callable[[Capture], object]
RunListener = Callable[[SortieRun], None]
ACTIVE = (SortieState.LAUNCHED, SortieState.SURVEYING, SortieState.RETURNING)
FETCH_ROUNDS, FETCH_WAIT_S = 3, 4.0  # asking again for photo records lost on the link, after landing
TIMEOUT_TRIES = 3  # a drone that does not answer a sortie's transfer this often has refused it


class FleetController:
    def __init__(self, drones: list[Drone], clock: Clock, settings: FleetSettings | None = None,
                 on_capture: CaptureSink | None = None, replanner: Replanner = remainder_replanner,
                 dock_of: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.settings = settings or FleetSettings()
        self.drone_list = list(drones)
        self.hub = LinkHub(drones, clock, self.settings.stale_after_s, self.settings.stream_scale)
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
        self._image_top: dict[str, int] = {}  # drone → highest image index heard
        self._first_image: dict[int, int] = {}  # run id → the image index its first photo takes
        self._capture_item: dict[str, tuple[int, float, float]] = {}  # run id → (last_item, lat, lon)
        self.refused: dict[str, dict[str, str]] = defaultdict(dict)  # sortie id → drone → why it could not fly it
        self._timeouts: dict[tuple[str, str], int] = defaultdict(int)  # (sortie, drone) → transfers unanswered
        self._handed_back_by: dict[str, str] = {}  # re-planned sortie id → the drone that stopped short
        self._replanning = 0
        self.lost_to_silence: set[str] = set()  # failed for want of heartbeats: may be heard again
        self.rejoined: list[str] = []  # drones that came back after being given up
        self.heard_while_replanning = 0  # messages taken in while a re-plan was running
        self.heartbeat_gap_while_replanning_s = 0.0  # longest wait for a drone's next heartbeat then (clock s)
        self._heartbeat_at: dict[str, float] = {}
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
        unflown = [s.id for s in self.pending]
        return FleetResult(outcomes, list(self.captures), dict(self.tracks), list(self.replans), unflown,
                           sorted(self.failed), self.hub.counters(),
                           {sid: self._unflown_reasons(sid) for sid in unflown}, self.heard_while_replanning,
                           self.heartbeat_gap_while_replanning_s, list(self.rejoined))

    def _unflown_reasons(self, sortie_id: str) -> dict[str, str]:
        why = {d: "drone failed" for d in self.failed}
        why.update(self.refused.get(sortie_id, {}))
        return why

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
        live = self._live_drones()
        mine = [s for s in self.pending if s.drone_id == drone_id and drone_id not in self.refused.get(s.id, {})]
        free = [s for s in self.pending if s.drone_id is None and self._may_take(drone_id, s, live)]
        home = self.dock_of.get(drone_id)
        free.sort(key=lambda s: s.dock_id != home)
        pick = (mine or free or [None])[0]
        if pick is not None:
            self.pending.remove(pick)
        return pick

    def _may_take(self, drone_id: str, sortie: Sortie, live: list[str]) -> bool:
        """A free sortie is sized for the flight from its dock: that dock's drones fly it while it has
        any left, others only then; the drone that handed it back comes after the others."""
        if drone_id in self.refused.get(sortie.id, {}):
            return False
        crew = [d for d in live if self.dock_of.get(d) == sortie.dock_id] or live
        if drone_id not in crew:
            return False
        return self._handed_back_by.get(sortie.id) != drone_id or \
            all(d == drone_id or d in self.refused.get(sortie.id, {}) for d in crew)

    def _done(self) -> bool:
        if self.active or self.standing or self._replanning:
            return False
        live = self._live_drones()
        return not any((s.drone_id in live and s.drone_id not in self.refused.get(s.id, {}))
                       or (s.drone_id is None and any(self._may_take(d, s, live) for d in live))
                       for s in self.pending)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _worker(self, drone_id: str) -> None:
        dl = self.hub.drones[drone_id]
        while True:
            if drone_id in self.failed and not self._rejoined(dl):
                if self._done():
                    return
                await self.clock.sleep(5.0)
                continue
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
            self._first_image[id(run)] = self._image_top.get(drone_id, -1) + 1
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

    def _rejoined(self, dl: DroneLink) -> bool:
        """A drone given up for silence that is heard again, on the ground, disarmed and not crashed,
        flies again (what it was flying has been re-planned already)."""
        state = dl.state
        if dl.drone.id not in self.lost_to_silence or state.stale or state.armed or state.crashed \
                or state.last_heartbeat is None or self.clock.now() - state.last_heartbeat > self.settings.stale_after_s:
            return False
        self.failed.discard(dl.drone.id)
        self.lost_to_silence.discard(dl.drone.id)
        self.rejoined.append(dl.drone.id)
        log.warning("%s is heard again, landed: back in the fleet", dl.drone.id)
        return True

    def _release(self, sortie: Sortie, drone_id: str, exc: MavlinkError, during: str) -> None:
        """Give a sortie this drone could not fly back to the pool: another drone tries it. A vehicle
        that said no has refused it; one that did not answer may try again, TIMEOUT_TRIES times."""
        tries = self._timeouts[(sortie.id, drone_id)] = self._timeouts[(sortie.id, drone_id)] + 1
        unanswered = isinstance(exc, ProtocolTimeout) or \
            getattr(exc, "result", None) == mavlink.MAV_MISSION_OPERATION_CANCELLED  # the vehicle gave up waiting
        if not unanswered or tries >= TIMEOUT_TRIES:
            self.refused[sortie.id][drone_id] = f"{during}: {exc}"
        self.pending.append(replace(sortie, drone_id=None))
        self._notify()

    def _fail_drone(self, drone_id: str) -> list[Sortie]:
        """Mark the drone failed; returns (and takes out of the queue) the sorties queued for it."""
        self.failed.add(drone_id)
        queued = [s for s in self.pending if s.drone_id == drone_id]
        self.pending = [s for s in self.pending if s.drone_id != drone_id]
        self._notify()
        return queued

    # ---- one sortie ------------------------------------------------------------------------
    async def _fly(self, dl: DroneLink, run: SortieRun) -> None:
        s = self.settings
        airborne = dl.state.armed  # handed over in the air by preempt(): hold position, re-task, go on
        try:
            if airborne:
                await commands.set_mode(dl.channel, dl.state.flavour, "GUIDED", timeout_s=s.timing.timeout_s)
            else:
                await self._wait_ready(dl, run.sortie)
        except MavlinkError as exc:
            run.to(SortieState.ABORTED, str(exc), self.clock.utc())
            self._release(run.sortie, dl.drone.id, exc, "ready")
            if airborne:
                return await self._home_after_abort(dl)
            queued = self._fail_drone(dl.drone.id)
            self.pending.extend(replace(q, drone_id=None) for q in queued)
            return
        run.to(SortieState.UPLOADING)
        try:
            items = await upload_verified(dl, run.sortie, s)
        except MavlinkError as exc:
            run.to(SortieState.ABORTED, f"upload: {exc}", self.clock.utc())
            self._release(run.sortie, dl.drone.id, exc, "upload")
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
            self._release(run.sortie, dl.drone.id, exc, "launch")
            if airborne:
                await self._home_after_abort(dl)
            return
        run.to(SortieState.LAUNCHED)
        run.offset = len(items) - len(run.sortie.items)
        await self._watch(dl, run)

    async def _wait_ready(self, dl: DroneLink, sortie: Sortie) -> None:
        """Heard from, and charged enough to fly this sortie as planned (the drone model's `Battery`)."""
        s, state = self.settings, dl.state
        need = dl.drone.spec.battery.launch_pct(sortie.duration_s)
        deadline = self.clock.now() + s.failed_after_s
        while state.last_heartbeat is None or state.stale:
            if self.clock.now() > deadline:
                raise MavlinkError(f"no heartbeat from {dl.drone.id} ({dl.drone.endpoint}, "
                                   f"system {dl.drone.system_id}) for {s.failed_after_s:.0f} s")
            await self.clock.sleep(1.0)
        deadline = self.clock.now() + s.charge_timeout_s
        while state.battery_pct is None or state.battery_pct < need:
            if self.clock.now() > deadline:
                raise MavlinkError(f"{dl.drone.id} battery {state.battery_pct}% never reached the {need:.0f}% "
                                   f"sortie {sortie.id} needs")
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
                self.lost_to_silence.add(dl.drone.id)
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
                await self._fetch_missing(dl, run)
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
                elif run.state == SortieState.SURVEYING and state.battery_pct is not None \
                        and state.battery_pct < (need := self._return_pct(dl)):
                    self._interrupt(dl, run, f"battery {state.battery_pct}% below return threshold "
                                             f"{need:.0f}% (the way home and the reserve)")
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

    def _return_pct(self, dl: DroneLink) -> float:
        """Charge the way home takes from where the drone is, plus the reserve (the drone model)."""
        state, spec = dl.state, dl.drone.spec
        home_s = 0.0
        if state.home is not None and state.lat is not None:
            lat0, lon0 = state.home[0], state.home[1]
            dy = (state.lat - lat0) * 111_320.0
            dx = (state.lon - lon0) * 111_320.0 * math.cos(math.radians(lat0))
            home_s = math.hypot(dx, dy) / spec.transit_speed_m_s + (state.alt_rel_m or 0.0) / spec.descent_rate_m_s
        return spec.battery.return_pct(home_s)

    async def _rtl(self, dl: DroneLink) -> None:
        wait = self.settings.timing.timeout_s
        try:
            await commands.return_to_launch(dl.channel, timeout_s=wait)
        except MavlinkError:
            try:
                await commands.set_mode(dl.channel, dl.state.flavour, "RTL", timeout_s=wait)
            except MavlinkError as exc:  # it flies on; its mission ends with RTL, its own failsafe with RTL too
                log.warning("%s did not take RTL: %s", dl.drone.id, exc)

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
        queued = self._fail_drone(dl.drone.id)
        self._hand_back(dl, run, why, queued)

    def _hand_back(self, dl: DroneLink, run: SortieRun, why: str, queued: list[Sortie] = ()) -> None:
        """Re-plan the unflown rest of `run` (and a failed drone's `queued` sorties) in a task."""
        last = self._capture_item.get(id(run))
        items = run.sortie.items
        same_leg = last is not None and leg_start(items, last[0]) == leg_start(items, run.last_item)
        resume_at = (last[1], last[2]) if same_leg else None
        stop = Stop(run.sortie, run.last_item, resume_at, why, self.clock.now(), frozenset(self.failed),
                    (run.sortie, *queued), frozenset(r.sortie.id for r in self.active.values() if r is not run),
                    self._progress())
        replan = Replan(run.sortie.id, dl.drone.id, why, run.last_item, [], stop.now_s)
        self.replans.append(replan)
        self._replanning += 1
        self._spawn(self._replan(stop, replan, dl.drone.id))

    async def _replan(self, stop: Stop, replan: Replan, drone_id: str) -> None:
        try:
            try:
                new = await self.replanner(stop)
            except Exception:  # a planner bug must not lose the coverage: fly the plain remainder
                log.exception("re-plan of %s failed; flying its plain remainder", stop.sortie.id)
                new = await remainder_replanner(stop)
            for sortie in new:
                self._handed_back_by[sortie.id] = drone_id
            replan.new_sorties = [x.id for x in new]
            replan.done_s = self.clock.now()
            self.pending.extend(new)
        finally:
            self._replanning -= 1
            self._notify()

    def _progress(self) -> dict[str, int]:
        """Last item reached of every sortie flown (or being flown) so far."""
        out: dict[str, int] = {}
        for r in self.runs:
            if r.launched:
                out[r.sortie.id] = max(out.get(r.sortie.id, -1), r.last_item)
        return out

    # ---- messages --------------------------------------------------------------------------
    def _on_message(self, dl: DroneLink, msg) -> None:
        kind = msg.get_type()
        self.heard_while_replanning += bool(self._replanning)
        if kind == "HEARTBEAT":
            now, before = self.clock.now(), self._heartbeat_at.get(dl.drone.id)
            if self._replanning and before is not None:
                self.heartbeat_gap_while_replanning_s = max(self.heartbeat_gap_while_replanning_s, now - before)
            self._heartbeat_at[dl.drone.id] = now
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
        top = self._image_top.get(dl.drone.id, -1)
        if seen and cap.seq > top + 1:
            self._request_missing(dl, range(top + 1, cap.seq))
        seen.add(cap.seq)
        self._image_top[dl.drone.id] = max(top, cap.seq)
        self.captures.append(cap)
        run.captures += 1
        if cap.seq > top:
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

    async def _fetch_missing(self, dl: DroneLink, run: SortieRun) -> None:
        """On landing, ask again for photos whose messages were lost: a gap, or a sortie's last ones
        (no later photo shows they are missing). A few rounds, then what came is what there is."""
        first = self._first_image.setdefault(id(run), 0)
        seen = self._seen_images[dl.drone.id]
        for _ in range(FETCH_ROUNDS):
            top = self._image_top.get(dl.drone.id, first - 1)
            planned = 0 if run.interrupted else run.sortie.photo_count
            missing = [i for i in range(first, max(top + 1, first + planned)) if i not in seen]
            if not missing:
                return
            self._request_missing(dl, missing)
            await self.clock.sleep(FETCH_WAIT_S)

    def _request_missing(self, dl: DroneLink, indices) -> None:
        """Photos fired during a link outage: ask the camera for their CAMERA_IMAGE_CAPTURED records."""
        ch = dl.channel
        for index in indices:
            ch.send(ch.mav.command_long_encode(ch.system_id, ch.component_id, mavlink.MAV_CMD_REQUEST_MESSAGE, 0,
                                               mavlink.MAVLINK_MSG_ID_CAMERA_IMAGE_CAPTURED, index, 0, 0, 0, 0, 0))


def _between_strips(run: SortieRun) -> bool:
    """No strip of the sortie is half photographed: the last item reached is outside every lane."""
    return not any(lane.start_item <= run.last_item < lane.end_item for lane in run.sortie.lanes)
