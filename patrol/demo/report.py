"""The demo report: report/index.html (opens offline), summary.json, and the maps as PNG/HTML."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from shapely.geometry import Point
from shapely.ops import unary_union

from patrol.demo.result import DemoResult
from patrol.maps import Feature, Layer, Style, write_map

SHANGHAI = ZoneInfo("Asia/Shanghai")
TARGETS = {"recall": 0.95, "precision": 0.90, "geo_error_median_m": 3.0, "coverage": 0.999, "routing_correct": 1.0}


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summary(result: DemoResult) -> dict:
    """The figures a person or a test checks, keyed by what they measure."""
    s = result.scores
    latencies = [a.photo_to_webhook_s for a in result.alerts]
    per_department: dict[str, int] = {}
    for a in result.alerts:
        per_department[a.department_id] = per_department.get(a.department_id, 0) + 1
    figures = {
        "recall": s.recall,
        "precision": s.precision,
        "geo_error_median_m": s.geo_error_median_m,
        "geo_error_p95_m": s.geo_error_p95_m,
        "pose_errors": result.pose_errors or "exact",
        "duplicate_alerts": result.duplicate_alerts,
        "coverage": result.coverage,
        "coverage_by_zone": result.coverage_by_zone,
        "routing_correct": result.routing_correct,
        "alerts_delivered": len(result.alerts),
        "alerts_true": s.true_positive,
        "planted": s.planted,
        "missed": len(s.missed),
        "photos": result.photos,
        "photo_errors": result.photo_errors,
        "sightings": result.sightings,
        "second_look": asdict(result.second_look),
        "zone_km2": result.zone_km2,
        "sorties_planned": result.sorties_planned,
        "sorties_flown": result.sorties_flown,
        "replanned_sorties": result.replanned_sorties,
        "photo_to_webhook_p50_s": _pct(latencies, 50),
        "photo_to_webhook_p95_s": _pct(latencies, 95),
        "sim_time_s": result.sim_time_s,
        "total_time_s": result.total_s,
        "stage_s": result.stage_s,
        "per_type": s.per_type(),
        "per_department": per_department,
    }
    figures["targets_met"] = {
        "recall": s.recall >= TARGETS["recall"],
        "precision": s.precision >= TARGETS["precision"],
        "geo_error_median_m": s.geo_error_median_m is not None and s.geo_error_median_m <= TARGETS["geo_error_median_m"],
        "coverage": result.coverage >= TARGETS["coverage"],
        "routing_correct": result.routing_correct >= TARGETS["routing_correct"],
    }
    return figures


def map_layers(result: DemoResult) -> list[Layer]:
    found = {m.planted.id for m in result.scores.matches if m.planted}
    return [
        Layer("巡查区 Patrol zones", tuple(Feature(z.area, z.name) for z in result.zones),
              Style(stroke="#1565c0", fill="#90caf9", fill_opacity=0.25, width=2)),
        Layer("照片覆盖 Photo footprints", tuple(Feature(f, "photographed") for f in result.footprints),
              Style(stroke="#9e9e9e", width=0.4, fill="#fff59d", fill_opacity=0.12)),
        Layer("航迹 Flown tracks", tuple(Feature(t, d) for d, t in result.tracks.items()),
              Style(stroke="#6a1b9a", width=1.2)),
        Layer("机巢 Docks", tuple(Feature(Point(lon, lat), d) for d, lon, lat in result.docks),
              Style(stroke="#1b5e20", fill="#43a047", fill_opacity=0.9, radius=5)),
        Layer("发现 Planted & found", tuple(Feature(Point(p.lon, p.lat), f"{_type(result, p.type)} · {p.id}")
                                          for p in result.planted if p.id in found),
              Style(stroke="#2e7d32", fill="#66bb6a", fill_opacity=0.9, radius=4)),
        Layer("漏检 Planted & missed", tuple(Feature(Point(p.lon, p.lat), f"{_type(result, p.type)} · {p.id}")
                                           for p in result.scores.missed),
              Style(stroke="#b71c1c", fill="#ffeb3b", fill_opacity=1.0, radius=6)),
        Layer("误报 False alerts", tuple(Feature(Point(m.reported.lon, m.reported.lat), _type(result, m.reported.type))
                                        for m in result.scores.matches if m.planted is None),
              Style(stroke="#e65100", fill="#ff9800", fill_opacity=1.0, radius=5)),
    ]


def _type(result: DemoResult, code: str) -> str:
    return result.type_names.get(code, code)


def _dept(result: DemoResult, dep: str) -> str:
    return result.department_names.get(dep, dep)


def write_report(result: DemoResult, out: Path) -> dict:
    """Write index.html, summary.json, coverage.png, map.html into `out`; return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    figures = summary(result)
    (out / "summary.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    layers = map_layers(result)
    zones = unary_union([z.area for z in result.zones])
    pad = 0.1 * max(zones.bounds[2] - zones.bounds[0], zones.bounds[3] - zones.bounds[1])
    close_up = (zones.bounds[0] - pad, zones.bounds[1] - pad, zones.bounds[2] + pad, zones.bounds[3] + pad)
    write_map(layers, out / "coverage.png", title="综合飞一次 演示 · 覆盖与发现 coverage and findings", bounds=close_up)
    write_map(layers, out / "overview.png", title="综合飞一次 演示 · 机巢与航迹 docks and flown tracks")
    write_map(layers, out / "map.html", title="综合飞一次 演示 · coverage, tracks and findings", bounds=close_up)
    (out / "index.html").write_text(_page(result, figures), encoding="utf-8")
    return figures


def _row(cells: list[object]) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


def _table(head: list[str], rows: list[list[object]]) -> str:
    return ("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
            + "".join(_row(r) for r in rows) + "</table>")


def _fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def _page(result: DemoResult, f: dict) -> str:
    made = datetime.now(timezone.utc).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S %Z")
    look = f["second_look"]
    met = f["targets_met"]
    cards = [
        ("召回率 Recall", _fmt(f["recall"], ".1%"), met["recall"], "≥ 95%"),
        ("精确率 Precision", _fmt(f["precision"], ".1%"), met["precision"], "≥ 90%"),
        ("定位误差中位数 Median geolocation error", _fmt(f["geo_error_median_m"], ".2f") + " m", met["geo_error_median_m"], "≤ 3 m"),
        ("覆盖率 Area photographed", _fmt(f["coverage"], ".2%"), met["coverage"], "100%"),
        ("派发正确 Routed to the owning department", _fmt(f["routing_correct"], ".0%"), met["routing_correct"], "100%"),
        ("拍照→推送 Photo → webhook p50 / p95",
         f"{_fmt(f['photo_to_webhook_p50_s'], '.2f')} / {_fmt(f['photo_to_webhook_p95_s'], '.2f')} s", None, ""),
        ("位姿误差 Reported-pose errors", f["pose_errors"], None,
         f"重复告警 duplicate alerts: {f['duplicate_alerts']}"),
    ]
    card_html = "".join(
        f'<div class="card {"ok" if ok else "bad" if ok is False else ""}"><div class="k">{html.escape(k)}</div>'
        f'<div class="v">{html.escape(v)}</div><div class="t">{html.escape(t)}</div></div>'
        for k, v, ok, t in cards
    )
    per_type = _table(["类型 Type", "埋设 Planted", "发现 Found", "告警 Alerts", "误报 False"],
                      [[_type(result, c), r["planted"], r["found"], r["alerts"], r["false"]]
                       for c, r in sorted(f["per_type"].items())])
    per_dept = _table(["部门 Department", "告警 Alerts"],
                      [[_dept(result, d), n] for d, n in sorted(f["per_department"].items())])
    truth = {m.reported.id: m for m in result.scores.matches}
    alerts = _table(
        ["事件 Incident", "类型 Type", "部门 Department", "位置 lon, lat", "目击 Sightings", "判定 Verdict", "误差 Error m", "拍照→推送 s"],
        [[a.incident_id[:12], _type(result, a.type), _dept(result, a.department_id) + ("" if a.department_id == a.expected_department_id else f" ≠ {a.expected_department_id}"),
          f"{a.lon:.6f}, {a.lat:.6f}", a.sightings,
          "真 true" if truth.get(a.incident_id) and truth[a.incident_id].planted else "误报 false",
          _fmt(truth[a.incident_id].error_m if a.incident_id in truth else None, ".2f"), f"{a.photo_to_webhook_s:.2f}"]
         for a in result.alerts])
    missed = _table(["埋设 Planted", "类型 Type", "lon, lat"],
                    [[p.id, _type(result, p.type), f"{p.lon:.6f}, {p.lat:.6f}"] for p in result.scores.missed]) \
        if result.scores.missed else "<p>无漏检 — nothing missed.</p>"
    events = _table(["模拟时间 Sim time", "无人机 Drone", "事件 Event"],
                    [[f"{e.time_s / 60:.1f} min", e.drone_id, e.text] for e in result.events])
    stages = _table(["阶段 Stage", "s"], [[k, f"{v:.1f}"] for k, v in result.stage_s.items()] + [["合计 total", f"{result.total_s:.1f}"]])
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>综合飞一次 演示报告 · patrol demo report</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;background:#f4f6f8;color:#222}}
header{{background:#1f4e79;color:#fff;padding:14px 22px}} h1{{margin:0;font-size:22px}} main{{padding:16px 22px}}
.cards{{display:flex;flex-wrap:wrap;gap:12px}} .card{{background:#fff;border-radius:8px;padding:12px 16px;min-width:200px;border-top:4px solid #999}}
.card.ok{{border-top-color:#2e7d32}} .card.bad{{border-top-color:#c62828}} .k{{font-size:13px;color:#555}} .v{{font-size:24px;font-weight:bold}} .t{{font-size:12px;color:#888}}
table{{border-collapse:collapse;background:#fff;margin:8px 0 18px;font-size:13px}} td,th{{border:1px solid #ddd;padding:4px 8px}} th{{background:#e3eaf2}}
img{{max-width:100%;background:#fff;border:1px solid #ccc}} section{{margin-top:18px}}
</style></head><body>
<header><h1>综合飞一次 演示报告 · patrol demo report</h1>
<div>{result.zone_km2:.2f} km² · {len(result.zones)} zones · {f['photos']} photos · {f['sightings']} sightings · {f['alerts_delivered']} alerts · {made}</div>
<div>第二视角复核 second look: {look['confirmed']} confirmed by another photo 已确认 · {look['dropped']} dropped 已剔除 · {look['unconfirmed']} seen in one photo only 仅单张</div></header>
<main>
<div class="cards">{card_html}</div>
<section><h2>覆盖与发现 Coverage and findings</h2>
<p><a href="map.html">交互地图 Interactive map</a> · <a href="summary.json">summary.json</a></p>
<img src="coverage.png" alt="coverage map"><img src="overview.png" alt="overview map"></section>
<section><h2>按类型 By type</h2>{per_type}</section>
<section><h2>按部门 By department</h2>{per_dept}</section>
<section><h2>告警 Alerts</h2>{alerts}</section>
<section><h2>漏检 Missed</h2>{missed}</section>
<section><h2>机队事件 Fleet events (re-plans, failures)</h2>{events}
<p>架次 Sorties planned {f['sorties_planned']}, flown {f['sorties_flown']}, re-planned {f['replanned_sorties']}.</p></section>
<section><h2>耗时 Time</h2>{stages}</section>
</main></body></html>
"""
