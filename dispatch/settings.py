"""Everything the dispatch service needs to run, in one object (the city config is read by the caller)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import yaml
from pydantic import BaseModel, ConfigDict

from dispatch.credentials import Credentials
from dispatch.departments import Department
from dispatch.taxonomy import Taxonomy
from dispatch.units import IncidentWindow

WINDOWS_FILE = Path(__file__).with_name("incident_windows.yaml")


class IncidentWindows(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: IncidentWindow
    types: dict[str, IncidentWindow] = {}

    def of(self, code: str) -> IncidentWindow:
        return self.types.get(code, self.default)

    @classmethod
    def load(cls, path: Path = WINDOWS_FILE) -> "IncidentWindows":
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class RetryPolicy:
    """Webhook retries: exponential backoff with full jitter, capped; then the dead-letter state."""

    base_s: float = 2.0
    cap_s: float = 600.0
    max_attempts: int = 15
    max_retry_after_s: float = 3600.0
    timeout_s: float = 10.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Settings:
    departments: tuple[Department, ...]
    taxonomy: Taxonomy
    credentials: Credentials
    database_url: str = "sqlite:///out/dispatch/dispatch.db"
    city_name: str = "衢州市 Quzhou"
    windows: IncidentWindows = field(default_factory=IncidentWindows.load)
    retry: RetryPolicy = RetryPolicy()
    public_url: str = "http://127.0.0.1:8600"
    max_body_bytes: int = 8 * 1024 * 1024
    max_batch: int = 1000
    max_evidence_bytes: int = 2 * 1024 * 1024
    future_skew_s: float = 120.0
    extent_margin_deg: float = 2.0  # sightings this far beyond the jurisdictions' box are refused
    delivery_threads: int = 8
    seed: int = 0
    clock: Callable[[], datetime] = utc_now
    start_worker: bool = True
