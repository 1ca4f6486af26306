"""The whole 综合飞一次 loop on one machine, on the embedded defaults.

plan (flight.planner) → fly simulated drones over MAVLink/UDP (flight.fleet + flight.sim) →
render each photo from the synthetic world at the camera's pose (detector.synth) → detect and
georeference (detector) → POST sightings to a dispatch service started here (HTTP) → signed
webhooks to one local receiver standing in for every department → score against what was planted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from shapely.geometry import LineString
from shapely.ops import unary_union

from detector.detect import DEFAULT_MODEL, Detector, DetectorSettings
from detector.synth.world import World
from dispatch.app import create_app
from dispatch.credentials import Credentials
from dispatch.departments import with_webhook_base
from dispatch.receiver import WebhookReceiver
from dispatch.server import BackgroundServer
from dispatch.settings import IncidentWindows, Settings
from flight.fleet.result import FleetResult
from flight.mavlink.clock import ScaledClock
from flight.planner import Plan, plan_patrol
from flight.sim.faults import Faults
from flight.sim.swarm import SimSetup
from patrol.config import City, load_city
from patrol.demo.area import demo_zones, nearest_docks
from patrol.demo.pose_errors import PROFILES, ReportedPoses
from patrol.demo.result import AlertRecord, DemoResult, FleetEvent
from patrol.demo.truth import expected_department, planted_in
from patrol.evaluation import Reported, duplicate_alerts, score
from patrol.pipeline.loop import Reporting, fly_patrol
from patrol.pipeline.photos import PhotoStats
from patrol.pipeline.sources import SyntheticCamera

DELIVERY_WAIT_S = 60.0


@dataclass
class DemoOptions:
    config: Path = Path("configs/quzhou.yaml")
    area_km2: float = 2.0
    drones: int = 5
    speed: float = 60.0
    seed: int = 7
    violation_rate: float = 0.3  # planted violations per 72 m city block: a few dozen per km²
    render_scale: float = 0.5
    battery_sag: bool = True
    model: Path = DEFAULT_MODEL
    pose_errors: str | None = None  # a profile of patrol.demo.pose_errors: reported poses off as real drones' are
    work_dir: Path = Path("out/demo")
    live: bool = True
    stage_s: dict[str, float] = field(default_factory=dict)


def _timed(opts: DemoOptions, stage: str, t0: float) -> float:
    now = time.perf_counter()
    opts.stage_s[stage] = now - t0
    return now


def sag_victim(plan: Plan) -> tuple[str, Faults]:
    """Battery sag on the drone with the longest first sortie, 40% into it: enough charge lost to
    trip the battery failsafe, so its unflown rest must be re-planned onto another drone."""
    firsts = {}
    for s in sorted(plan.sorties, key=lambda s: (s.start_s or 0.0, s.id)):
        firsts.setdefault(s.drone_id, s)
    victim = max(firsts.values(), key=lambda s: (s.duration_s, s.id))
    return victim.drone_id, Faults(battery_sag=(0.4 * victim.duration_s, 0.65))


def run_demo(opts: DemoOptions, console: Console | None = None) -> DemoResult:
    console = console or Console()
    t_start = t = time.perf_counter()
    city = load_city(opts.config)
    zones = demo_zones(city, opts.area_km2)
    docks = nearest_docks(city, zones, opts.drones)
    plan = plan_patrol(zones, city.no_fly, docks, name="demo")
    t = _timed(opts, "plan", t)
    console.print(f"planned {len(plan.sorties)} sorties over {len(zones)} zones "
                  f"({sum(city.frame.area_km2(z.area) for z in zones):.2f} km²) for {len(docks)} drones")

    # planted as distinct incidents: same-type violations no closer than dispatch would merge them
    windows = IncidentWindows.load()
    codes = tuple(sorted(city.taxonomy.codes))
    world = World(seed=opts.seed, violation_rate=opts.violation_rate, codes=codes,
                  min_spacing_m={c: windows.of(c).distance for c in codes})
    planted = planted_in(world, zones)
    # The demo photographs the synthetic city the model is validated on, so nothing is held as unverified.
    profile = PROFILES[opts.pose_errors] if opts.pose_errors else None
    det_settings = DetectorSettings(mark_unverified=False, **({"pose_errors": profile.detector_sigmas()} if profile else {}))
    detector = Detector(opts.model, taxonomy_codes=city.taxonomy.codes, settings=det_settings)
    clock = ScaledClock(opts.speed)
    creds = Credentials.generate([d.id for d in city.departments])
    receiver = WebhookReceiver({d: c.webhook_secret for d, c in creds.departments.items()})
    receiver.start()
    departments = with_webhook_base(city.departments, receiver.url)
    opts.work_dir.mkdir(parents=True, exist_ok=True)
    db = opts.work_dir / "dispatch.db"
    for stale in opts.work_dir.glob("dispatch.db*"):
        stale.unlink()
    settings = Settings(departments=departments, taxonomy=city.taxonomy, credentials=creds,
                        database_url=f"sqlite:///{db}", city_name=f"{city.info.name} {city.info.name_en}",
                        clock=clock.utc, windows=windows)
    server = BackgroundServer(create_app(settings))
    server.start()
    camera = SyntheticCamera(world, opts.work_dir / "photos", opts.render_scale)
    if profile:
        camera = ReportedPoses(camera, profile, seed=opts.seed)
    reporting = Reporting(camera, detector, server.url, creds.ingest_token, unary_union([z.area for z in zones]))
    faults = dict([sag_victim(plan)]) if opts.battery_sag else {}
    t = _timed(opts, "start services", t)
    try:
        outcome = fly_patrol(plan, docks, reporting, console=console, clock=clock,
                             sim=SimSetup(speed=opts.speed, faults=faults), live=opts.live,
                             totals=lambda: [f"[bold]{len(receiver.received)}[/] alerts delivered 已推送告警"])
        opts.stage_s.update({"fly": outcome.fly_s, "photos after landing": outcome.drain_s})
        t = time.perf_counter()
        _wait_delivered(server.url, creds.admin_token)
        alerts = _collect_alerts(city, server.url, creds, receiver, outcome.photos)
        t = _timed(opts, "deliver", t)
    finally:
        server.stop()
        receiver.stop()
    scores = score(planted, [Reported(a.incident_id, a.type, a.lon, a.lat) for a in alerts], city.frame)
    return _result(city, zones, docks, plan, outcome.fleet, outcome.photos, planted, alerts, scores, opts,
                   time.perf_counter() - t_start, clock)


def _wait_delivered(url: str, admin_token: str) -> None:
    """Until dispatch's outbox holds nothing pending (bounded)."""
    deadline = time.monotonic() + DELIVERY_WAIT_S
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=10) as client:
        while time.monotonic() < deadline:
            outbox = client.get("/v1/admin/stats").raise_for_status().json()["outbox"]
            if not outbox.get("pending", 0) and not outbox.get("retrying", 0):
                return
            time.sleep(0.2)
    raise TimeoutError(f"dispatch still had undelivered webhooks after {DELIVERY_WAIT_S:.0f} s: {outbox}")


