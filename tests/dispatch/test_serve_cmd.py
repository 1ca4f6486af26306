"""`patrol serve` starts the service from the city config, with credentials made on first start:
the tokens are printed once and only their digests are saved."""

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
        shown = _tokens_shown(proc)
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
        token, ingest = shown["department kecheng-urban (shared login)"], shown["ingest 上报 (patrol run)"]
        assert token not in creds.read_text() and ingest not in creds.read_text()
        assert httpx.post(url + "/v1/sightings", json=sighting("serve-0")).status_code == 401
        assert httpx.post(url + "/v1/sightings", json=sighting("serve-0"), headers={"Authorization": f"Bearer {token}"}).status_code == 401
        r = httpx.post(url + "/v1/sightings", json=sighting("serve-1"), headers={"Authorization": f"Bearer {ingest}"})
        assert r.status_code == 201 and r.json()["department_id"] == "kecheng-urban"
        alerts = httpx.get(url + "/v1/alerts", headers={"Authorization": f"Bearer {token}"}).json()["alerts"]
        assert [a["alert_id"] for a in alerts] == [r.json()["alert_id"]]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _tokens_shown(proc: subprocess.Popen) -> dict[str, str]:
    """What `patrol serve` printed under "shown once" (label → token), read from its output."""
    shown: dict[str, str] = {}
    for _ in range(200):
        line = proc.stdout.readline()
        if not line or line.startswith("dashboard"):
            break
        if line.startswith("  ") and ": " in line:
            label, token = line.strip().rsplit(": ", 1)
            shown[label] = token
    return shown
