"""A task the service will not take, naming the field and the value (the API answers 422)."""

from __future__ import annotations


class TaskRejected(ValueError):
    def __init__(self, field: str, value, problem: str, status: int = 422) -> None:
        self.field, self.value, self.problem, self.status = field, value, problem, status
        super().__init__(f"{field} = {value!r}: {problem}")

    def detail(self) -> list[dict]:
        """FastAPI's own 422 shape, so clients read one error format."""
        return [{"loc": ["body", *self.field.split(".")], "msg": self.problem, "type": "value_error",
                 "input": self.value if isinstance(self.value, (str, int, float, dict, list, type(None))) else str(self.value)}]
