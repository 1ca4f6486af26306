"""Config errors that say where (file and field path), what (the bad value) and what would do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable


def field_path(loc: Iterable[Any]) -> str:
    """('docks', 3, 'position') → 'docks[3].position'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class ConfigIssue:
    file: Path
    path: str
    problem: str
    value: Any = None
    expected: str | None = None

    def __str__(self) -> str:
        text = f"{self.file}: {self.path}: {self.problem}"
        if self.value is not None:
            text += f" (got {short(self.value)})"
        if self.expected:
            text += f"; expected {self.expected}"
        return text


class ConfigError(ValueError):
    """All problems found in one config, so an operator fixes them in one pass."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))
