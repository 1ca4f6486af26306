"""`patrol serve` starts the service from the city config, with credentials made on first start."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dispatch.server import free_port
from tests.dispatch.conftest import sighting

ROOT = Path(__file__).resolve().parents[2]


def test_patrol_serve_runs_the_service(tmp_path):
    port, creds = free_port(), tmp_path / "credentials.json"
    cmd = [sys.executable, "-m", "patrol.cli", "serve", "--config", str(ROOT / "configs/quzhou.yaml"),
           "--port", str(port), "--db", f"sqlite:///{tmp_path / 'dispatch.db'}", "--credentials", str(creds)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        saved = json.loads(creds.read_text())
        assert oct(creds.stat().st_mode & 0o777) == "0o600"
        assert "kecheng-urban" in saved["departments"]

        token = saved["departments"]["kecheng-urban"]["token"]
        assert httpx.post(url + "/v1/sightings", json=sighting("serve-0")).status_code == 401
        assert httpx.post(url + "/v1/sightings", json=sighting("serve-0"), headers={"Authorization": f"Bearer {token}"}).status_code == 401
        r = httpx.post(url + "/v1/sightings", json=sighting("serve-1"), headers={"Authorization": f"Bearer {saved['ingest_token']}"})
        assert r.status_code == 201 and r.json()["department_id"] == "kecheng-urban"
        alerts = httpx.get(url + "/v1/alerts", headers={"Authorization": f"Bearer {token}"}).json()["alerts"]
        assert [a["alert_id"] for a in alerts] == [r.json()["alert_id"]]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
