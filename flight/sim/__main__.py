"""Run simulated vehicles as their own process: `python -m flight.sim --count N --gcs-port P`.

Vehicle i (0-based) sits `--spacing` metres east of the previous one and sends to
127.0.0.1:P with system id i+1 (`--port-step 0`, one shared port), or to P + i·step with system
id 1 (`--port-step 10`: the layout of configs/quzhou.yaml, 14550, 14560, ...). Prints one JSON
line {"ready": true, "boot_monotonic": {sysid: t}} once all are up, then runs until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from detector.geo import MetricFrame
from flight.mavlink.clock import ScaledClock
from flight.mavlink.signing import Signing, SigningError, key_from_file
from flight.sim.vehicle import SimConfig, SimVehicle


def configs(args) -> list[SimConfig]:
    frame = MetricFrame.around(args.lon, args.lat)
    x0, y0 = (float(v) for v in frame.forward(args.lon, args.lat))
    out = []
    for i in range(args.count):
        lon, lat = frame.inverse(x0 + i * args.spacing, y0)
        port = args.gcs_port + i * args.port_step
        out.append(SimConfig(system_id=1 if args.port_step else i + 1, lat=float(lat), lon=float(lon),
                             alt_amsl=args.alt, gcs_port=port, ekf_ready_s=args.ekf_ready, tick_s=args.tick,
                             signing=args.signing))
    return out


async def main(args) -> None:
    clock = ScaledClock(args.speed)
    sims = [SimVehicle(cfg, clock) for cfg in configs(args)]
    for sim in sims:
        await sim.start()
    boots = {sim.cfg.system_id if not args.port_step else sim.cfg.gcs_port: clock.monotonic_at(sim.booted_at)
             for sim in sims}
    print(json.dumps({"ready": True, "boot_monotonic": boots}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    for sim in sims:
        await sim.stop()


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m flight.sim", description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--gcs-port", type=int, default=14550)
    p.add_argument("--port-step", type=int, default=0)
    p.add_argument("--lat", type=float, default=28.95)
    p.add_argument("--lon", type=float, default=118.87)
    p.add_argument("--alt", type=float, default=70.0, help="ground altitude AMSL, m")
    p.add_argument("--spacing", type=float, default=30.0)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--ekf-ready", type=float, default=40.0)
    p.add_argument("--tick", type=float, default=0.02, help="real seconds between physics steps")
    p.add_argument("--key-file", type=Path, help="sign with this key (64 hex digits) and drop unsigned packets")
    args = p.parse_args(argv)
    try:
        args.signing = Signing(key_from_file(args.key_file)) if args.key_file else None
    except SigningError as exc:
        p.error(f"--key-file: {exc}")
    if not 1 <= args.count <= (250 if not args.port_step else 10000):
        p.error(f"--count {args.count}: 1..250 vehicles share one port (system ids 1..250)")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
