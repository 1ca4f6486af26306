"""Real ArduCopter SITL vehicles for tests and benchmarks: start N, point drones at them, clean up.

Each vehicle runs ArduPilot's own `arducopter` SITL build (../shared/sitl, or $PATROL_SITL_BIN)
in its own scratch directory (it writes eeprom.bin and logs there), with its own instance number
`-I` (TCP 5760 + 10·I), a system id set by parameter file, and speed parameters taken from the
drone model so flight times match the plan. ArduCopter 4.7+ names: WP_SPD, WP_SPD_UP, WP_SPD_DN
(m/s), RTL_SPEED_MS, MAV_SYSID; the older WPNAV_SPEED / SYSID_THISMAV are silently ignored.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from flight.assets import DroneSpec

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO.parent / "shared" / "sitl"
BASE_PORT = 5760
# ArduCopter's stand-in airframe tops out near 10 m/s at the default 30° lean (ATC_ANGLE_MAX).
DEFAULT_TOP_SPEED_M_S = 10.0
FAST_ANGLE_MAX_DEG = 45.0
# Accelerations of a dock quadcopter (m/s², horizontal and vertical), above ArduCopter's defaults
# of 2.5 and 1: the drone model's climb rate and turn time assume it gets up to speed quickly.
DOCK_DRONE_ACCEL = {"WP_ACC": 5.0, "WP_ACC_Z": 2.5}


class SitlMissing(RuntimeError):
    """No SITL binary where we looked; the message says where and how to provide one."""


def sitl_dir() -> Path:
    """Folder with `arducopter` and its parameter files: $PATROL_SITL_DIR or ../shared/sitl."""
    return Path(os.environ.get("PATROL_SITL_DIR", DEFAULT_DIR))


def sitl_binary() -> Path:
    path = Path(os.environ.get("PATROL_SITL_BIN", sitl_dir() / "arducopter"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise SitlMissing(f"ArduCopter SITL binary not found at {path}: build it from ArduPilot "
                          f"(./waf configure --board sitl && ./waf copter) and set PATROL_SITL_BIN")
    return path


def spec_params(spec: DroneSpec) -> dict[str, float]:
    """ArduCopter parameters that make the vehicle fly at the drone model's speeds (m/s).

    A dock lands straight away: no loiter over home before the landing (RTL_LOIT_TIME, 5 s by
    default), descent at the model's rate down to the last metres, the touch-down at most 2 m/s.
    """
    top = max(spec.cruise_speed_m_s, spec.transit_speed_m_s or spec.cruise_speed_m_s)
    params = {"WP_SPD": top, "WP_SPD_UP": spec.climb_rate_m_s, "WP_SPD_DN": spec.descent_rate_m_s,
              "RTL_SPEED_MS": top, "LAND_SPD_HIGH_MS": spec.descent_rate_m_s,
              "LAND_SPD_MS": min(spec.descent_rate_m_s, 2.0), "RTL_LOIT_TIME": 0, **DOCK_DRONE_ACCEL}
    if top > DEFAULT_TOP_SPEED_M_S:
        params["ATC_ANGLE_MAX"] = FAST_ANGLE_MAX_DEG
    return params


@dataclass(frozen=True)
class Home:
    lat: float
    lon: float
    alt_amsl_m: float
    heading_deg: float = 0.0

    def arg(self) -> str:
        return f"{self.lat:.7f},{self.lon:.7f},{self.alt_amsl_m:.2f},{self.heading_deg:.0f}"


@dataclass
class SitlVehicle:
    """One running SITL process; `endpoint` is what a Drone entry points at."""

    instance: int
    system_id: int
    home: Home
    workdir: Path
    process: subprocess.Popen
    params: dict[str, float] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return BASE_PORT + 10 * self.instance

    @property
    def endpoint(self) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        path = self.workdir / "sitl.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _ports_free(instance: int) -> bool:
    for offset in (0, 2, 3):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("0.0.0.0", BASE_PORT + 10 * instance + offset))
            except OSError:
                return False
    return True


def free_instances(count: int, start: int = 0, limit: int = 200) -> list[int]:
    """`count` instance numbers whose three TCP ports are free now."""
    found = [i for i in range(start, limit) if _ports_free(i)][:count]
    if len(found) < count:
        raise RuntimeError(f"only {len(found)} free SITL instance numbers in {start}..{limit - 1}, {count} needed")
    return found


def _write_parm(path: Path, params: dict[str, float]) -> None:
    path.write_text("".join(f"{name} {value:g}\n" for name, value in sorted(params.items())))


def start_vehicles(homes: list[Home], specs: list[DroneSpec] | None = None, speedup: float = 10.0,
                   system_ids: list[int] | None = None, extra_params: list[dict[str, float]] | None = None,
                   ready_timeout_s: float = 30.0) -> list[SitlVehicle]:
    """Start one SITL vehicle per home and wait until each listens on its TCP port.

    `system_ids` default to 1..N; `extra_params[i]` (battery, failsafes...) override the rest.
    Stop them with `stop_vehicles`, also on failure (this function cleans up what it started).
    """
    binary, folder = sitl_binary(), sitl_dir()
    system_ids = system_ids or list(range(1, len(homes) + 1))
    if len(system_ids) != len(homes):
        raise ValueError(f"system_ids has {len(system_ids)} entries for {len(homes)} homes")
    defaults = [folder / "copter.parm", folder / "dock-drone.parm"]
    missing = [str(p) for p in defaults if not p.is_file()]
    if missing:
        raise SitlMissing(f"SITL parameter files missing: {', '.join(missing)}")
    started: list[SitlVehicle] = []
    try:
        for i, (home, instance) in enumerate(zip(homes, free_instances(len(homes)))):
            params = {"MAV_SYSID": float(system_ids[i])}
            if specs is not None:
                params.update(spec_params(specs[i]))
            if extra_params is not None:
                params.update(extra_params[i])
            workdir = Path(tempfile.mkdtemp(prefix=f"patrol-sitl-{instance}-"))
            _write_parm(workdir / "patrol.parm", params)
            cmd = [str(binary), "--model", "+", "--speedup", f"{speedup:g}", "--wipe",
                   "--defaults", ",".join(str(p) for p in defaults + [workdir / "patrol.parm"]),
                   f"-I{instance}", "--home", home.arg(), "--serial0", "tcp:0"]
            with open(workdir / "sitl.log", "wb") as log:
                proc = subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
            started.append(SitlVehicle(instance, system_ids[i], home, workdir, proc, params))
        for v in started:
            _wait_listening(v, ready_timeout_s)
    except BaseException:
        stop_vehicles(started)
        raise
    return started


def _wait_listening(v: SitlVehicle, timeout_s: float) -> None:
    """Wait for SITL's own "SERIAL0 on TCP port" line (a probe connection would take the port's one client)."""
    deadline = time.monotonic() + timeout_s
    marker = f"SERIAL0 on TCP port {v.port}"
    while time.monotonic() < deadline:
        if v.process.poll() is not None:
            raise RuntimeError(f"SITL instance {v.instance} exited with {v.process.returncode}:\n{v.log_tail()}")
        if marker in v.log_tail(40):
            return
        time.sleep(0.2)
    raise RuntimeError(f"SITL instance {v.instance} not listening on {v.port} after {timeout_s:.0f} s:\n{v.log_tail()}")


def stop_vehicles(vehicles: list[SitlVehicle], timeout_s: float = 5.0) -> None:
    """Terminate every process (kill if it lingers) and remove its scratch directory."""
    for v in vehicles:
        if v.process.poll() is None:
            v.process.terminate()
    for v in vehicles:
        try:
            v.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            v.process.kill()
            v.process.wait(timeout=timeout_s)
        shutil.rmtree(v.workdir, ignore_errors=True)
