"""Fleet controller load: N simulated vehicles streaming 4 Hz telemetry into one controller process.

The vehicles run in a separate process (`python -m flight.sim`), so the CPU measured here is the
controller's alone: links, MAVLink parsing, telemetry state, GCS heartbeats, stream requests.
For each N: mission upload (100 items to every vehicle at once, read back and compared), then a
telemetry window of --seconds: CPU seconds per vehicle-minute, share of one core, and telemetry
lag (vehicle send → controller parsed, GLOBAL_POSITION_INT, both sides on CLOCK_MONOTONIC).
The baseline is the smallest N of the same run: the per-vehicle cost ratio shows how it scales.

`--sitl N` adds N real ArduCopter SITL vehicles (../shared/sitl) flown by one controller at once,
each a planned sortie over its own small zone, next to N simulated vehicles in the same run.
SITL stamps telemetry with its own boot clock only, so for both kinds the lag is also given as
"lag over floor": per vehicle, receive time minus boot stamp, less that vehicle's smallest value
(the queueing and parsing delay on top of the best case; for simulated vehicles the absolute lag
is known as well). CPU is this process's alone (SITL and simulated vehicles run in others).

    .venv/bin/python scripts/bench_fleet.py --sizes 10 50 100 --seconds 30 --json out/bench_fleet.json
    .venv/bin/python scripts/bench_fleet.py --sizes 4 --sitl 4 --json out/bench_fleet_sitl.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from detector.camera import CameraModel
from detector.geo import MetricFrame
from flight.assets import Dock, Drone, DroneSpec, PatrolZone
from flight.fleet.api import run_fleet
from flight.fleet.hub import LinkHub
from flight.fleet.sortie import FleetSettings, upload_verified
from flight.mavlink.clock import ScaledClock
from flight.mission import MissionItem, Sortie
from flight.planner import plan_patrol
from flight.sim.sitl import Home, start_vehicles, stop_vehicles
from flight.sim.survey import lawnmower_sortie, square_zone

ROOT = Path(__file__).resolve().parents[1]
CAMERA = CameraModel(13.2, 8.8, 8.8, 5472, 3648)
SPEC = DroneSpec(12, 5, 4, 30, 5)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def over_floor(samples: dict[int, list[float]]) -> list[float]:
    """Per vehicle, each (receive − boot stamp) less that vehicle's smallest: lag above the best case."""
    return [v - min(vals) for vals in samples.values() for v in vals]


def mission_100() -> Sortie:
    s = lawnmower_sortie("bench", square_zone(118.87, 28.95, 1200.0), CAMERA, 40.0)
    extra = [MissionItem(command=16, frame=6, lat=28.95 + i * 1e-5, lon=118.87, alt=40.0) for i in range(100)]
    s.items = (s.items[:-1] + extra)[:99] + s.items[-1:]
    return s


