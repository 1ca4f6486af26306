"""Benchmark the dispatch service: geo-routing throughput and HTTP sighting → webhook latency.

1. Routing: 1,000,000 random points over Quzhou, 9 violation types, against the six district
   jurisdictions cut into 1,000+ grid pieces; the bulk path (points bucketed into cells, cell
   boxes through one STRtree bulk query, exact tests only near outlines) vs a per-point loop
   (one STRtree query per point, same rule) in the same run on the same points (loop on a
   sample); the decisions of both are compared.
2. Ingest: the dispatch server in its own process on 127.0.0.1 (SQLite WAL, synchronous=FULL),
   the webhook receiver (signature-checking) and the load generator in other processes. Every
   sighting is at a new place, so each one opens an incident and an alert → one signed webhook.
   The receiver runs in a third process. Paced phase: 32 client threads send each sighting at
   its scheduled time (default 200/s) for a bounded time; latency = webhook arrival at the
   receiver − the moment its sighting was POSTed (same clock, one machine). Unpaced phase: the
   same threads as fast as they can → the sustained sightings/s.

    .venv/bin/python scripts/bench_dispatch.py --json out/bench_dispatch.json
"""

from __future__ import annotations

import argparse
import base64
import gc
import http.client
import io
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from dispatch.credentials import Credentials  # noqa: E402
from dispatch.receiver import WebhookReceiver  # noqa: E402
from dispatch.router import GeoRouter  # noqa: E402
from dispatch.server import free_port  # noqa: E402
from patrol.config import load_city  # noqa: E402

