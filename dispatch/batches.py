"""Take work off a queue in batches: what arrived while the last batch ran goes in the next one."""

from __future__ import annotations

import queue
from typing import Iterator, TypeVar

T = TypeVar("T")


def batches(q: "queue.Queue[T | None]", limit: int) -> Iterator[list[T]]:
    """Yield lists of up to `limit` items, blocking for the first of each; a None in the queue ends it."""
    while True:
        first = q.get()
        if first is None:
            return
        batch = [first]
        while len(batch) < limit:
            try:
                nxt = q.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                q.put(None)  # finish this batch, stop at the next call
                break
            batch.append(nxt)
        yield batch