async def run_size(n: int, seconds: float) -> dict:
    clock = ScaledClock(1.0)
    drones = [Drone(f"sim-{i + 1:03d}", SPEC, CAMERA, endpoint="udpin:127.0.0.1:0", system_id=i + 1) for i in range(n)]
    hub = LinkHub(drones, clock)
    await hub.open()
    port = next(iter(hub.links.values())).local_port
    lags: list[float] = []
    offsets: dict[int, list[float]] = {}
    boots: dict[int, float] = {}

    def on_msg(dl, msg):
        if msg.get_type() == "GLOBAL_POSITION_INT" and boots:
            lags.append(time.monotonic() - (boots[dl.drone.system_id] + msg.time_boot_ms / 1000.0))
            offsets.setdefault(dl.drone.system_id, []).append(time.monotonic() - msg.time_boot_ms / 1000.0)

    hub.listeners.append(on_msg)
    proc = subprocess.Popen([sys.executable, "-m", "flight.sim", "--count", str(n), "--gcs-port", str(port),
                             "--ekf-ready", "1", "--tick", "0.05"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
        boots.update({int(k): v for k, v in json.loads(line)["boot_monotonic"].items()})
        while not all(dl.state.last_heartbeat for dl in hub.drones.values()):
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)  # streams requested and flowing
        sortie = mission_100()
        settings = FleetSettings()

        async def timed_upload(dl):
            t0 = time.perf_counter()
            await upload_verified(dl, sortie, settings)
            return time.perf_counter() - t0

        t0 = time.perf_counter()
        uploads = await asyncio.gather(*(timed_upload(dl) for dl in hub.drones.values()))
        upload_all_s = time.perf_counter() - t0
        lags.clear()
        offsets.clear()
        received0 = sum(c["messages_in"] for c in hub.counters().values())
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        received = sum(c["messages_in"] for c in hub.counters().values()) - received0
        positions = len(lags)
        stale = sum(dl.state.stale for dl in hub.drones.values())
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        hub.close()
    floor = over_floor(offsets)
    return {
        "kind": "sim",
        "vehicles": n,
        "window_s": round(wall, 2),
        "controller_cpu_s": round(cpu, 3),
        "controller_core_share": round(cpu / wall, 4),
        "cpu_s_per_vehicle_minute": round(cpu / (n * wall / 60.0), 5),
        "messages_per_s": round(received / wall, 1),
        "position_hz_per_vehicle": round(positions / wall / n, 2),
        "telemetry_lag_ms_p50": round(pct(lags, 0.5) * 1000, 2),
        "telemetry_lag_ms_p99": round(pct(lags, 0.99) * 1000, 2),
        "lag_over_floor_ms_p50": round(pct(floor, 0.5) * 1000, 2),
        "lag_over_floor_ms_p99": round(pct(floor, 0.99) * 1000, 2),
        "upload_items": len(sortie.items) + 1,
        "upload_verify_s_p50": round(statistics.median(uploads), 3),
        "upload_verify_s_max": round(max(uploads), 3),
        "upload_all_vehicles_s": round(upload_all_s, 3),
        "stale_vehicles": stale,
    }


SITL_LON, SITL_LAT, SITL_AMSL = 118.712939, 29.023102, 70.0
SITL_SPEC = DroneSpec(12, 5, 4, 30, 5, transit_speed_m_s=15)


async def fly_sitl(n: int, speedup: float, zone_m: float) -> dict:
    """N SITL vehicles, one dock each 300 m apart, each flying a planned sortie over its own zone."""
    frame = MetricFrame.around(SITL_LON, SITL_LAT)
    x0, y0 = (float(v) for v in frame.forward(SITL_LON, SITL_LAT))
    sites = [tuple(float(v) for v in frame.inverse(x0 + 300.0 * i, y0)) for i in range(n)]
    homes = [Home(lat, lon, SITL_AMSL) for lon, lat in sites]
    vehicles = start_vehicles(homes, [SITL_SPEC] * n, speedup=speedup)
    try:
        docks, zones = [], []
        for i, (v, (lon, lat)) in enumerate(zip(vehicles, sites)):
            drone = Drone(f"sitl-{i + 1}", SITL_SPEC, CAMERA, endpoint=v.endpoint, system_id=v.system_id)
            docks.append(Dock(f"d{i + 1}", lon, lat, SITL_AMSL, 30.0, (drone,)))
            zlon, zlat = frame.inverse(x0 + 300.0 * i, y0 + zone_m / 2 + 60.0)
            zones.append(PatrolZone(f"z{i + 1}", f"区 zone {i + 1}", square_zone(float(zlon), float(zlat), zone_m),
                                    altitude_agl_m=60.0, front_overlap=0.5, side_overlap=0.3))
        plan = plan_patrol(zones, [], docks)
        offsets: dict[int, list[float]] = {}
        airborne: dict[int, list[float]] = {}  # first and last armed position message, monotonic
        counts = {"messages": 0}

        def on_msg(dl, msg):
            counts["messages"] += 1
            if msg.get_type() == "GLOBAL_POSITION_INT" and dl.state.armed:
                now = time.monotonic()
                offsets.setdefault(dl.drone.system_id, []).append(now - msg.time_boot_ms / 1000.0 / speedup)
                airborne.setdefault(dl.drone.system_id, [now, now])[1] = now

        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = await run_fleet(plan, docks, clock=ScaledClock(speedup), settings=FleetSettings(),
                                 on_start=lambda c: c.hub.listeners.append(on_msg))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        stop_vehicles(vehicles)
    floor = over_floor(offsets)
    landed = sum(o.state == "landed" and not o.interrupted for o in result.outcomes)
    return {
        "kind": "sitl", "vehicles": n, "window_s": round(wall, 2), "controller_cpu_s": round(cpu, 3),
        "controller_core_share": round(cpu / wall, 4), "cpu_s_per_vehicle_minute": round(cpu / (n * wall / 60.0), 5),
        "messages_per_s": round(counts["messages"] / wall, 1),
        "position_hz_per_vehicle": round(statistics.median(len(offsets[k]) / max(b - a, 1e-9) / speedup
                                                           for k, (a, b) in airborne.items()), 2),
        "telemetry_lag_ms_p50": None, "telemetry_lag_ms_p99": None,
        "lag_over_floor_ms_p50": round(pct(floor, 0.5) * 1000, 2),
        "lag_over_floor_ms_p99": round(pct(floor, 0.99) * 1000, 2),
        "sitl_speedup": speedup, "sorties_landed": landed, "sorties": len(plan.sorties),
        "photos": len(result.captures), "photos_planned": sum(s.photo_count for s in plan.sorties),
        "failed_vehicles": len(result.failed_drones),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    ap.add_argument("--seconds", type=float, default=30.0, help="telemetry window per size")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--sitl", type=int, default=0, metavar="N",
                    help="also fly N real ArduCopter SITL vehicles (and N simulated ones, if not in --sizes)")
    ap.add_argument("--sitl-speedup", type=float, default=1.0, help="SITL --speedup (1: real time)")
    ap.add_argument("--sitl-zone", type=float, default=150.0, help="side of each SITL vehicle's zone, m")
    args = ap.parse_args()
    sizes = sorted(set(args.sizes) | ({args.sitl} if args.sitl else set()))
    rows = [asyncio.run(run_size(n, args.seconds)) for n in sizes]
    if args.sitl:
        rows.append(asyncio.run(fly_sitl(args.sitl, args.sitl_speedup, args.sitl_zone)))
    base = rows[0]["cpu_s_per_vehicle_minute"]
    for r in rows:
        r["cpu_per_vehicle_vs_smallest"] = round(r["cpu_s_per_vehicle_minute"] / base, 3) if base else None
    table = Table(title="fleet controller, one process (simulated vehicles / ArduCopter SITL in others)")
    cols = [("kind", "vehicles"), ("vehicles", "N"), ("controller_core_share", "core share"), ("cpu_s_per_vehicle_minute", "CPU s/veh·min"),
            ("cpu_per_vehicle_vs_smallest", f"vs N={rows[0]['vehicles']}"), ("messages_per_s", "msg/s"),
            ("position_hz_per_vehicle", "pos Hz/veh"), ("telemetry_lag_ms_p50", "lag p50 ms"),
            ("telemetry_lag_ms_p99", "lag p99 ms"), ("lag_over_floor_ms_p99", "lag over floor p99 ms"),
            ("upload_verify_s_p50", "upload+verify p50 s"), ("upload_all_vehicles_s", "all uploads s"),
            ("stale_vehicles", "stale")]
    for _, title in cols:
        table.add_column(title, justify="right")
    for r in rows:
        table.add_row(*(str(r.get(k, "")) if r.get(k) is not None else "-" for k, _ in cols))
    console = Console(width=170)
    console.print(table)
    sitl = next((r for r in rows if r["kind"] == "sitl"), None)
    if sitl is not None:
        sim = next(r for r in rows if r["kind"] == "sim" and r["vehicles"] == sitl["vehicles"])
        sitl["cpu_vs_sim_same_n"] = round(sitl["cpu_s_per_vehicle_minute"] / sim["cpu_s_per_vehicle_minute"], 3)
        console.print(f"SITL ×{sitl['vehicles']} at speed-up {sitl['sitl_speedup']:g}: controller CPU per vehicle-minute "
                      f"{sitl['cpu_vs_sim_same_n']}× the simulated vehicles'; lag over floor p99 "
                      f"{sitl['lag_over_floor_ms_p99']} ms (simulated: {sim['lag_over_floor_ms_p99']} ms); "
                      f"{sitl['sorties_landed']}/{sitl['sorties']} sorties landed complete, "
                      f"{sitl['photos']}/{sitl['photos_planned']} photos, {sitl['failed_vehicles']} vehicles failed")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"sizes": rows}, indent=1))


if __name__ == "__main__":
    main()
