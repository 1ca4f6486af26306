"""Departments as the router sees them: who they are, where they rule, what they handle."""

from __future__ import annotations

from dataclasses import dataclass, replace

from shapely.geometry import MultiPolygon, Polygon


@dataclass(frozen=True)
class Department:
    """A receiving department. `jurisdiction` is lon/lat; None only for the city catch-all."""

    id: str
    name: str
    name_en: str
    kind: str
    handles: tuple[str, ...]
    webhook_url: str | None
    jurisdiction: Polygon | MultiPolygon | None
    jurisdiction_name: str
    catch_all: bool = False


def with_webhook_base(departments: tuple[Department, ...], base_url: str) -> tuple[Department, ...]:
    """The same departments with webhooks at {base_url}/hooks/{id} (e.g. a local WebhookReceiver)."""
    return tuple(replace(d, webhook_url=f"{base_url.rstrip('/')}/hooks/{d.id}") for d in departments)
