"""Webhook delivery: an outbox worker that signs (Standard Webhooks) and POSTs each message until a
2xx, retrying with backoff + jitter and honouring Retry-After; 410 Gone or too many tries → dead letter.

Woken on commit (no slow polling); messages are leased in the store, so several workers or
processes never send one message at the same time, and a retried message keeps its webhook-id.
A 410 also switches the department's endpoint off: later messages go straight to dead letters
until an admin switches it on again, which puts them back in the outbox.
"""

from __future__ import annotations

import email.utils
import queue
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import httpx
from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from dispatch.batches import batches
from dispatch.prometheus import DispatchMetrics
from dispatch.models import DeliveryAttemptRow, DeliveryRow, EndpointRow
from dispatch.settings import RetryPolicy
from dispatch.store import Writers
from dispatch.webhook_secrets import WebhookSecrets

ENDPOINT_OFF = "endpoint disabled after 410 Gone; re-enable: POST /v1/admin/departments/<id>/webhook/enable"
IDLE_WAIT_S = 1.0  # safety net: look at the outbox at least this often even without a wake-up
CLAIM_BATCH = 200
RECORD_BATCH = 50  # outcomes per log transaction: keeps the write lock free for ingest
DELIVERIES = DeliveryRow.__table__
SET_OUTCOME = update(DELIVERIES).where(DELIVERIES.c.id == bindparam("b_id")).values(
    {c: bindparam(f"b_{c}") for c in ("attempts", "lease_until", "state", "delivered_at", "next_attempt_at", "last_error")})


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


class Backoff:
    """Exponential backoff with equal jitter: attempt n waits in [d/2, d], d = min(cap, base·2^(n-1))."""

    def __init__(self, policy: RetryPolicy, seed: int):
        self.policy = policy
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def delay_s(self, attempts: int, retry_after: float | None) -> float:
        d = min(self.policy.cap_s, self.policy.base_s * 2 ** (attempts - 1))
        with self._lock:
            wait = d / 2 + self._rng.uniform(0, d / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.policy.max_retry_after_s))
        return wait


@dataclass(frozen=True)
class _Outcome:
    row: DeliveryRow
    at: datetime
    code: int | None
    error: str | None
    retry_after: float | None
    duration_ms: float


