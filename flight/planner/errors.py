"""Planning errors that name the zone or dock, the field and the bad value."""

from __future__ import annotations

from typing import Any


class PlanningError(ValueError):
    """Input the planner cannot turn into a flyable plan; says what, where and what would do."""

    def __init__(self, where: str, field: str, value: Any, problem: str, expected: str | None = None):
        self.where, self.field, self.value, self.problem, self.expected = where, field, value, problem, expected
        text = f"{where}: {field} = {value!r}: {problem}"
        if expected:
            text += f"; expected {expected}"
        super().__init__(text)
