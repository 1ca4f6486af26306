"""Reliability report: break dispatch on purpose while sightings stream in, then count what was lost.

Each scenario runs the real `patrol serve` in its own process on 127.0.0.1 (SQLite WAL, a
fresh file per scenario), a signature-checking webhook receiver, and client threads that post one new
sighting at a new place at a fixed rate (each opens an incident → an alert → a webhook) and
retry a post until it is accepted, as the photo stage does. Afterwards the store and the
receiver are audited: data lost = sightings that got a 2xx but are not stored + stored alerts
whose webhook never arrived + sightings never accepted. It must be 0.

1. kill -9: dispatch is killed with SIGKILL halfway and started again on the same store.
2. receiver failing: the departments' endpoint answers 503 to 30 % of deliveries (seeded),
   for --minutes; the server's RSS is sampled over time; p99 of the post and of sighting → webhook.

    .venv/bin/python scripts/reliability_report.py                   # short (~1.5 min)
    .venv/bin/python scripts/reliability_report.py --minutes 10 --json out/reliability.json
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from PIL import Image  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from dispatch.credentials import Credentials  # noqa: E402
from dispatch.receiver import WebhookReceiver  # noqa: E402
from dispatch.server import free_port  # noqa: E402
from patrol.config import load_city  # noqa: E402

CONFIG = ROOT / "configs/quzhou.yaml"
RETRY_FOR_S = 120.0  # a client gives a sighting up after this long without a 2xx (counted as lost)
console = Console(width=170)


@dataclass
class Outcome:
    """One scenario's row of the report."""

    test: str
    faults: str
    requests: int  # every POST made, retries included
    sightings: int
    accepted: int
    lost: int
    lost_detail: dict[str, int]
    post_p99_ms: float
    webhook_p99_ms: float
    seconds: float
    offered_per_s: float
    achieved_per_s: float  # sightings accepted / seconds from the first send to the last answer
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (s since start, server RSS)


