"""Re-planning through flight.planner, off the event loop that carries every link.

`PlanReplanner(plan)` plugs `flight.planner.replan` into the controller's replanner slot. The
planner is CPU-bound (half a minute for a city-sized plan), so it runs in a one-process pool:
heartbeats, telemetry and the other drones' missions go on while it works, and re-plans run one
after another, each on the revision the last one made. When the planner cannot help (e.g. it
finds no dock in reach), the plain remainder is flown instead and the reason kept in `notes`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from flight.fleet.recovery import Stop, remainder_replanner
from flight.mission import Sortie
from flight.planner import Plan, PlanningError, replan


class PlanReplanner:
    def __init__(self, plan: Plan, workers: int = 1) -> None:
        self.plan = plan
        self.notes: list[str] = []
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._turn = asyncio.Lock()

    async def __call__(self, stop: Stop) -> list[Sortie]:
        async with self._turn:
            return await self._replan(stop)

    async def _replan(self, stop: Stop) -> list[Sortie]:
        ids = {s.id for s in self.plan.sorties}
        if stop.sortie.id not in ids:
            self.notes.append(f"{stop.sortie.id}: not in plan revision {self.plan.revision}; flying its plain remainder")
            return await remainder_replanner(stop)
        # The stopped sortie is re-planned from where it stopped, a failed drone's queue whole; sorties
        # flown to the end are done. Everything else in the revision is flown as it is: queued, in the
        # air, or stopped too and waiting its own turn here (re-plans since `stop` was taken included).
        handed = {s.id for s in stop.handed}
        last = {s.id: len(s.items) - 1 for s in self.plan.sorties}
        done = {k: v for k, v in stop.progress.items() if k in ids and v >= last[k] and k not in stop.flying}
        progress = {**done, stop.sortie.id: stop.last_item}
        keep = ids - handed - set(done)
        try:
            new_plan = await asyncio.get_running_loop().run_in_executor(
                self._executor(), replan, self.plan, progress, sorted(stop.failed), stop.now_s, sorted(keep))
        except PlanningError as exc:
            self.notes.append(f"{stop.sortie.id}: planner could not re-plan ({exc}); flying its plain remainder")
            return await remainder_replanner(stop)
        self.plan = new_plan
        # the controller picks whichever drone is free first
        return [replace(s, drone_id=None, start_s=None, replan_reason=stop.reason if s.replaces else "")
                for s in new_plan.sorties if s.id not in keep]

    def warm(self) -> None:
        """Start the worker now (it imports the planner: seconds), not when the first drone stops."""
        self._executor().submit(_ready)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:  # spawn: the fleet process has sockets and threads a fork would copy
            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _ready() -> None:
    """Runs in the worker once: unpickling it imported this module, and with it the planner."""
