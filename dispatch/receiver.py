"""A local webhook receiver: verifies Standard Webhooks signatures and records what arrived.

One receiver serves every department at /hooks/{department_id}. Tests and the demo use it to
see what a department would get; `respond_with` makes it answer 503, 410 … to exercise retries.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.server import BackgroundServer


@dataclass(frozen=True)
class ReceivedWebhook:
    department_id: str
    webhook_id: str
    received_at: float  # time.time() on arrival
    payload: dict[str, Any]
    body: bytes
    headers: dict[str, str]


class WebhookReceiver:
    def __init__(self, secrets: dict[str, str], host: str = "127.0.0.1", port: int = 0):
        self._verifiers = {dept: Webhook(secret) for dept, secret in secrets.items()}
        self._lock = threading.Condition()
        self.received: list[ReceivedWebhook] = []
        self.rejected: list[tuple[str, str]] = []  # (department_id, why)
        self._status, self._retry_after = 204, None
        self._flaky, self._rng = 0.0, random.Random(0)
        self.failed_on_purpose = 0
        app = Starlette(routes=[Route("/hooks/{department_id}", self._hook, methods=["POST"])])
        self._server = BackgroundServer(app, host, port)

    @property
    def url(self) -> str:
        return self._server.url

    def url_for(self, department_id: str) -> str:
        return f"{self._server.url}/hooks/{department_id}"

    def start(self) -> str:
        """Start (again); a restart keeps the port, so configured webhook URLs stay valid."""
        return self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def respond_with(self, status: int, retry_after: str | None = None) -> None:
        """Answer verified deliveries with this status (204 = accept) and optional Retry-After."""
        self._status, self._retry_after = status, retry_after

    def fail_share(self, fraction: float, seed: int = 0) -> None:
        """Answer this share of verified deliveries with 503 (chosen by a seeded draw), the rest as set."""
        self._flaky, self._rng = fraction, random.Random(seed)

    async def _hook(self, request: Request) -> Response:
        dept = request.path_params["department_id"]
        body = await request.body()
        verifier = self._verifiers.get(dept)
        try:
            if verifier is None:
                raise WebhookVerificationError(f"no secret for department {dept!r}")
            payload = verifier.verify(body, dict(request.headers))
        except (WebhookVerificationError, json.JSONDecodeError) as exc:
            with self._lock:
                self.rejected.append((dept, str(exc)))
            return Response(f"signature check failed: {exc}", status_code=400)
        status, retry_after = self._status, self._retry_after
        if self._flaky and self._rng.random() < self._flaky:
            with self._lock:
                self.failed_on_purpose += 1
            status, retry_after = 503, None
        if 200 <= status < 300:
            with self._lock:
                self.received.append(ReceivedWebhook(dept, request.headers["webhook-id"], time.time(), payload,
                                                     body, dict(request.headers)))
                self._lock.notify_all()
        headers = {"retry-after": retry_after} if retry_after else None
        return Response(status_code=status, headers=headers)

    def wait_for(self, count: int, timeout_s: float) -> bool:
        """Block until at least `count` deliveries were accepted, or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def __enter__(self) -> "WebhookReceiver":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
