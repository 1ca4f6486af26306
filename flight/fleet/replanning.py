"""Re-planning through flight.planner: an interrupted sortie's unflown strips become new sorties.

`PlanReplanner(plan, clock)` plugs `flight.planner.replan` into the controller's replanner slot.
It keeps the current plan revision, so a re-planned sortie that is itself interrupted can be
re-planned again. When the planner cannot help (e.g. it finds no dock in reach), the plain
remainder of the sortie is handed back instead, and the reason is kept in `notes`.
"""

from __future__ import annotations

from flight.fleet.recovery import remainder_sortie
from flight.mavlink.clock import Clock
from flight.mission import Sortie
from flight.planner import Plan, PlanningError, replan


class PlanReplanner:
    def __init__(self, plan: Plan, clock: Clock, failed_drones: set[str] | None = None) -> None:
        self.plan = plan
        self.clock = clock
        self.start_s = clock.now()
        self.failed_drones = failed_drones if failed_drones is not None else set()
        self.notes: list[str] = []

    def __call__(self, sortie: Sortie, last_item: int, resume_at, reason: str) -> list[Sortie]:
        if sortie.id not in {s.id for s in self.plan.sorties}:
            self.notes.append(f"{sortie.id}: not in plan revision {self.plan.revision}; flying its plain remainder")
            return remainder_sortie(sortie, last_item, resume_at, reason)
        try:
            new_plan = replan(self.plan, {sortie.id: last_item}, self.failed_drones, self.clock.now() - self.start_s)
        except PlanningError as exc:
            self.notes.append(f"{sortie.id}: planner could not re-plan ({exc}); flying its plain remainder")
            return remainder_sortie(sortie, last_item, resume_at, reason)
        self.plan = new_plan
        fresh = [s for s in new_plan.sorties if s.meta.get("replaces") == sortie.id]
        for s in fresh:
            s.drone_id, s.start_s = None, None  # the controller picks whichever drone is free first
            s.meta["reason"] = reason
        return fresh