class Server:
    """`patrol serve` in a child process; kill() is SIGKILL, start() again reuses port, store and credentials."""

    def __init__(self, db: str, creds: Path, hooks: str, log: Path, retry_cap_s: float):
        self.port, self.db, self.creds, self.hooks, self.log, self.retry_cap_s = free_port(), db, creds, hooks, log, retry_cap_s
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 90.0) -> None:
        cmd = [sys.executable, "-m", "patrol.cli", "serve", "--config", str(CONFIG), "--port", str(self.port),
               "--db", self.db, "--credentials", str(self.creds), "--webhook-base", self.hooks,
               "--webhook-timeout", "2", "--webhook-retry-cap", str(self.retry_cap_s)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log.open("a"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"patrol serve exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"patrol serve not healthy within {timeout_s:.0f} s")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


class Sightings:
    """Sighting i: a new place over the districts, made when it is sent (nothing held up front)."""

    def __init__(self, prefix: str, seed: int):
        city = load_city(CONFIG)
        self.boxes = [d.area.bounds for d in city.districts]
        self.codes = [t.code for t in city.taxonomy.types]
        self.prefix, self.seed = prefix, seed
        buf = io.BytesIO()
        Image.effect_noise((160, 120), 40).convert("RGB").save(buf, format="JPEG", quality=80)
        self.photo = base64.b64encode(buf.getvalue()).decode()

    def key(self, i: int) -> str:
        return f"{self.prefix}-{i}"

    def body(self, i: int) -> bytes:
        rng = random.Random(self.seed * 1_000_003 + i)
        x0, y0, x1, y1 = self.boxes[i % len(self.boxes)]
        lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
        when = (datetime.now(timezone.utc) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json.dumps({
            "key": self.key(i), "type": self.codes[i % len(self.codes)], "confidence": 0.8, "lat": lat, "lon": lon,
            "uncertainty_m": 4.0, "time": when, "footprint": None,
            "image": {"ref": f"reliability/{self.key(i)}.jpg", "box": [10, 10, 90, 90]}, "evidence_jpeg_b64": self.photo,
            "model_version": "reliability", "drone_id": "uav-01", "sortie_id": self.prefix}).encode()


class Stream:
    """Client threads posting sighting i at start + i/rate, each retried (transport error, 5xx)
    until a 2xx or RETRY_FOR_S; keep-alive connections, reopened after an error."""

    def __init__(self, url: str, token: str, made: Sightings, clients: int = 32):
        self.host, self.port = "127.0.0.1", int(url.rsplit(":", 1)[1])
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.made = made
        self.pool = ThreadPoolExecutor(clients)
        self.accepted: dict[str, tuple[str | None, float]] = {}  # key → (alert id, when first sent)
        self.refused: dict[str, str] = {}  # 4xx: a bug in this script or in dispatch
        self.gave_up: list[str] = []
        self.post_ms: list[float] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        if getattr(self._local, "conn", None) is None:
            self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        return self._local.conn

    def _send(self, i: int, at: float) -> None:
        time.sleep(max(0.0, at - time.time()))
        body, first = self.made.body(i), time.time()
        while time.time() - first < RETRY_FOR_S:
            t = time.perf_counter()
            try:
                conn = self._conn()
                conn.request("POST", "/v1/sightings", body=body, headers=self.headers)
                resp = conn.getresponse()
                answer = json.loads(resp.read() or b"{}")
            except (OSError, http.client.HTTPException, ValueError):
                self._local.conn = None
                with self._lock:
                    self.requests += 1
                time.sleep(0.2)
                continue
            with self._lock:
                self.requests += 1
                self.post_ms.append((time.perf_counter() - t) * 1000)
                if resp.status in (200, 201):
                    self.accepted[self.made.key(i)] = (answer.get("alert_id"), first)
                    return
                if resp.status < 500:
                    self.refused[self.made.key(i)] = f"{resp.status} {answer.get('detail')}"
                    return
            time.sleep(0.2)
        with self._lock:
            self.gave_up.append(self.made.key(i))

    def run(self, rate: float, seconds: float, at_fraction: tuple[float, callable] | None = None) -> tuple[int, float]:
        """Send rate × seconds sightings; `at_fraction` = (f, action): action() once f of them are scheduled.
        Returns how many, and the seconds from the first send to the last answer."""
        n = int(rate * seconds)
        start = time.time() + 0.2
        futures = []
        for i in range(n):
            futures.append(self.pool.submit(self._send, i, start + i / rate))
            if at_fraction and i == int(n * at_fraction[0]):
                time.sleep(max(0.0, start + i / rate - time.time()))
                at_fraction[1]()
            if i % 200 == 0:  # keep the queue short: submit as time goes, not all at once
                time.sleep(max(0.0, start + (i - 100) / rate - time.time()))
        for f in futures:
            f.result()
        self.pool.shutdown()
        return n, time.time() - start


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def audit(db: str, stream: Stream, receiver: WebhookReceiver, drain_s: float) -> tuple[dict[str, int], list[float]]:
    """What was lost: 2xx but not stored, stored alert never delivered, never accepted."""
    engine = create_engine(db)
    with engine.connect() as conn:
        stored = {k for (k,) in conn.execute(text("SELECT key FROM sightings"))}
        alerts = {a for (a,) in conn.execute(text("SELECT id FROM alerts WHERE status <> 'held'"))}
    engine.dispose()
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline and not alerts <= {w.payload["data"]["alert_id"] for w in receiver.received}:
        time.sleep(0.5)
    arrived: dict[str, float] = {}
    for w in receiver.received:
        arrived.setdefault(w.payload["data"]["alert_id"], w.received_at)
    lat = [(arrived[a] - sent) * 1000 for a, sent in stream.accepted.values() if a in arrived]
    return {"acknowledged_not_stored": len(set(stream.accepted) - stored),
            "alerts_not_delivered": len(alerts - set(arrived)),
            "never_accepted": len(stream.gave_up) + len(stream.refused)}, lat


def scenario(name: str, rate: float, seconds: float, kill_at: float | None, fail_share: float,
             seed: int, retry_cap_s: float = 10.0, drain_s: float = 120.0) -> Outcome:
    """One run: stream at `rate` for `seconds`; SIGKILL + restart at `kill_at` (fraction) if given;
    the receiver failing `fail_share` of deliveries while the stream runs."""
    made = Sightings(f"{name}-{seed}", seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/dispatch.db"  # a fresh store per scenario: the audit sees this run only
        creds = Credentials.generate([d.id for d in load_city(CONFIG).departments])
        creds.save(Path(tmp) / "credentials.json")
        receiver = WebhookReceiver({d: c.webhook_secret for d, c in creds.departments.items()})
        receiver.start()
        receiver.fail_share(fail_share, seed)
        server = Server(url, Path(tmp) / "credentials.json", receiver.url, Path(tmp) / "serve.log", retry_cap_s)
        rss: list[tuple[float, float]] = []
        done = threading.Event()
        try:
            server.start()
            t0 = time.monotonic()

            def sample() -> None:
                while not done.wait(5.0):
                    try:
                        rss.append((round(time.monotonic() - t0, 1), round(server.rss_mb(), 1)))
                    except OSError:  # between a kill and the restart
                        pass

            threading.Thread(target=sample, daemon=True).start()
            kills = []

            def crash() -> None:
                server.kill()
                kills.append(time.monotonic() - t0)
                server.start()

            stream = Stream(server.url, creds.ingest_token, made)
            n, wall = stream.run(rate, seconds, (kill_at, crash) if kill_at is not None else None)
            receiver.fail_share(0.0)  # the stream is over: let the outbox drain
            lost, webhook_ms = audit(url, stream, receiver, drain_s)
            elapsed = time.monotonic() - t0
        finally:
            done.set()
            server.stop()
            receiver.stop()
    faults = []
    if kills:
        faults.append(f"SIGKILL of dispatch at {kills[0]:.0f} s, restarted")
    if fail_share:
        faults.append(f"{receiver.failed_on_purpose} webhook 503s ({fail_share:.0%})")
    return Outcome(name, "; ".join(faults) or "none", stream.requests, n, len(stream.accepted), sum(lost.values()),
                   lost, pct(stream.post_ms, 99), pct(webhook_ms, 99), round(elapsed, 1), rate,
                   round(len(stream.accepted) / wall, 1), rss)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=0.5, help="length of the failing-receiver load run (10 for the full one)")
    p.add_argument("--kill-seconds", type=float, default=30.0, help="length of the kill -9 run")
    p.add_argument("--rate", type=float, default=200.0, help="sightings/s offered (bench_dispatch's paced rate)")
    p.add_argument("--fail-share", type=float, default=0.3, help="share of webhook deliveries the receiver fails")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="write every figure (RSS series included) here")
    return p.parse_args(argv)


def show(outcomes: list[Outcome], load_avg: tuple[float, float]) -> None:
    table = Table(title=f"dispatch reliability ({os.cpu_count()} CPUs, load average {load_avg[0]:.1f} before / "
                        f"{load_avg[1]:.1f} after)")
    for col in ("test", "faults injected", "requests sent", "sightings accepted", "offered → achieved", "data lost", "post p99",
                "sighting→webhook p99", "server RSS start → max → end"):
        table.add_column(col, justify="left" if col in ("test", "faults injected") else "right")
    for o in outcomes:
        mem = [m for _, m in o.rss_mb]
        rss = f"{mem[0]:.0f} → {max(mem):.0f} → {mem[-1]:.0f} MB" if mem else "—"
        table.add_row(o.test, o.faults, f"{o.requests:,}", f"{o.accepted:,}/{o.sightings:,}",
                      f"{o.offered_per_s:.0f} → {o.achieved_per_s:.0f}/s",
                      f"[{'green' if o.lost == 0 else 'red'}]{o.lost}[/]", f"{o.post_p99_ms:.0f} ms",
                      f"{o.webhook_p99_ms:.0f} ms", rss)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    before = os.getloadavg()[0]
    outcomes = []
    console.print(f"kill -9 under load: {args.rate:.0f}/s for {args.kill_seconds:.0f} s …")
    outcomes.append(scenario("kill -9 dispatch", args.rate, args.kill_seconds, 0.5, 0.0, args.seed))
    console.print(f"receiver failing {args.fail_share:.0%}: {args.rate:.0f}/s for {args.minutes:g} min …")
    outcomes.append(scenario(f"receiver failing, {args.minutes:g} min", args.rate, args.minutes * 60, None,
                             args.fail_share, args.seed + 1))
    show(outcomes, (before, os.getloadavg()[0]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rate": args.rate, "minutes": args.minutes, "cpu_count": os.cpu_count(),
                                         "load_average_before": before, "load_average_after": os.getloadavg()[0],
                                         "outcomes": [asdict(o) for o in outcomes]}, indent=1))
        console.print(f"figures written: {args.json}")
    return 0 if all(o.lost == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
