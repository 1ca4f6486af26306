"""A simulated ArduCopter on a UDP socket: heartbeats, requested streams, commands, failsafes.

Like SITL with `--out udp:HOST:PORT`, it sends to the controller's listening port and answers
whoever talks to it. Before any SET_MESSAGE_INTERVAL / REQUEST_DATA_STREAM it sends only
HEARTBEAT, STATUSTEXT and HOME_POSITION. Arming fails ("PreArm: Need Position Estimate") until
the EKF is ready `ekf_ready_s` after boot; the PREARM_CHECK health bit in SYS_STATUS says when.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass, field

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mavlink.clock import Clock
from flight.mavlink.codec import Codec, addressed_elsewhere
from flight.mavlink.flavours import ARDUCOPTER_MODES, ARDUPILOT
from flight.mavlink.signing import Signing
from flight.sim.battery import Battery
from flight.sim.copter import ARMABLE_MODES, Copter, Performance
from flight.sim.faults import Faults
from flight.sim.mission_server import MissionServer

SENSORS = (mavlink.MAV_SYS_STATUS_SENSOR_3D_GYRO | mavlink.MAV_SYS_STATUS_SENSOR_3D_ACCEL
           | mavlink.MAV_SYS_STATUS_SENSOR_3D_MAG | mavlink.MAV_SYS_STATUS_SENSOR_GPS
           | mavlink.MAV_SYS_STATUS_SENSOR_BATTERY)
# Legacy REQUEST_DATA_STREAM groups → the messages each turns on.
DATA_STREAMS = {
    mavlink.MAV_DATA_STREAM_ALL: (1, 24, 33, 42, 147, 245, 30),
    mavlink.MAV_DATA_STREAM_EXTENDED_STATUS: (1, 24, 42, 147, 245),
    mavlink.MAV_DATA_STREAM_POSITION: (33,),
    mavlink.MAV_DATA_STREAM_EXTRA1: (30,),
}
STREAMABLE = {1, 24, 30, 33, 42, 147, 245}


@dataclass
class SimConfig:
    """One vehicle's set-up. Times are vehicle seconds; `faults` times count from arming."""

    system_id: int
    lat: float
    lon: float
    alt_amsl: float
    gcs_host: str = "127.0.0.1"
    gcs_port: int = 14550
    ekf_ready_s: float = 40.0
    endurance_s: float = 38 * 60.0
    initial_soc: float = 1.0
    charge_s: float = 32 * 60.0  # dock charger, empty to full
    batt_low_pct: float = 20.0  # BATT_LOW_VOLT expressed as remaining %; BATT_FS_LOW_ACT=2 (RTL)
    batt_low_timer_s: float = 10.0
    gcs_failsafe_s: float | None = None  # FS_GCS_ENABLE with FS_GCS_TIMEOUT; None = disabled
    perf: Performance = field(default_factory=Performance)
    faults: Faults = field(default_factory=Faults)
    tick_s: float = 0.02  # real seconds between physics steps
    signing: Signing | None = None  # as ArduPilot with a key: signs, drops what fails verification


