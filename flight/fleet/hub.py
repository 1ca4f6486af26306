"""Every link of the fleet in one event loop: open endpoints, route messages to vehicles, count junk.

Several drones may share one endpoint (one UDP port, several system ids); a message is routed by
(link, source system id). GCS heartbeats go out once a second on every link, as ArduPilot's GCS
failsafe and PX4's data-link loss check expect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.assets import Drone
from flight.mavlink.channel import Channel
from flight.mavlink.clock import Clock
from flight.mavlink.codec import GCS_SYSTEM_ID, addressed_elsewhere
from flight.mavlink.links import Link, make_link, parse_endpoint
from flight.fleet.telemetry import VehicleState

Listener = Callable[["DroneLink", object], None]

# Streams asked for once a vehicle is heard (ArduPilot sends nothing else until asked): Hz.
STREAMS = {
    mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 4.0,
    mavlink.MAVLINK_MSG_ID_SYS_STATUS: 1.0,
    mavlink.MAVLINK_MSG_ID_BATTERY_STATUS: 1.0,
    mavlink.MAVLINK_MSG_ID_MISSION_CURRENT: 1.0,
    mavlink.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: 1.0,
    mavlink.MAVLINK_MSG_ID_GPS_RAW_INT: 1.0,
}


@dataclass
class DroneLink:
    drone: Drone
    channel: Channel
    state: VehicleState
    streams_requested: bool = False
    position_seen: float | None = None


class LinkHub:
    def __init__(self, drones: list[Drone], clock: Clock, stale_after_s: float = 5.0, stream_scale: float = 1.0) -> None:
        self.clock = clock
        self.stale_after_s = stale_after_s
        self.rates = {msg_id: hz * stream_scale for msg_id, hz in STREAMS.items()}
        # streams are asked for again when positions stop coming: three position intervals
        self.requery_after_s = 3.0 / self.rates[mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT]
        self.links: dict[str, Link] = {}
        self.drones: dict[str, DroneLink] = {}
        self._route: dict[tuple[int, int], DroneLink] = {}
        self._pending: list[Drone] = list(drones)
        self.listeners: list[Listener] = []
        self._tasks: list[asyncio.Task] = []

    async def open(self) -> None:
        for drone in self._pending:
            if not drone.endpoint:
                raise ValueError(f"drone {drone.id!r}: endpoint is empty; set drones[].endpoint in the city config")
            endpoint = parse_endpoint(drone.endpoint)
            link = self.links.get(endpoint.key)
            if link is None:
                link = make_link(endpoint, self._on_message, drone.signing)
                await link.open()
                self.links[endpoint.key] = link
            elif link.codec.signing != drone.signing:
                raise ValueError(f"drone {drone.id!r}: its signing differs from another drone's on {drone.endpoint}; "
                                 "drones sharing an endpoint share one link, so give them the same signing")
            if (id(link), drone.system_id) in self._route:
                raise ValueError(f"drone {drone.id!r}: system_id {drone.system_id} already used on {drone.endpoint}")
            dl = DroneLink(drone, Channel(link, drone.system_id, 1, self.clock),
                           VehicleState(drone.id, drone.system_id))
            self.drones[drone.id] = dl
            self._route[(id(link), drone.system_id)] = dl
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._heartbeats()))

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for link in self.links.values():
            link.close()

    def _on_message(self, link: Link, msg) -> None:
        if addressed_elsewhere(msg, GCS_SYSTEM_ID):
            link.counters.wrong_target += 1
            return
        dl = self._route.get((id(link), msg.get_srcSystem()))
        if dl is None:
            link.counters.unknown_system += 1
            return
        if msg.get_type() == "HEARTBEAT" and msg.get_srcComponent() != 1 and dl.state.autopilot is not None:
            return  # a camera or gimbal on the same system: not the autopilot's liveness
        dl.state.update(msg, self.clock.now(), self.clock.utc())
        dl.channel.feed(msg)
        if msg.get_type() == "HEARTBEAT" and not dl.streams_requested:
            dl.streams_requested = True
            self._request_streams(dl)
        elif msg.get_type() == "GLOBAL_POSITION_INT":
            dl.position_seen = self.clock.now()
        for listener in self.listeners:
            listener(dl, msg)

    def _request_streams(self, dl: DroneLink) -> None:
        ch = dl.channel
        for msg_id, hz in self.rates.items():
            ch.send(ch.mav.command_long_encode(ch.system_id, ch.component_id, mavlink.MAV_CMD_SET_MESSAGE_INTERVAL,
                                               0, msg_id, 1e6 / hz, 0, 0, 0, 0, 0))

    async def _heartbeats(self) -> None:
        while True:
            for link in self.links.values():
                hb = link.codec.mav.heartbeat_encode(mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0,
                                                     mavlink.MAV_STATE_ACTIVE)
                for dl in self.drones.values():
                    if dl.channel.link is link:
                        link.send(hb, dl.drone.system_id)
            now = self.clock.now()
            for dl in self.drones.values():
                hb_t = dl.state.last_heartbeat
                if hb_t is None:
                    continue
                if now - hb_t > self.stale_after_s:
                    dl.state.stale = True
                elif dl.position_seen is None or now - dl.position_seen > self.requery_after_s:
                    self._request_streams(dl)  # requests lost, or the vehicle rebooted and forgot them
            await self.clock.sleep(1.0)

    def silence_reason(self, drone_id: str) -> str | None:
        """Why a drone may stay unheard that the link can tell: packets that failed signature verification."""
        dl = self.drones[drone_id]
        refused = dl.channel.link.counters.bad_signatures
        if refused == 0:
            return None
        return (f"{refused} packets on {dl.drone.endpoint} failed MAVLink signature verification: the vehicle's key "
                "differs from drones[].signing, or it does not sign")

    def counters(self) -> dict[str, dict[str, int]]:
        return {key: link.counters.as_dict() for key, link in self.links.items()}
