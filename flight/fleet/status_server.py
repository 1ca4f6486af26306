"""`GET /status` on 127.0.0.1: the running controller's snapshot as JSON, for `patrol status`."""

from __future__ import annotations

import asyncio
import json
from typing import Callable


class StatusServer:
    def __init__(self, snapshot: Callable[[], dict], port: int, host: str = "127.0.0.1") -> None:
        self.snapshot = snapshot
        self.host, self.port = host, port
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if path in (b"/status", b"/"):
                body, status = json.dumps(self.snapshot(), ensure_ascii=False, default=str).encode(), b"200 OK"
            else:
                body, status = b'{"error": "not found; try GET /status"}', b"404 Not Found"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json; charset=utf-8\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
