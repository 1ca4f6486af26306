"""City coverage planning: zones → sorties → drones, with exports and re-planning from partial state."""

from flight.planner.errors import PlanningError
from flight.planner.plan import DockInfo, DroneInfo, Plan, ZoneReport
from flight.planner.planner import plan_patrol
from flight.planner.replan import replan
from flight.planner.survey import LEGAL_MAX_AGL_M, Survey, survey_for

__all__ = ["DockInfo", "DroneInfo", "LEGAL_MAX_AGL_M", "Plan", "PlanningError", "Survey", "ZoneReport",
           "plan_patrol", "replan", "survey_for"]
