"""MAVLink links on asyncio transports: udp/udpin (listen), udpout, tcp and serial endpoints.

Endpoint strings follow pymavlink/MAVProxy usage, so a drone entry in the city config can point
at SITL or a real radio without code changes:
  udp:HOST:PORT / udpin:HOST:PORT   listen; reply to whoever sent (per system id)
  udpout:HOST:PORT                  send to a vehicle that listens
  tcp:HOST:PORT                     connect (reconnects when the vehicle drops the connection)
  serial:/dev/ttyX:BAUD  or  /dev/ttyX:BAUD
"""

from __future__ import annotations

import asyncio
import os
import termios
import tty
from dataclasses import dataclass
from typing import Callable

from flight.mavlink.codec import Codec
from flight.mavlink.signing import Signing

MessageSink = Callable[["Link", object], None]


class EndpointError(ValueError):
    pass


@dataclass(frozen=True)
class Endpoint:
    kind: str  # "udpin" | "udpout" | "tcp" | "serial"
    host: str = ""
    port: int = 0
    device: str = ""
    baud: int = 57600

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.device or self.host}:{self.baud if self.device else self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """Endpoint string → Endpoint; raises EndpointError naming the bad value."""
    raw = text.strip()
    scheme, _, rest = raw.partition(":")
    scheme = scheme.lower()
    if raw.startswith("/dev/") or scheme in ("serial", "com"):
        spec = rest if scheme == "serial" else raw
        device, _, baud = spec.rpartition(":") if spec.count(":") else (spec, "", "57600")
        if not device or not baud.isdigit():
            raise EndpointError(f"endpoint {text!r}: serial needs DEVICE:BAUD, e.g. serial:/dev/ttyUSB0:57600")
        return Endpoint("serial", device=device, baud=int(baud))
    if scheme not in ("udp", "udpin", "udpout", "tcp"):
        raise EndpointError(f"endpoint {text!r}: scheme {scheme!r} is not one of udp, udpin, udpout, tcp, serial")
    host, _, port = rest.rpartition(":")
    kind = "udpin" if scheme == "udp" else scheme
    lowest = 0 if kind == "udpin" else 1  # listening on port 0 picks a free port
    if not port.isdigit() or not lowest <= int(port) < 65536:
        raise EndpointError(f"endpoint {text!r}: port {port!r} is not a number in {lowest}..65535")
    return Endpoint(kind, host=host or "0.0.0.0", port=int(port))


class Link:
    """One transport plus its codec; decoded messages go to `sink(link, msg)`."""

    def __init__(self, endpoint: Endpoint, sink: MessageSink, codec: Codec | None = None) -> None:
        self.endpoint = endpoint
        self.codec = codec or Codec()
        self.sink = sink
        self.connected = False

    @property
    def counters(self):
        return self.codec.counters

    def _deliver(self, data: bytes, datagram: bool, source: object = None) -> None:
        for msg in self.codec.decode(data, datagram=datagram):
            self._note_source(msg, source)
            self.sink(self, msg)

    def _note_source(self, msg, source) -> None:
        pass

    def send(self, msg, system_id: int | None = None) -> None:
        """Encode and send `msg` towards `system_id` (or wherever this link's peer is)."""
        self._write(self.codec.encode(msg), system_id)

    def _write(self, data: bytes, system_id: int | None) -> None:
        raise NotImplementedError

    async def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _DatagramProtocol(asyncio.DatagramProtocol):
    def __init__(self, link: "UdpLink") -> None:
        self.link = link

    def datagram_received(self, data: bytes, addr) -> None:
        self.link._deliver(data, True, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable while a vehicle is down
        self.link.counters.send_errors += 1


class UdpLink(Link):
    """udpin listens and answers each system at the address it last spoke from; udpout sends to a peer."""

    def __init__(self, endpoint: Endpoint, sink: MessageSink, codec: Codec | None = None) -> None:
        super().__init__(endpoint, sink, codec)
        self._transport: asyncio.DatagramTransport | None = None
        self._peers: dict[int, tuple] = {}
        self._last_peer: tuple | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        if self.endpoint.kind == "udpin":
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _DatagramProtocol(self), local_addr=(self.endpoint.host, self.endpoint.port))
        else:
            self._last_peer = (self.endpoint.host, self.endpoint.port)
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _DatagramProtocol(self), remote_addr=self._last_peer)
        self.connected = True

    @property
    def local_port(self) -> int:
        return self._transport.get_extra_info("sockname")[1]

    def _note_source(self, msg, source) -> None:
        if source is not None:
            self._peers[msg.get_srcSystem()] = source
            self._last_peer = source

    def _write(self, data: bytes, system_id: int | None) -> None:
        if self._transport is None:
            return
        if self.endpoint.kind == "udpout":
            self._transport.sendto(data)
            return
        peer = self._peers.get(system_id) if system_id else self._last_peer
        targets = [peer] if peer else list(set(self._peers.values()))
        for addr in targets:
            self._transport.sendto(data, addr)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self.connected = False


