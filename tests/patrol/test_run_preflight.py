"""`patrol run` checks before it flies: dispatch up and taking the token, drones answering. Each
failure is a clear message and exit 2 within a bounded wait, never a silent hang."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dispatch.app import create_app
from dispatch.credentials import Credentials
from dispatch.server import BackgroundServer
from dispatch.settings import Settings
from flight.mavlink.clock import ScaledClock
from flight.mavlink.signing import Signing
from flight.sim.swarm import SimSetup, sim_config
from flight.sim.vehicle import SimVehicle
from patrol.cli import app
from patrol.pipeline.preflight import call_roll
from tests.conftest import QUZHOU, ROOT


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def city_file(tmp_path: Path, dispatch_url: str) -> Path:
    """Quzhou with dispatch at `dispatch_url` and every drone on a port where nothing answers."""
    for p in (ROOT / "configs").iterdir():  # the config's relative paths resolve as in configs/
        (tmp_path / p.name).symlink_to(p)
    data = yaml.safe_load(QUZHOU.read_text(encoding="utf-8"))
    port = free_udp_port()
    for n, drone in enumerate(d for dock in data["docks"] for d in dock["drones"]):
        drone["endpoint"], drone["system_id"] = f"udpin:127.0.0.1:{port}", n + 1
    data.setdefault("operations", {})["dispatch_url"] = dispatch_url
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def dispatch(tmp_path, quzhou_city):
    creds = Credentials.generate([d.id for d in quzhou_city.departments])
    settings = Settings(departments=quzhou_city.departments, taxonomy=quzhou_city.taxonomy, credentials=creds,
                        database_url=f"sqlite:///{tmp_path / 'dispatch.db'}", start_worker=False)
    with BackgroundServer(create_app(settings)) as server:
        yield server.url, creds.ingest_token


def run(config: Path, token: str, *extra: str):
    return CliRunner().invoke(app, ["run", str(config), "--ingest-token", token, "--drone-wait", "1", *extra])


def test_dispatch_down_is_said_at_once(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    out = run(city_file(tmp_path, f"http://127.0.0.1:{closed}"), "ing_x")
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "cannot be reached" in out.output and "patrol serve" in out.output


def test_a_refused_ingest_token_is_said_before_flying(tmp_path, dispatch):
    url, _ = dispatch
    out = run(city_file(tmp_path, url), "ing_not-the-token")
    assert out.exit_code == 2 and "refuses the ingest token" in out.output


def test_no_drone_answering_is_an_error_within_the_wait(tmp_path, dispatch):
    url, token = dispatch
    out = run(city_file(tmp_path, url), token)
    assert out.exit_code == 2, out.output
    assert "ingest token accepted" in out.output and "no drone answered within 1 s" in out.output
    assert "uav-01 (udpin:127.0.0.1:" in out.output


def test_roll_call_hears_a_simulated_drone_and_names_the_silent_one(quzhou_city):
    dock = quzhou_city.docks[0]
    port = free_udp_port()
    talking = replace(dock.drones[0], endpoint=f"udpin:127.0.0.1:{port}", system_id=1)
    silent = replace(dock.drones[0], id="uav-silent", endpoint=f"udpin:127.0.0.1:{port}", system_id=2)

    async def scenario():
        sim = SimVehicle(sim_config(talking, dock, SimSetup(speed=1.0), port), ScaledClock(1.0))
        await sim.start()
        try:
            return await call_roll([talking, silent], wait_s=5.0)
        finally:
            await sim.stop()

    roll = asyncio.run(scenario())
    assert roll.heard == [talking.id] and roll.silent == ["uav-silent"]


def test_roll_call_says_when_a_drone_signs_with_another_key(quzhou_city):
    dock = quzhou_city.docks[0]
    port = free_udp_port()
    ours = replace(dock.drones[0], endpoint=f"udpin:127.0.0.1:{port}", system_id=1, signing=Signing(bytes(32)))
    vehicle = replace(ours, signing=Signing(b"\x01" * 32))

    async def scenario():
        sim = SimVehicle(sim_config(vehicle, dock, SimSetup(speed=1.0), port), ScaledClock(1.0))
        await sim.start()
        try:
            return await call_roll([ours], wait_s=2.0)
        finally:
            await sim.stop()

    roll = asyncio.run(scenario())
    assert roll.heard == [] and roll.silent == [ours.id]
    assert "failed MAVLink signature verification" in roll.why_silent[ours.id]