class SimVehicle:
    def __init__(self, cfg: SimConfig, clock: Clock) -> None:
        self.cfg = cfg
        self.clock = clock
        self.codec = Codec(cfg.system_id, 1, signing=cfg.signing)
        self.copter = Copter(cfg.lat, cfg.lon, cfg.alt_amsl,
                             Battery(endurance_s=cfg.endurance_s, soc=cfg.initial_soc), cfg.perf, cfg.charge_s)
        self.missions = MissionServer(self.copter, self.codec.mav, self._send)
        self._rng = random.Random(cfg.faults.seed * 1000 + cfg.system_id)
        self._streams: dict[int, list[float]] = {}  # msg id → [interval_s, next_due]
        self._transport: asyncio.DatagramTransport | None = None
        self._peer: tuple = (cfg.gcs_host, cfg.gcs_port)
        self._boot = 0.0
        self._last = 0.0
        self._next_heartbeat = 0.0
        self._home_sent = False
        self._low_since: float | None = None
        self._batt_failsafe = False
        self._gcs_failsafe = False
        self._last_gcs_hb: float | None = None
        self._sag_done = False
        self._silent = False
        self._task: asyncio.Task | None = None
        self.dropped_out = 0
        self.dropped_in = 0

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=("127.0.0.1", 0))
        self._boot = self._last = self.clock.now()
        self._send(self.codec.mav.statustext_encode(mavlink.MAV_SEVERITY_INFO, b"ArduCopter V4.7.0 (patrol sim)"))
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._transport is not None:
            self._transport.close()

    @property
    def port(self) -> int:
        return self._transport.get_extra_info("sockname")[1]

    @property
    def booted_at(self) -> float:
        """Clock reading at boot; time_boot_ms in telemetry counts from here."""
        return self._boot

    @property
    def boot_s(self) -> float:
        return self.clock.now() - self._boot

    @property
    def ekf_ready(self) -> bool:
        return self.boot_s >= self.cfg.ekf_ready_s

    def _since_arm(self) -> float | None:
        c = self.copter
        return None if c.armed_at is None else c.t - c.armed_at

    # ---- I/O -------------------------------------------------------------------------------
    def _link_down(self) -> bool:
        return self._silent or self.cfg.faults.link_down(self._since_arm())

    def _lost(self) -> bool:
        return self._link_down() or self._rng.random() * 100.0 < self.cfg.faults.loss_pct

    def _send(self, msg) -> None:
        data = self.codec.encode(msg)
        if self._lost():
            self.dropped_out += 1
            return
        if self._transport is not None:
            self._transport.sendto(data, self._peer)

    def receive(self, data: bytes, addr) -> None:
        if self._lost():
            self.dropped_in += 1
            return
        self._peer = addr
        for msg in self.codec.decode(data, datagram=True):
            if addressed_elsewhere(msg, self.cfg.system_id):
                self.codec.counters.wrong_target += 1
                continue
            self._handle(msg)

    # ---- main loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.tick_s)
            now = self.clock.now()
            dt, self._last = now - self._last, now
            self._step(dt)

    def _step(self, dt: float) -> None:
        c = self.copter
        self._faults()
        ev = c.step(dt)
        for seq in ev.reached:
            self._send(self.codec.mav.mission_item_reached_encode(seq))
        for shot in ev.shots:
            self._send(self._camera_feedback(shot))
        for severity, text in ev.texts:
            self._text(severity, text)
        if c.crashed:
            self._silent = True  # a crashed airframe stops talking
        self._failsafes(dt)
        self.missions.tick()
        t = self.boot_s
        if t >= self._next_heartbeat:
            self._next_heartbeat = t + 1.0
            self._send(self._heartbeat())
        if self.ekf_ready and not self._home_sent:
            self._home_sent = True
            self._send(self._home_position())
        for msg_id, slot in self._streams.items():
            if t >= slot[1]:
                slot[1] = max(slot[1] + slot[0], t)
                self._send(self._stream_message(msg_id))

    def _faults(self) -> None:
        f, since = self.cfg.faults, self._since_arm()
        if since is None:
            return
        if f.battery_sag and not self._sag_done and since >= f.battery_sag[0]:
            self._sag_done = True
            self.copter.battery.sag(f.battery_sag[1])
        if f.motor_failure_at_s is not None and since >= f.motor_failure_at_s and self.copter.flying:
            self.copter.motor_failed = True

    def _failsafes(self, dt: float) -> None:
        c = self.copter
        if not c.flying:
            self._low_since = None
            return
        if c.battery.percent < self.cfg.batt_low_pct and not self._batt_failsafe:
            self._low_since = self._low_since if self._low_since is not None else c.t
            if c.t - self._low_since >= self.cfg.batt_low_timer_s:
                self._batt_failsafe = True
                self._text(mavlink.MAV_SEVERITY_WARNING,
                           f"Battery 1 is low {c.battery.voltage_v:.2f}V used {c.battery.consumed_mah} mAh")
                self._text(mavlink.MAV_SEVERITY_CRITICAL, "Battery Failsafe")
                if c.mode not in ("RTL", "LAND"):
                    c.set_mode("RTL")
        timeout = self.cfg.gcs_failsafe_s
        if timeout is not None and self._last_gcs_hb is not None and not self._gcs_failsafe:
            if self.boot_s - self._last_gcs_hb > timeout:
                self._gcs_failsafe = True
                self._text(mavlink.MAV_SEVERITY_CRITICAL, "GCS Failsafe")
                if c.mode not in ("RTL", "LAND"):
                    c.set_mode("RTL")

    # ---- handlers --------------------------------------------------------------------------
    def _handle(self, msg) -> None:
        kind = msg.get_type()
        if kind == "HEARTBEAT":
            if msg.type == mavlink.MAV_TYPE_GCS:
                self._last_gcs_hb = self.boot_s
                self._gcs_failsafe = False  # cleared, but the vehicle stays in RTL (as ArduCopter)
        elif kind in ("COMMAND_LONG", "COMMAND_INT"):
            result = self._command(msg)
            self._send(self.codec.mav.command_ack_encode(msg.command, result, 0, 0,
                                                         msg.get_srcSystem(), msg.get_srcComponent()))
        elif kind == "SET_MODE":
            self._set_mode(ARDUPILOT.mode_name(msg.custom_mode))
        elif kind == "REQUEST_DATA_STREAM":
            for msg_id in DATA_STREAMS.get(msg.req_stream_id, ()):
                self._set_interval(msg_id, 1.0 / msg.req_message_rate if msg.start_stop and msg.req_message_rate else None)
        else:
            self.missions.handle(msg)

    def _command(self, msg) -> int:
        c, cmd = self.copter, msg.command
        p = (msg.param1, msg.param2, msg.param3, msg.param4)
        if cmd == mavlink.MAV_CMD_SET_MESSAGE_INTERVAL:
            msg_id, us = int(p[0]), p[1]
            if msg_id not in STREAMABLE:
                return mavlink.MAV_RESULT_FAILED
            self._set_interval(msg_id, None if us < 0 else (1.0 if us == 0 else us / 1e6))
            return mavlink.MAV_RESULT_ACCEPTED
        if cmd == mavlink.MAV_CMD_REQUEST_MESSAGE:
            return self._request_message(int(p[0]), p[1])
        if cmd == mavlink.MAV_CMD_DO_SET_MODE:
            return self._set_mode(ARDUPILOT.mode_name(int(p[1])))
        if cmd == mavlink.MAV_CMD_COMPONENT_ARM_DISARM:
            return self._arm() if p[0] >= 0.5 else self._disarm(force=int(p[1]) == 21196)
        if cmd == mavlink.MAV_CMD_NAV_TAKEOFF:
            alt = msg.z if msg.get_type() == "COMMAND_INT" else msg.param7
            return mavlink.MAV_RESULT_ACCEPTED if c.guided_takeoff(alt) else mavlink.MAV_RESULT_FAILED
        if cmd == mavlink.MAV_CMD_MISSION_START:
            return mavlink.MAV_RESULT_ACCEPTED if c.start_mission() else mavlink.MAV_RESULT_FAILED
        if cmd == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            return self._set_mode("RTL")
        if cmd == mavlink.MAV_CMD_NAV_LAND:
            return self._set_mode("LAND")
        return mavlink.MAV_RESULT_UNSUPPORTED

    def _set_mode(self, mode: str) -> int:
        if mode not in ARDUCOPTER_MODES:
            return mavlink.MAV_RESULT_DENIED
        return mavlink.MAV_RESULT_ACCEPTED if self.copter.set_mode(mode) else mavlink.MAV_RESULT_FAILED

    def _arm(self) -> int:
        c = self.copter
        if c.armed:
            return mavlink.MAV_RESULT_ACCEPTED
        if not self.ekf_ready:
            self._text(mavlink.MAV_SEVERITY_CRITICAL, "PreArm: Need Position Estimate")
            return mavlink.MAV_RESULT_FAILED
        if c.mode not in ARMABLE_MODES:
            self._text(mavlink.MAV_SEVERITY_CRITICAL, "Arm: Mode not armable")
            return mavlink.MAV_RESULT_FAILED
        if c.battery.percent < self.cfg.batt_low_pct:
            self._text(mavlink.MAV_SEVERITY_CRITICAL, "PreArm: Battery 1 low voltage failsafe")
            return mavlink.MAV_RESULT_FAILED
        c.arm()
        self._batt_failsafe = self._gcs_failsafe = False
        return mavlink.MAV_RESULT_ACCEPTED

    def _disarm(self, force: bool) -> int:
        if self.copter.flying and not force:
            return mavlink.MAV_RESULT_FAILED
        self.copter.disarm()
        return mavlink.MAV_RESULT_ACCEPTED

    def _set_interval(self, msg_id: int, interval_s: float | None) -> None:
        if interval_s is None:
            self._streams.pop(msg_id, None)
        else:
            self._streams[msg_id] = [interval_s, self.boot_s]

    def _request_message(self, msg_id: int, index: float) -> int:
        if msg_id == mavlink.MAVLINK_MSG_ID_HOME_POSITION and self.ekf_ready:
            self._send(self._home_position())
        elif msg_id == mavlink.MAVLINK_MSG_ID_CAMERA_IMAGE_CAPTURED and 0 <= int(index) < len(self.copter.shots):
            self._send(self._image_captured(self.copter.shots[int(index)]))
        elif msg_id in STREAMABLE:
            self._send(self._stream_message(msg_id))
        else:
            return mavlink.MAV_RESULT_FAILED
        return mavlink.MAV_RESULT_ACCEPTED

    def _text(self, severity: int, text: str) -> None:
        self._send(self.codec.mav.statustext_encode(severity, text.encode()[:50]))

    # ---- message builders ------------------------------------------------------------------
    def _heartbeat(self):
        c = self.copter
        base = mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | mavlink.MAV_MODE_FLAG_STABILIZE_ENABLED \
            | mavlink.MAV_MODE_FLAG_GUIDED_ENABLED | (mavlink.MAV_MODE_FLAG_SAFETY_ARMED if c.armed else 0)
        state = mavlink.MAV_STATE_EMERGENCY if c.motor_failed else (
            mavlink.MAV_STATE_ACTIVE if c.armed else mavlink.MAV_STATE_STANDBY)
        return self.codec.mav.heartbeat_encode(mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA,
                                               base, ARDUCOPTER_MODES[c.mode], state, 3)

    def _home_position(self):
        c = self.copter
        return self.codec.mav.home_position_encode(int(c.home_lat * 1e7), int(c.home_lon * 1e7),
                                                   int(c.home_amsl * 1000), 0, 0, 0, [1, 0, 0, 0], 0, 0, 0)

    def _stream_message(self, msg_id: int):
        c, mav = self.copter, self.codec.mav
        ms = int(self.boot_s * 1000) & 0xFFFFFFFF
        lat, lon = c.lat_lon()
        if msg_id == 33:
            return mav.global_position_int_encode(ms, int(lat * 1e7), int(lon * 1e7),
                                                  int((c.home_amsl + c.alt) * 1000), int(c.alt * 1000),
                                                  int(c.vy * 100), int(c.vx * 100), int(c.vz * 100),
                                                  int(c.yaw_deg * 100) % 36000)
        if msg_id == 1:
            health = SENSORS | (mavlink.MAV_SYS_STATUS_PREARM_CHECK if self.ekf_ready else 0)
            if not self.ekf_ready:
                health &= ~mavlink.MAV_SYS_STATUS_SENSOR_GPS
            return mav.sys_status_encode(SENSORS | mavlink.MAV_SYS_STATUS_PREARM_CHECK, SENSORS, health, 200,
                                         int(c.battery.voltage_v * 1000), 1500 if c.flying else 50,
                                         c.battery.percent, 0, 0, 0, 0, 0, 0)
        if msg_id == 147:
            cells = [int(c.battery.voltage_v / c.battery.cells * 1000)] * c.battery.cells + [65535] * (10 - c.battery.cells)
            return mav.battery_status_encode(0, 0, 0, 2500, cells, 1500 if c.flying else 50, c.battery.consumed_mah,
                                             -1, c.battery.percent)
        if msg_id == 42:
            return mav.mission_current_encode(c.current, len(c.mission))
        if msg_id == 245:
            return mav.extended_sys_state_encode(0, c.landed_state)
        if msg_id == 24:
            fix = 3 if self.ekf_ready else 1
            return mav.gps_raw_int_encode(int(self.boot_s * 1e6), fix, int(lat * 1e7), int(lon * 1e7),
                                          int((c.home_amsl + c.alt) * 1000), 90, 150, 0, 0, 14 if fix == 3 else 4)
        return mav.attitude_encode(ms, 0.0, 0.0, math.radians(c.yaw_deg), 0.0, 0.0, 0.0)

    def _shot_usec(self, shot) -> int:
        """When the shot fired, UTC µs on the vehicle's (GPS) clock: a record re-sent later keeps it."""
        return int((self.clock.utc().timestamp() - (self.boot_s - shot.t_s)) * 1e6)

    def _camera_feedback(self, shot):
        usec = self._shot_usec(shot)
        return self.codec.mav.camera_feedback_encode(
            usec, 0, 0, shot.index, int(shot.lat * 1e7), int(shot.lon * 1e7), shot.alt_amsl_m, shot.alt_rel_m,
            0.0, 0.0, shot.yaw_deg, 0.0, mavlink.CAMERA_FEEDBACK_PHOTO, shot.index + 1)

    def _image_captured(self, shot):
        half = math.radians(shot.yaw_deg) / 2
        return self.codec.mav.camera_image_captured_encode(
            int(shot.t_s * 1000), self._shot_usec(shot), 1, int(shot.lat * 1e7),
            int(shot.lon * 1e7), int(shot.alt_amsl_m * 1000), int(shot.alt_rel_m * 1000),
            [math.cos(half), 0.0, 0.0, math.sin(half)], shot.index, 1, b"")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, vehicle: SimVehicle) -> None:
        self.vehicle = vehicle

    def datagram_received(self, data: bytes, addr) -> None:
        self.vehicle.receive(data, addr)