def _collect_alerts(city: City, url: str, creds: Credentials, receiver: WebhookReceiver,
                    stats: PhotoStats) -> list[AlertRecord]:
    """Each department's alerts as its own token sees them (refined positions), joined with the
    webhook it received (for the photo → webhook time)."""
    hooks = {r.payload["data"]["alert_id"]: r for r in receiver.received if r.payload.get("type") == "alert.created"}
    out = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for dep in city.departments:
            token = creds.token(dep.id)
            listing = client.get("/v1/alerts", params={"limit": 500},
                                 headers={"Authorization": f"Bearer {token}"}).raise_for_status().json()["alerts"]
            for a in listing:
                hook = hooks.get(a["alert_id"])
                lon, lat = a["location"]["coordinates"]
                # routing is decided where the incident was first seen: the webhook's location
                routed_at = hook.payload["data"]["location"]["coordinates"] if hook else (lon, lat)
                first_photo = (hook.payload["data"].get("evidence") or {}).get("image_ref", "") if hook else ""
                ready = stats.ready_at.get(first_photo)
                out.append(AlertRecord(
                    incident_id=str(a["incident_id"]), type=a["type"]["code"], lon=lon, lat=lat,
                    department_id=hook.department_id if hook else "(no webhook)",
                    expected_department_id=expected_department(city, a["type"]["code"], *routed_at),
                    sightings=a["sighting_count"],
                    photo_to_webhook_s=(hook.received_at - ready) if hook and ready else float("nan"),
                ))
    return out


def _result(city, zones, docks, plan, fleet: FleetResult, stats: PhotoStats, planted, alerts, scores,
            opts: DemoOptions, total_s: float, clock: ScaledClock) -> DemoResult:
    frame = city.frame
    covered = fleet.covered(frame)
    zones_m = {z.id: frame.to_metric(z.area) for z in zones}
    by_zone = {zid: zm.intersection(covered).area / zm.area for zid, zm in zones_m.items()}
    zone_total = sum(zm.area for zm in zones_m.values())
    coverage = sum(by_zone[zid] * zm.area for zid, zm in zones_m.items()) / zone_total
    tracks = {d: LineString([(lon, lat) for _, lat, lon, _ in pts]) for d, pts in fleet.tracks.items() if len(pts) > 1}
    events = [FleetEvent(r.at_s, r.drone_id, f"{r.reason}: sortie {r.from_sortie} stopped after item {r.last_item}; "
                                          f"re-planned as {', '.join(r.new_sorties) or 'nothing'}") for r in fleet.replans]
    footprints = [frame.to_lonlat(p) for p in fleet.footprints(frame).values()]
    return DemoResult(
        zones=zones, zone_km2=zone_total / 1e6, coverage=coverage, coverage_by_zone=by_zone, tracks=tracks,
        footprints=footprints, docks=[(k.id, k.lon, k.lat) for k in docks],
        planted=planted, alerts=alerts, scores=scores, photos=stats.photos, photo_errors=len(stats.errors),
        sightings=stats.sightings, second_look=stats.second_look, sorties_planned=len(plan.sorties),
        sorties_flown=sum(o.state == "landed" for o in fleet.outcomes),
        replanned_sorties=sum(len(r.new_sorties) for r in fleet.replans), events=events,
        sim_time_s=clock.now(), stage_s=dict(opts.stage_s), total_s=total_s,
        department_names={d.id: f"{d.name} ({d.name_en})" for d in city.departments},
        type_names={t.code: t.label for t in city.taxonomy.types},
        pose_errors=opts.pose_errors, duplicate_alerts=duplicate_alerts(scores, frame),
    )
