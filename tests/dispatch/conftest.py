"""Fixtures: a real dispatch server on 127.0.0.1 over SQLite and (when PATROL_TEST_PG_URL is set)
PostgreSQL, with a live webhook receiver that checks Standard Webhooks signatures."""

from __future__ import annotations

import base64
import io
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx
import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from dispatch.app import create_app
from dispatch.credentials import Credentials
from dispatch.departments import with_webhook_base
from dispatch.receiver import WebhookReceiver
from dispatch.server import BackgroundServer
from dispatch.settings import RetryPolicy, Settings

PG_URL = os.environ.get("PATROL_TEST_PG_URL")
FAST_RETRY = RetryPolicy(base_s=0.1, cap_s=0.4, max_attempts=60, timeout_s=5.0)

# Points inside Quzhou districts (lon, lat).
KECHENG = (118.8700, 28.9500)
QUJIANG = (119.0000, 28.9800)
OUTSIDE = (120.2000, 30.2500)  # Hangzhou: outside every Quzhou jurisdiction


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dispatch.db'}"
    if not PG_URL:
        pytest.skip("PATROL_TEST_PG_URL not set (e.g. postgresql+psycopg://patrol:patrol@127.0.0.1:5432/patrol_test)")
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return PG_URL


@pytest.fixture
def creds(quzhou_city) -> Credentials:
    return Credentials.generate([d.id for d in quzhou_city.departments])


@pytest.fixture
def receiver(creds):
    rec = WebhookReceiver({d: c.webhook_secret for d, c in creds.departments.items()})
    rec.start()
    yield rec
    rec.stop()


@dataclass
class Live:
    """A running dispatch server and what a test needs to talk to it."""

    url: str
    creds: Credentials
    receiver: WebhookReceiver
    client: httpx.Client

    def as_dept(self, dept_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.creds.token(dept_id)}"}

    @property
    def as_admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.creds.admin_token}"}

    @property
    def as_ingest(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.creds.ingest_token}"}

    def post(self, body: Any) -> httpx.Response:
        return self.client.post(f"{self.url}/v1/sightings", json=body, headers=self.as_ingest)

    def alerts(self, dept_id: str, **params) -> list[dict]:
        r = self.client.get(f"{self.url}/v1/alerts", headers=self.as_dept(dept_id), params=params)
        r.raise_for_status()
        return r.json()["alerts"]

    def wait_until(self, check: Callable[[], bool], timeout_s: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.05)
        return check()


@pytest.fixture
def live(store_url, quzhou_city, creds, receiver):
    settings = Settings(departments=with_webhook_base(quzhou_city.departments, receiver.url),
                        taxonomy=quzhou_city.taxonomy, credentials=creds, database_url=store_url, retry=FAST_RETRY)
    server = BackgroundServer(create_app(settings))
    server.start()
    with httpx.Client(timeout=10) as client:
        yield Live(server.url, creds, receiver, client)
    server.stop()


def jpeg_b64(shade: int = 90) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, 120, 200)).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def utc(minutes_ago: float = 10) -> str:
    t = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sighting(key: str, where: tuple[float, float] = KECHENG, type: str = "road_waterlogging", **over) -> dict:
    """A Sighting exactly as the detector side sends it."""
    lon, lat = where
    body = {
        "key": key, "type": type, "confidence": 0.8, "lat": lat, "lon": lon, "uncertainty_m": 5.0,
        "time": utc(), "footprint": {"type": "Polygon", "coordinates": [[
            [lon - 1e-4, lat - 1e-4], [lon + 1e-4, lat - 1e-4], [lon + 1e-4, lat + 1e-4], [lon - 1e-4, lat - 1e-4]]]},
        "image": {"ref": f"sorties/s1/{key}.jpg", "box": [100, 120, 180, 200]}, "evidence_jpeg_b64": jpeg_b64(),
        "model_version": "yolo-test-1", "drone_id": "uav-01", "sortie_id": "sortie-1",
    }
    body.update(over)
    return body
