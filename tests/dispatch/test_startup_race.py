"""Replicas starting at the same moment on one store: each migrates and seeds the department
logins and webhook secrets, and none fails because the other inserted a row first."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, func, select

from dispatch.models import AccountRow, WebhookSecretRow
from dispatch.service import DispatchService
from dispatch.settings import Settings


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # replicas share PostgreSQL, not a SQLite file
def test_replicas_starting_together_seed_each_row_once(store_url, creds, quzhou_city):
    settings = Settings(departments=quzhou_city.departments, taxonomy=quzhou_city.taxonomy,
                        credentials=creds, database_url=store_url)
    start, errors, services = threading.Barrier(4), [], []

    def replica() -> None:
        start.wait()
        try:
            services.append(DispatchService(settings))
        except Exception as exc:  # what a replica's start-up would die of
            errors.append(repr(exc))

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    engine = create_engine(store_url)
    with engine.connect() as conn:
        logins = conn.scalar(select(func.count()).select_from(AccountRow))
        secrets = conn.scalar(select(func.count()).select_from(WebhookSecretRow))
    engine.dispose()
    assert logins == secrets == len(quzhou_city.departments)
    for service in services:
        service.close()
