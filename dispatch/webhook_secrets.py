"""Webhook signing secrets per department, rotated without a gap: after a rotation every message
carries a signature with the new secret and one with the old (Standard Webhooks allows several,
space-separated, in `webhook-signature`) until the old one retires, so a department can switch
its receiver over at its own pace."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from dispatch.credentials import Credentials, new_webhook_secret
from dispatch.models import WebhookSecretRow
from dispatch.store import Writers, hold_startup_lock
from dispatch.views import iso

REFRESH_S = 5.0  # another replica's rotation is seen this soon (both secrets sign meanwhile, so nothing breaks)


@dataclass(frozen=True)
class Rotation:
    department_id: str
    webhook_secret: str
    previous_retire_at: datetime

    def as_json(self) -> dict:
        return {"department_id": self.department_id, "webhook_secret": self.webhook_secret,
                "previous_secrets_retire_at": iso(self.previous_retire_at)}


class WebhookSecrets:
    def __init__(self, readers: sessionmaker[Session], writers: Writers, clock: Callable[[], datetime]):
        self.readers, self.writers, self.clock = readers, writers, clock
        self._lock = threading.Lock()
        self._signers: dict[str, list[Webhook]] = {}
        self._loaded_at = -REFRESH_S

    def seed(self, credentials: Credentials) -> None:
        """A department with no secret in the store yet starts with the credentials file's."""
        now = self.clock()
        with self.writers.begin() as s:
            hold_startup_lock(s)
            known = set(s.scalars(select(WebhookSecretRow.department_id).distinct()))
            s.add_all(WebhookSecretRow(department_id=d, secret=c.webhook_secret, created_at=now)
                      for d, c in credentials.departments.items() if d not in known)
        self._loaded_at = -REFRESH_S

    def rotate(self, dept_id: str, grace: timedelta) -> Rotation:
        """A new secret (returned once, for the department); the ones before it retire after `grace`."""
        now, secret = self.clock(), new_webhook_secret()
        retire = now + grace
        with self.writers.begin() as s:
            s.execute(update(WebhookSecretRow).where(
                WebhookSecretRow.department_id == dept_id,
                or_(WebhookSecretRow.retire_at.is_(None), WebhookSecretRow.retire_at > retire)).values(retire_at=retire))
            s.add(WebhookSecretRow(department_id=dept_id, secret=secret, created_at=now))
        self._loaded_at = -REFRESH_S
        return Rotation(dept_id, secret, retire)

    def signature(self, dept_id: str, msg_id: str, sent_at: datetime, payload: str) -> str:
        """The `webhook-signature` header: one `v1,…` per live secret, newest first."""
        return " ".join(w.sign(msg_id, sent_at, payload) for w in self._live(dept_id))

    def _live(self, dept_id: str) -> list[Webhook]:
        with self._lock:
            if time.monotonic() - self._loaded_at >= REFRESH_S:
                now = self.clock()
                with self.readers() as s:
                    rows = s.scalars(select(WebhookSecretRow).where(
                        or_(WebhookSecretRow.retire_at.is_(None), WebhookSecretRow.retire_at > now))
                        .order_by(WebhookSecretRow.id.desc())).all()
                signers: dict[str, list[Webhook]] = {}
                for r in rows:
                    signers.setdefault(r.department_id, []).append(Webhook(r.secret))
                self._signers, self._loaded_at = signers, time.monotonic()
            return self._signers.get(dept_id, [])