class _StreamProtocol(asyncio.Protocol):
    def __init__(self, link: "TcpLink") -> None:
        self.link = link

    def data_received(self, data: bytes) -> None:
        self.link._deliver(data, False)

    def connection_lost(self, exc) -> None:
        self.link._lost()


class TcpLink(Link):
    """TCP client to an autopilot (SITL serves tcp:5760); reconnects while the link is open."""

    reconnect_s = 1.0

    def __init__(self, endpoint: Endpoint, sink: MessageSink, codec: Codec | None = None) -> None:
        super().__init__(endpoint, sink, codec)
        self._transport: asyncio.Transport | None = None
        self._closing = False
        self._retry: asyncio.Task | None = None

    async def open(self) -> None:
        try:
            await self._connect()
        except OSError:
            self._lost()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_connection(
            lambda: _StreamProtocol(self), self.endpoint.host, self.endpoint.port)
        self.connected = True

    def _lost(self) -> None:
        self.connected = False
        self._transport = None
        if not self._closing:
            self._retry = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while not self._closing and not self.connected:
            await asyncio.sleep(self.reconnect_s)
            try:
                await self._connect()
            except OSError:
                continue

    def _write(self, data: bytes, system_id: int | None) -> None:
        if self._transport is not None:
            self._transport.write(data)

    def close(self) -> None:
        self._closing = True
        if self._retry is not None:
            self._retry.cancel()
        if self._transport is not None:
            self._transport.close()


_BAUDS = {b: getattr(termios, f"B{b}") for b in (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
          if hasattr(termios, f"B{b}")}


class SerialLink(Link):
    """A telemetry radio or USB autopilot: raw tty, read by the event loop when bytes are ready."""

    def __init__(self, endpoint: Endpoint, sink: MessageSink, codec: Codec | None = None) -> None:
        super().__init__(endpoint, sink, codec)
        self._fd: int | None = None

    async def open(self) -> None:
        if self.endpoint.baud not in _BAUDS:
            raise EndpointError(f"serial baud {self.endpoint.baud} is not one of {sorted(_BAUDS)}")
        fd = os.open(self.endpoint.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        if os.isatty(fd):
            tty.setraw(fd)
            attrs = termios.tcgetattr(fd)
            attrs[4] = attrs[5] = _BAUDS[self.endpoint.baud]
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        self._fd = fd
        asyncio.get_running_loop().add_reader(fd, self._readable)
        self.connected = True

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        if data:
            self._deliver(data, False)

    def _write(self, data: bytes, system_id: int | None) -> None:
        if self._fd is not None:
            try:
                os.write(self._fd, data)
            except BlockingIOError:
                self.counters.send_errors += 1  # radio buffer full: MAVLink tolerates the drop

    def close(self) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
        self.connected = False


def make_link(endpoint: Endpoint, sink: MessageSink, signing: Signing | None = None) -> Link:
    """The link for `endpoint`; with `signing` it signs what it sends and drops what fails verification."""
    codec = Codec(signing=signing)
    if endpoint.kind in ("udpin", "udpout"):
        return UdpLink(endpoint, sink, codec)
    if endpoint.kind == "tcp":
        return TcpLink(endpoint, sink, codec)
    return SerialLink(endpoint, sink, codec)