CONFIG = ROOT / "configs/quzhou.yaml"
console = Console()


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, default=1_000_000, help="points for the bulk routing run")
    p.add_argument("--loop-points", type=int, default=50_000, help="points for the per-point baseline")
    p.add_argument("--min-pieces", type=int, default=1000, help="cut jurisdictions into at least this many pieces")
    p.add_argument("--rate", type=float, default=200.0, help="offered sightings/s in the paced phase")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the paced phase")
    p.add_argument("--burst", type=int, default=1500, help="sightings in the unpaced (max throughput) phase")
    p.add_argument("--clients", type=int, default=32, help="client threads (requests in flight at most)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args()


# ---------------------------------------------------------------- routing
def bench_routing(args, city) -> dict:
    cells = 8
    router = GeoRouter(city.departments, city.taxonomy, cells_per_side=cells)
    while router.piece_count < args.min_pieces:
        cells += 2
        router = GeoRouter(city.departments, city.taxonomy, cells_per_side=cells)
    x0, y0, x1, y1 = np.array([d.area.bounds for d in city.districts]).T
    rng = np.random.default_rng(args.seed)
    lon = rng.uniform(x0.min() - 0.05, x1.max() + 0.05, args.points)
    lat = rng.uniform(y0.min() - 0.05, y1.max() + 0.05, args.points)
    types = rng.integers(0, len(city.taxonomy.types), args.points)

    bulk_s = []
    for _ in range(3):
        t = time.perf_counter()
        dept, area = router.route_indices(lon, lat, types)
        bulk_s.append(time.perf_counter() - t)
    n = min(args.loop_points, args.points)
    t = time.perf_counter()
    loop = [router.route_one_indices(lon[i], lat[i], int(types[i])) for i in range(n)]
    loop_s = time.perf_counter() - t
    agree = sum(1 for i, x in enumerate(loop) if x == (dept[i], area[i])) / n
    bulk_rate = args.points / statistics.median(bulk_s)
    loop_rate = n / loop_s
    return {
        "routing_pieces": router.piece_count, "routing_grid_cells_per_side": cells, "routing_points": args.points,
        "routing_bulk_seconds_median": statistics.median(bulk_s), "routing_bulk_points_per_s": bulk_rate,
        "routing_loop_points": n, "routing_loop_points_per_s": loop_rate,
        "routing_bulk_over_loop": bulk_rate / loop_rate, "routing_bulk_loop_agreement": agree,
        "routing_points_outside_all_jurisdictions": int((area < 0).sum()),
    }


# ---------------------------------------------------------------- ingest
def serve_child(db_url: str, creds_path: str, receiver_url: str, port: int) -> None:
    """The dispatch server, alone in its process, as `patrol serve` would run it."""
    import uvicorn

    from dispatch.app import create_app
    from dispatch.departments import with_webhook_base
    from dispatch.settings import Settings

    city = load_city(CONFIG)
    settings = Settings(departments=with_webhook_base(city.departments, receiver_url), taxonomy=city.taxonomy,
                        credentials=Credentials.load(Path(creds_path))[0], database_url=db_url,
                        public_url=f"http://127.0.0.1:{port}")
    app = create_app(settings)
    gc.freeze()  # as `patrol serve` does
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def small_jpeg() -> str:
    buf = io.BytesIO()
    Image.effect_noise((160, 120), 40).convert("RGB").save(buf, format="JPEG", quality=80)
    return base64.b64encode(buf.getvalue()).decode()


def sightings(city, n: int, rng: np.random.Generator, prefix: str) -> list[dict]:
    """n sightings at distinct random places over the districts (each opens its own incident)."""
    x0, y0, x1, y1 = np.array([d.area.bounds for d in city.districts]).T
    codes = [t.code for t in city.taxonomy.types]
    photo = small_jpeg()
    when = (datetime.now(timezone.utc) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lon = rng.uniform(x0.min(), x1.max(), n)
    lat = rng.uniform(y0.min(), y1.max(), n)
    return [{
        "key": f"{prefix}-{i}", "type": codes[i % len(codes)], "confidence": 0.8, "lat": float(lat[i]),
        "lon": float(lon[i]), "uncertainty_m": 4.0, "time": when, "footprint": None,
        "image": {"ref": f"bench/{prefix}-{i}.jpg", "box": [10, 10, 90, 90]}, "evidence_jpeg_b64": photo,
        "model_version": "bench", "drone_id": "uav-01", "sortie_id": prefix,
    } for i in range(n)]


def receiver_child(creds_path: str, port: int, conn) -> None:
    """The departments' side in its own process (its own GIL): verify, record, report on request."""
    creds, _ = Credentials.load(Path(creds_path))
    receiver = WebhookReceiver({d: c.webhook_secret for d, c in creds.departments.items()}, port=port)
    receiver.start()
    conn.send("ready")
    while (cmd := conn.recv()) != "stop":
        if cmd == "count":
            conn.send(len(receiver.received))
        elif cmd == "dump":
            conn.send(([(w.payload["data"]["alert_id"], w.received_at, w.webhook_id) for w in receiver.received],
                       len(receiver.rejected)))
    receiver.stop()


class ReceiverProcess:
    def __init__(self, creds_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._conn, child_conn = mp.Pipe()
        self._proc = mp.get_context("spawn").Process(target=receiver_child, args=(str(creds_path), self.port, child_conn))
        self._proc.start()
        if not self._conn.poll(60) or self._conn.recv() != "ready":
            raise RuntimeError("webhook receiver process did not start")

    def wait_for(self, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._conn.send("count")
            if self._conn.recv() >= count:
                return True
            time.sleep(0.05)
        return False

    def dump(self) -> tuple[list[tuple[str, float, str]], int]:
        self._conn.send("dump")
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(30)


class Load:
    """Posts sightings from a pool of client threads, each at its scheduled time when paced;
    remembers when each alert's sighting was sent. Plain keep-alive http.client connections and
    bodies serialised up front, so the load generator takes little CPU from the server."""

    def __init__(self, url: str, clients: int, ingest_token: str):
        self.host, self.port = url.split("//")[1].split(":")
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ingest_token}"}
        self.pool = ThreadPoolExecutor(clients)
        self.sent_at: dict[str, float] = {}
        self.errors = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _post(self, body: bytes, not_before: float | None) -> None:
        if not_before is not None:
            time.sleep(max(0.0, not_before - time.time()))
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
        t = time.time()
        conn.request("POST", "/v1/sightings", body=body, headers=self.headers)
        resp = conn.getresponse()
        answer = json.loads(resp.read())
        with self._lock:
            if resp.status == 201 and answer.get("alert_id"):
                self.sent_at[answer["alert_id"]] = t
            elif resp.status != 201:
                self.errors += 1

    def run(self, bodies: list[dict], rate: float | None) -> float:
        """Post all; paced at `rate`/s if given. Returns seconds from the first send to the last answer."""
        payloads = [json.dumps(b).encode() for b in bodies]
        start = time.time() + (0.2 if rate else 0.0)  # paced: a moment for the threads to line up
        futures = [self.pool.submit(self._post, p, start + i / rate if rate else None) for i, p in enumerate(payloads)]
        for f in futures:
            f.result()
        return time.time() - start

    def close(self) -> None:
        self.pool.shutdown()


def latencies(load: Load, arrived: dict[str, float], alert_ids: set[str]) -> list[float]:
    return sorted((arrived[a] - load.sent_at[a]) * 1000 for a in alert_ids if a in arrived)


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def bench_ingest(args, city) -> dict:
    rng = np.random.default_rng(args.seed)
    creds = Credentials.generate([d.id for d in city.departments])
    with tempfile.TemporaryDirectory() as tmp:
        creds.save(Path(tmp) / "creds.json")
        receiver = ReceiverProcess(Path(tmp) / "creds.json")
        port = free_port()
        child = mp.get_context("spawn").Process(
            target=serve_child, args=(f"sqlite:///{tmp}/dispatch.db", f"{tmp}/creds.json", receiver.url, port))
        child.start()
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            load = Load(url, args.clients, creds.ingest_token)
            load.run(sightings(city, 50, rng, "warmup"), None)
            receiver.wait_for(len(load.sent_at), 30)

            paced_n = int(args.rate * args.seconds)
            before = set(load.sent_at)
            paced_bodies = sightings(city, paced_n, rng, "paced")
            cpu0 = cpu_seconds(child.pid)
            wall = load.run(paced_bodies, args.rate)
            paced_ids = set(load.sent_at) - before
            receiver.wait_for(len(load.sent_at), 60)
            server_cpu_ms = (cpu_seconds(child.pid) - cpu0) / paced_n * 1000

            before = set(load.sent_at)
            burst_wall = load.run(sightings(city, args.burst, rng, "burst"), None)
            burst_ids = set(load.sent_at) - before
            receiver.wait_for(len(load.sent_at), 120)
            load.close()
            got, rejected = receiver.dump()
            arrived = {alert_id: at for alert_id, at, _ in got}
            paced_lat = latencies(load, arrived, paced_ids)
            burst_lat = latencies(load, arrived, burst_ids)
            return {
                "ingest_offered_sightings_per_s": args.rate, "ingest_paced_sightings": paced_n,
                "ingest_paced_achieved_sightings_per_s": paced_n / wall,
                "ingest_paced_alerts": len(paced_ids), "ingest_paced_webhooks_received": len(paced_lat),
                "webhook_latency_ms_p50_at_rate": pct(paced_lat, 50), "webhook_latency_ms_p99_at_rate": pct(paced_lat, 99),
                "webhook_latency_ms_max_at_rate": max(paced_lat) if paced_lat else float("nan"),
                "ingest_max_sightings_per_s": args.burst / burst_wall, "ingest_burst_sightings": args.burst,
                "webhook_latency_ms_p50_unpaced": pct(burst_lat, 50), "webhook_latency_ms_p99_unpaced": pct(burst_lat, 99),
                "server_cpu_ms_per_sighting": server_cpu_ms,
                "ingest_errors": load.errors, "webhook_signature_failures": rejected,
                "webhook_duplicates": len(got) - len({webhook_id for _, _, webhook_id in got}),
            }
        finally:
            child.terminate()
            child.join(30)
            receiver.stop()


def main() -> None:
    args = parse_args()
    city = load_city(CONFIG)
    load_before = os.getloadavg()[0]
    console.print("routing benchmark …")
    out = bench_routing(args, city)
    console.print("ingest benchmark (HTTP, receiver live) …")
    out |= bench_ingest(args, city)
    out |= {"cpu_count": os.cpu_count(), "load_average_1min_before": load_before, "load_average_1min_after": os.getloadavg()[0]}

    table = Table(title=f"dispatch benchmark (SQLite, 127.0.0.1; {out['cpu_count']} CPUs, load average "
                        f"{out['load_average_1min_before']:.1f} before / {out['load_average_1min_after']:.1f} after)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("vs", justify="right")
    table.add_row(f"route {out['routing_points']:,} pts, {out['routing_pieces']} pieces: STRtree bulk",
                  f"{out['routing_bulk_points_per_s']:,.0f} pts/s", f"target 1,000,000: ×{out['routing_bulk_points_per_s'] / 1e6:.2f}")
    table.add_row(f"route per-point loop ({out['routing_loop_points']:,} pts)", f"{out['routing_loop_points_per_s']:,.0f} pts/s",
                  f"bulk ×{out['routing_bulk_over_loop']:.1f} faster")
    table.add_row("bulk = loop decisions", f"{out['routing_bulk_loop_agreement']:.4%}", "")
    table.add_row(f"paced ingest (offered {out['ingest_offered_sightings_per_s']:.0f}/s)",
                  f"{out['ingest_paced_achieved_sightings_per_s']:.0f} sightings/s",
                  f"{out['ingest_paced_webhooks_received']}/{out['ingest_paced_alerts']} alerts' webhooks")
    table.add_row("server CPU per sighting (ingest + webhook)", f"{out['server_cpu_ms_per_sighting']:.2f} ms", "")
    table.add_row("sighting → webhook p50 at rate", f"{out['webhook_latency_ms_p50_at_rate']:.1f} ms", "")
    table.add_row("sighting → webhook p99 at rate", f"{out['webhook_latency_ms_p99_at_rate']:.1f} ms",
                  f"target 100 ms: ×{out['webhook_latency_ms_p99_at_rate'] / 100:.2f}")
    table.add_row(f"unpaced ingest ({out['ingest_burst_sightings']} sightings)", f"{out['ingest_max_sightings_per_s']:.0f} sightings/s",
                  f"×{out['ingest_max_sightings_per_s'] / out['ingest_offered_sightings_per_s']:.1f} of offered rate")
    table.add_row("sighting → webhook p50 / p99 unpaced",
                  f"{out['webhook_latency_ms_p50_unpaced']:.0f} / {out['webhook_latency_ms_p99_unpaced']:.0f} ms", "")
    table.add_row("errors / bad signatures / duplicate webhooks",
                  f"{out['ingest_errors']} / {out['webhook_signature_failures']} / {out['webhook_duplicates']}", "")
    console.print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
        console.print(f"figures written: {args.json}")


if __name__ == "__main__":
    main()
