"""`patrol ops configs/quzhou.yaml --sim` as its own process (23 simulated drones over UDP), driven by
`patrol task add|list` and plain HTTP; stopped and started again on the same task store."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from dispatch.server import free_port
from patrol.cli import app
from patrol.config import load_city

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs/quzhou.yaml"


def start(port: int, db: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "patrol.cli", "ops", str(CONFIG), "--sim", "--speed", "10", "--port", str(port),
           "--db", str(db)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            drones = httpx.get(f"http://127.0.0.1:{port}/v1/drones", timeout=2).json()["drones"]
            if all(d["status"] == "docked" for d in drones):
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"patrol ops did not come up: {proc.stdout.read() if proc.stdout else ''}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)


def test_patrol_ops_flies_a_task_added_with_patrol_task_and_keeps_tasks_across_a_restart(tmp_path):
    port, db = free_port(), tmp_path / "ops.sqlite"
    server = f"http://127.0.0.1:{port}"
    dock = load_city(CONFIG).docks[16]  # dock-17, in the Kecheng core
    runner = CliRunner()
    proc = start(port, db)
    try:
        added = runner.invoke(app, ["task", "add", "--point", f"{dock.lon + 0.003},{dock.lat + 0.002}",
                                    "--type", "exposed_garbage", "--server", server])
        assert added.exit_code == 0, added.output
        task_id = re.search(r"T\d{5}", added.output).group(0)
        later = runner.invoke(app, ["task", "add", "--point", f"{dock.lon},{dock.lat + 0.004}", "--kind", "timed",
                                    "--at", "2099-01-01T08:00:00+08:00", "--server", server])
        assert later.exit_code == 0, later.output
        bad = runner.invoke(app, ["task", "add", "--point", "118.87,28.95", "--type", "ufo", "--server", server])
        assert bad.exit_code == 2 and "type_code" in bad.output
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            task = httpx.get(f"{server}/v1/tasks/{task_id}", timeout=5).json()
            if task["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
        assert task["status"] == "done" and task["photos"] >= 1, [(e["status"], e["note"]) for e in task["history"]]  # 100 m square at 100 m AGL: one photo
        why = next(e["why"] for e in task["history"] if e["status"] == "dispatched")
        assert why["chosen"] == "uav-17" and len(why["candidates"]) == 23
        listed = runner.invoke(app, ["task", "list", "--server", server])
        assert task_id in listed.output and "done" in listed.output
    finally:
        stop(proc)
    proc = start(port, db)
    try:
        tasks = {t["id"]: t for t in httpx.get(f"{server}/v1/tasks", timeout=5).json()["tasks"]}
        assert tasks[task_id]["status"] == "done"
        [timed] = [t for t in tasks.values() if t["kind"] == "timed"]
        assert timed["status"] == "waiting" and timed["due"].startswith("2099-01-01T00:00:00")
        docs = httpx.get(f"{server}/openapi.json", timeout=5).json()
        assert {"/v1/tasks", "/v1/drones", "/requests.json", "/v1/cap", "/v1/alarms"} <= set(docs["paths"])
    finally:
        stop(proc)