class DeliveryWorker:
    def __init__(self, readers: sessionmaker[Session], writers: Writers, secrets: WebhookSecrets, policy: RetryPolicy, seed: int,
                 metrics: DispatchMetrics, clock: Callable[[], datetime], threads: int = 8):
        self.readers, self.writers, self.policy, self.metrics, self.clock = readers, writers, policy, metrics, clock
        self.secrets = secrets
        self.backoff = Backoff(policy, seed)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook")
        self._client = httpx.Client(timeout=policy.timeout_s, limits=httpx.Limits(max_connections=threads * 2))
        self._outcomes: queue.Queue[_Outcome | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._recorder = threading.Thread(target=self._record_loop, name="outbox-log", daemon=True)

    @property
    def lease_s(self) -> float:
        """How long a claimed message is ours before another worker may take it over."""
        return self.policy.timeout_s + 30

    def start(self) -> None:
        self._thread.start()
        self._recorder.start()

    def wake(self) -> None:
        self._wake.set()

    def hand_over(self, rows: list[DeliveryRow]) -> None:
        """Messages just committed (already leased to us): send now, without a trip through the store."""
        if self._thread.is_alive() and not self._stop.is_set():
            for row in rows:
                self._pool.submit(self._attempt, row)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._outcomes.put(None)
        if self._recorder.is_alive():
            self._recorder.join(timeout=10)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                claimed = self._claim()
                for row in claimed:
                    self._pool.submit(self._attempt, row)
                wait = 0.0 if claimed else self._seconds_to_next_due()
            except Exception:  # store briefly unavailable (or worse): look again a little later, never die
                wait = IDLE_WAIT_S
            if wait > 0:
                self._wake.wait(wait)

    def _claim(self) -> list[DeliveryRow]:
        now = self.clock()
        with self.writers.begin() as s:
            q = (select(DeliveryRow).where(DeliveryRow.state == "pending", DeliveryRow.next_attempt_at <= now,
                                           or_(DeliveryRow.lease_until.is_(None), DeliveryRow.lease_until < now))
                 .order_by(DeliveryRow.next_attempt_at).limit(CLAIM_BATCH))
            if s.bind.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = s.scalars(q).all()
            off = set(s.scalars(select(EndpointRow.department_id))) if rows else set()
            dead = [r.id for r in rows if r.department_id in off]
            send = [r for r in rows if r.department_id not in off]
            if dead:
                s.execute(update(DeliveryRow).where(DeliveryRow.id.in_(dead)).values(
                    state="dead", lease_until=None, last_error=ENDPOINT_OFF))
            if send:
                lease = now + timedelta(seconds=self.lease_s)
                s.execute(update(DeliveryRow).where(DeliveryRow.id.in_([r.id for r in send])).values(lease_until=lease))
        return send

    def _seconds_to_next_due(self) -> float:
        now = self.clock()
        with self.readers() as s:
            nxt = s.scalar(select(func.min(DeliveryRow.next_attempt_at)).where(
                DeliveryRow.state == "pending", or_(DeliveryRow.lease_until.is_(None), DeliveryRow.lease_until < now)))
        if nxt is None:
            return IDLE_WAIT_S
        return min(IDLE_WAIT_S, max(0.0, (nxt - now).total_seconds()))

    def _attempt(self, row: DeliveryRow) -> None:
        if self._stop.is_set():
            return
        sent_at = datetime.now(timezone.utc)  # signing uses real time: receivers check it against theirs
        headers = {
            "content-type": "application/json",
            "webhook-id": row.id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": self.secrets.signature(row.department_id, row.id, sent_at, row.payload),
        }
        code, error, retry_after = None, None, None
        t0 = time.perf_counter()
        try:
            resp = self._client.post(row.url, content=row.payload.encode(), headers=headers)
            code = resp.status_code
            retry_after = retry_after_s(resp.headers.get("retry-after"), sent_at)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        self._outcomes.put(_Outcome(row, self.clock(), code, error, retry_after, (time.perf_counter() - t0) * 1000))

    def _record_loop(self) -> None:
        """Write attempt outcomes, many per short transaction (bulk statements, one fsync)."""
        for batch in batches(self._outcomes, RECORD_BATCH):
            decided = [self._decide(o) for o in batch]
            try:
                with self.writers.begin() as s:
                    s.execute(insert(DeliveryAttemptRow.__table__), [
                        {"delivery_id": o.row.id, "at": o.at, "status_code": o.code, "error": o.error,
                         "duration_ms": o.duration_ms} for o in batch])
                    s.execute(SET_OUTCOME, [{f"b_{k}": v for k, v in values.items()} for _, values in decided])
                    for o in batch:
                        if o.code == 410:
                            s.merge(EndpointRow(department_id=o.row.department_id, disabled_at=o.at,
                                                reason=f"410 Gone from {o.row.url} (webhook-id {o.row.id})"))
            except SQLAlchemyError:  # not recorded: the leases run out and the messages go out again
                continue
            for o, (outcome, _) in zip(batch, decided):
                self.metrics.attempts.labels(o.row.department_id, outcome).inc()
                if outcome == "delivered":
                    self.metrics.latency.observe((o.at - o.row.created_at).total_seconds())
            if any(outcome == "retry" for outcome, _ in decided):
                self.wake()

    def _decide(self, o: _Outcome) -> tuple[str, dict]:
        """What an attempt means for its message: delivered, retry (when), or dead (why)."""
        row, now, code = o.row, o.at, o.code
        attempts = row.attempts + 1
        values = {"id": row.id, "attempts": attempts, "lease_until": None, "state": "pending", "delivered_at": None,
                  "next_attempt_at": row.next_attempt_at, "last_error": o.error or f"HTTP {code}"}
        if code is not None and 200 <= code < 300:
            values.update(state="delivered", delivered_at=now, last_error=None)
            return "delivered", values
        if code == 410:
            values.update(state="dead", last_error="410 Gone: the receiver asked us to stop sending")
            return "dead", values
        if attempts >= self.policy.max_attempts:
            values.update(state="dead", last_error=f"gave up after {attempts} attempts; last: {o.error or code}")
            return "dead", values
        delay = self.backoff.delay_s(attempts, o.retry_after)
        values.update(next_attempt_at=now + timedelta(seconds=delay))
        return "retry", values
