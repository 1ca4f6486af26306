"""Two `patrol serve` processes on one real PostgreSQL, started together, under concurrent
sightings of the same and of different spots; one is killed with SIGKILL mid-run while the
departments' endpoint is failing, so it dies holding undelivered messages. Afterwards: one
incident per spot, and every alert delivered exactly once (the receiver counts accepted,
signature-checked webhooks), by the surviving replica."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from dispatch.receiver import WebhookReceiver
from dispatch.server import free_port
from tests.dispatch.conftest import sighting

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SPOTS = [(118.80 + 0.012 * (i % 4), 28.93 + 0.012 * (i // 4)) for i in range(12)]  # 1 km apart, 柯城区
PER_SPOT = 4  # sightings of each spot, two sent to each replica at the same time


def serve(port: int, creds: Path, db: str, hooks: str, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "patrol.cli", "serve", "--config", str(ROOT / "configs/quzhou.yaml"), "--port", str(port),
           "--db", db, "--credentials", str(creds), "--webhook-base", hooks, "--webhook-timeout", "2"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} not healthy in 90 s:\n{log.read_text()}")


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_two_replicas_one_killed_deliver_each_alert_once(store_url, creds, tmp_path):
    creds_file = tmp_path / "credentials.json"
    creds.save(creds_file)
    receiver = WebhookReceiver({d: c.webhook_secret for d, c in creds.departments.items()})
    receiver.start()
    receiver.respond_with(503)  # endpoints failing: messages pile up in the outbox, leased and retried
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [serve(p, creds_file, store_url, receiver.url, log) for p, log in zip(ports, logs)]  # migrate at once
    ingest = {"Authorization": f"Bearer {creds.ingest_token}"}
    keys = itertools.count()
    failures: list[str] = []
    half = threading.Event()

    def post(replica: int, body: dict) -> None:
        """Like a load balancer: a replica that does not answer is skipped for the other."""
        for attempt in range(40):
            url = urls[(replica + attempt) % 2]
            try:
                r = httpx.post(url + "/v1/sightings", json=body, headers=ingest, timeout=10)
                if r.status_code in (200, 201):
                    return
                if r.status_code != 503:
                    failures.append(f"{r.status_code} {r.text}")
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        failures.append(f"never stored: {body['key']}")

    def client(replica: int, copy: int) -> None:
        for n, spot in enumerate(SPOTS):
            if n == len(SPOTS) // 2:
                half.set()
            post(replica, sighting(f"rep-{n}-{replica}-{copy}-{next(keys)}", spot))

    try:
        for url, proc, log in zip(urls, procs, logs):
            wait_healthy(url, proc, log)
        threads = [threading.Thread(target=client, args=(r, c)) for r in (0, 1) for c in range(PER_SPOT // 2)]
        for t in threads:
            t.start()
        assert half.wait(60)
        time.sleep(1.0)  # replica 0 has taken sightings and holds their messages (503 → retrying)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(timeout=10)
        for t in threads:
            t.join(timeout=120)
        assert not failures, failures[:5]
        receiver.respond_with(204)
        # the survivor takes over the dead one's messages once their leases (2 s + 30 s) run out
        assert receiver.wait_for(len(SPOTS), timeout_s=120), f"{len(receiver.received)} of {len(SPOTS)} alerts arrived"
        time.sleep(3.0)  # anything sent twice would arrive by now
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        receiver.stop()

    engine = create_engine(store_url)
    with engine.connect() as conn:
        incidents = conn.execute(text("SELECT id, sighting_count FROM incidents")).all()
        alerts = {a for (a,) in conn.execute(text("SELECT id FROM alerts"))}
        undelivered = conn.execute(text("SELECT count(*) FROM deliveries WHERE state <> 'delivered'")).scalar_one()
        sightings = conn.execute(text("SELECT count(*) FROM sightings")).scalar_one()
    engine.dispose()
    assert sightings == len(SPOTS) * PER_SPOT
    assert len(incidents) == len(SPOTS) and all(c == PER_SPOT for _, c in incidents), "one incident per spot"
    got = [(w.department_id, w.payload["data"]["alert_id"], w.webhook_id) for w in receiver.received]
    assert len(got) == len(SPOTS), f"each alert exactly once, got {len(got)} deliveries"
    assert {a for _, a, _ in got} == alerts and len({w for _, _, w in got}) == len(SPOTS)
    assert all(dept.startswith("kecheng") for dept, _, _ in got)
    assert undelivered == 0


def test_metrics_show_outbox_lag_and_ingest_queue(live):
    """What the deployment guide says to watch: an alert stuck behind a failing endpoint shows as
    outbox lag, which falls back to 0 once it is delivered."""
    def gauge(name: str) -> float:
        for line in live.client.get(f"{live.url}/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in /metrics")

    assert gauge("dispatch_outbox_lag_seconds") == 0.0 and gauge("dispatch_ingest_queue_depth") == 0.0
    live.receiver.respond_with(503)
    assert live.post(sighting("lag-1")).status_code == 201
    assert live.wait_until(lambda: gauge("dispatch_outbox_lag_seconds") >= 0.5, timeout_s=15)
    live.receiver.respond_with(204)
    assert live.receiver.wait_for(1, timeout_s=15)
    assert live.wait_until(lambda: gauge("dispatch_outbox_lag_seconds") == 0.0, timeout_s=15)
