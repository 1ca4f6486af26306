"""The violation taxonomy: what can be reported, in Chinese and English, and who handles it.

One file (configs/taxonomy.yaml) is the single source; the detector's model card, the city
config and the dispatch router all check their type codes against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["low", "medium", "high", "critical"]


class DepartmentKind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str
    en: str


class StandardCode(BaseModel):
    """Where GB/T 30428.2 (urban-management events) classifies the event: category, and code if known."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    standard: str = "GB/T 30428.2"
    category: str
    code: str | None = None


class ViolationType(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    zh: str
    en: str
    severity: Severity
    handled_by: tuple[str, ...] = Field(min_length=1, description="department kinds, in order of preference")
    standard: StandardCode | None = None

    @property
    def label(self) -> str:
        return f"{self.zh} ({self.en})"


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    department_kinds: tuple[DepartmentKind, ...]
    types: tuple[ViolationType, ...]

    @model_validator(mode="after")
    def _consistent(self) -> "Taxonomy":
        kinds = {k.zh for k in self.department_kinds}
        seen: set[str] = set()
        for i, t in enumerate(self.types):
            if t.code in seen:
                raise ValueError(f"types[{i}].code: duplicate type code {t.code!r}")
            seen.add(t.code)
            for kind in t.handled_by:
                if kind not in kinds:
                    raise ValueError(
                        f"types[{i}].handled_by: unknown department kind {kind!r}; known: {sorted(kinds)}"
                    )
        return self

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(t.code for t in self.types)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(k.zh for k in self.department_kinds)

    def type(self, code: str) -> ViolationType:
        for t in self.types:
            if t.code == code:
                return t
        raise KeyError(f"unknown violation type {code!r}; known: {sorted(self.codes)}")

    def kind_en(self, zh: str) -> str:
        return next(k.en for k in self.department_kinds if k.zh == zh)

    @classmethod
    def load(cls, path: str | Path) -> "Taxonomy":
        return cls.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
