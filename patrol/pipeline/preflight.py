"""Before `patrol run` flies: is dispatch there and does it take our token, and which drones answer?
Each check is bounded in time and says plainly what is wrong, so a patrol never starts into silence."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

from flight.assets import Drone
from flight.fleet.hub import LinkHub
from flight.mavlink.clock import ScaledClock


class PreflightError(Exception):
    """A check failed; the message says what and how to fix it."""


def check_dispatch(url: str, ingest_token: str, timeout_s: float = 5.0) -> None:
    """GET /healthz, then an empty batch with the token: dispatch checks the token before the body,
    so 422 (empty batch refused, nothing stored) means the token may post and 401 means it may not."""
    try:
        with httpx.Client(base_url=url, timeout=timeout_s) as client:
            health = client.get("/healthz")
            if health.status_code != 200:
                raise PreflightError(f"dispatch at {url}: /healthz answered {health.status_code}; is it `patrol serve`?")
            probe = client.post("/v1/sightings", json=[], headers={"Authorization": f"Bearer {ingest_token}"})
    except httpx.HTTPError as exc:
        raise PreflightError(f"dispatch at {url} cannot be reached ({type(exc).__name__}: {exc}); start it with "
                             "`patrol serve` or fix operations.dispatch_url") from None
    if probe.status_code == 401:
        raise PreflightError(f"dispatch at {url} refuses the ingest token (401); use the ingest token `patrol serve` "
                             "showed when it made its credentials (PATROL_INGEST_TOKEN)")
    if probe.status_code != 422:
        raise PreflightError(f"dispatch at {url}: POST /v1/sightings answered {probe.status_code}, not a dispatch service?")


@dataclass(frozen=True)
class Roll:
    """Who answered the roll call within the wait."""

    heard: list[str]
    silent: list[str]
    why_silent: dict[str, str] = field(default_factory=dict)  # drone id → what its link saw instead


async def call_roll(drones: list[Drone], wait_s: float, on_heard: Callable[[str], None] = lambda _: None) -> Roll:
    """Open every drone's link and wait (at most `wait_s`) for a heartbeat from each; then close them."""
    hub = LinkHub(drones, ScaledClock(1.0))
    try:
        await hub.open()
    except (OSError, ValueError) as exc:
        raise PreflightError(f"drone links: {exc}") from None
    heard: list[str] = []
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline and len(heard) < len(drones):
            for drone_id, dl in hub.drones.items():
                if drone_id not in heard and dl.state.last_heartbeat is not None:
                    heard.append(drone_id)
                    on_heard(drone_id)
            await asyncio.sleep(0.1)
        silent = [d.id for d in drones if d.id not in heard]
        reasons = {drone_id: hub.silence_reason(drone_id) for drone_id in silent}
    finally:
        hub.close()
    return Roll(heard, silent, {drone_id: why for drone_id, why in reasons.items() if why})
