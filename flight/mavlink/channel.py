"""The conversation with one vehicle: send to its system id, await specific replies with timeouts."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable, Iterable

from flight.mavlink.clock import Clock
from flight.mavlink.links import Link

Match = Callable[[object], bool]


PROTOCOL_PREFIXES = ("MISSION_", "COMMAND_ACK")


class Channel:
    """Messages to one (system, component) over one link; waiters are woken by `feed`.

    Replies that arrive in a burst (two datagrams before the waiting coroutine runs again) are
    kept briefly as unclaimed, so the next `expect` of the same transaction still sees them;
    each transaction starts with `begin()`, which forgets replies left over from earlier ones.

    Timeouts are clock seconds, but never less than `min_real_timeout_s` of real time: a reply's
    round trip does not shrink when a rehearsal runs the clock 60× faster.
    """

    min_real_timeout_s = 0.25

    def __init__(self, link: Link, system_id: int, component_id: int, clock: Clock) -> None:
        self.link = link
        self.system_id = system_id
        self.component_id = component_id
        self.clock = clock
        self._waiters: list[tuple[frozenset[str], Match | None, asyncio.Future]] = []
        self._unclaimed: deque = deque(maxlen=64)

    @property
    def mav(self):
        return self.link.codec.mav

    def send(self, msg) -> None:
        self.link.send(msg, self.system_id)

    def begin(self) -> None:
        self._unclaimed.clear()

    def feed(self, msg) -> None:
        kind = msg.get_type()
        for entry in list(self._waiters):
            kinds, match, fut = entry
            if kind in kinds and not fut.done() and (match is None or match(msg)):
                fut.set_result(msg)
                self._waiters.remove(entry)
                return
        if kind.startswith(PROTOCOL_PREFIXES):
            self._unclaimed.append(msg)

    async def expect(self, kinds: Iterable[str], timeout_s: float, match: Match | None = None):
        """Next message of one of `kinds` (passing `match`) within `timeout_s` clock seconds, else None."""
        kinds = frozenset(kinds)
        for msg in self._unclaimed:
            if msg.get_type() in kinds and (match is None or match(msg)):
                self._unclaimed.remove(msg)
                return msg
        fut = asyncio.get_running_loop().create_future()
        entry = (kinds, match, fut)
        self._waiters.append(entry)
        try:
            return await self.clock.wait_for(fut, max(timeout_s, self.min_real_timeout_s * self.clock.speed))
        except asyncio.TimeoutError:
            return None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
