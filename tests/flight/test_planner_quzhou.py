"""The whole Quzhou demo city (700 km², 23 drones): every zone covered, every sortie flyable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from pymavlink import mavutil

from detector.geo import MetricFrame
from flight.planner import Plan, plan_patrol
from flight.planner.exports import sortie_path
from flight.planner.footprints import footprint_polygons

MAV = mavutil.mavlink
QUZHOU = Path(__file__).resolve().parents[2] / "configs" / "quzhou.yaml"


@pytest.fixture(scope="module")
def quzhou_plan(quzhou_city):
    return plan_patrol(quzhou_city.zones, quzhou_city.no_fly, quzhou_city.docks, name="quzhou")


def test_every_quzhou_zone_is_covered(quzhou_city, quzhou_plan):
    frame = MetricFrame(quzhou_plan.epsg)
    banned = shapely.union_all([frame.to_metric(n.area) for n in quzhou_city.no_fly])
    for z in quzhou_city.zones:
        area = frame.to_metric(z.area).difference(banned)
        per_sortie = [shapely.union_all(footprint_polygons(s, frame)) for s in quzhou_plan.sorties if s.zone_id == z.id]
        covered = shapely.union_all(np.array(per_sortie, dtype=object)).intersection(area).area / area.area
        assert covered >= 0.995, (z.id, covered)


def test_quzhou_sorties_fit_the_budget_and_avoid_the_airport(quzhou_city, quzhou_plan):
    frame = MetricFrame(quzhou_plan.epsg)
    airport = frame.to_metric(quzhou_city.no_fly[0].area)
    budgets = {r.id: r.spec.flight_budget_s for d in quzhou_plan.docks for r in d.drones}
    paths = []
    for s in quzhou_plan.sorties:
        assert 0 < s.duration_s <= budgets[s.drone_id]
        assert s.items[-1].command == MAV.MAV_CMD_NAV_RETURN_TO_LAUNCH
        paths.append(shapely.linestrings(np.array([frame.forward(*p) for p in sortie_path(quzhou_plan, s)])))
    # take-off to landing, strips, connecting legs and the way home all stay out of the airport zone
    assert not shapely.intersects(np.array(paths), airport).any()


def test_quzhou_schedule_is_no_better_than_its_lower_bound_and_puts_priority_first(quzhou_city, quzhou_plan):
    assert quzhou_plan.lower_bound_s <= quzhou_plan.makespan_s
    assert all(r.done_s <= quzhou_plan.makespan_s for r in quzhou_plan.zones)
    priority = {z.id: z.priority for z in quzhou_city.zones}
    for dock in quzhou_plan.docks:
        mine = [s for s in quzhou_plan.sorties if s.dock_id == dock.id]
        p1 = [s.start_s for s in mine if priority[s.zone_id] == 1]
        p2 = [s.start_s for s in mine if priority[s.zone_id] == 2]
        if p1 and p2:
            assert max(p1) <= min(p2)


def _small_city(tmp_path, **zone_changes):
    """configs/quzhou.yaml cut down to its urban-core zone, with references made absolute."""
    import yaml

    root = QUZHOU.parent
    data = yaml.safe_load(QUZHOU.read_text(encoding="utf-8"))
    data["taxonomy"] = str(root / data["taxonomy"])
    data["districts"] = str(root / data["districts"])
    for d in data["departments"]:
        if d.get("jurisdiction", {}).get("file"):
            d["jurisdiction"]["file"] = str(root / d["jurisdiction"]["file"])
    zone = data["patrol_zones"][0]
    zone["area"]["file"] = str(root / zone["area"]["file"])
    zone.update(zone_changes)
    data["patrol_zones"] = [zone]
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_patrol_plan_command_writes_plan_exports_and_maps(tmp_path):
    from typer.testing import CliRunner

    from patrol.cli import app

    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["plan", str(_small_city(tmp_path)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "lower bound" in result.output and "makespan" in result.output
    plan = Plan.load(out)
    assert plan.zones[0].id == "kecheng-core" and plan.zones[0].coverage >= 0.995
    for name in ("plan.geojson", "map.html", "map.png"):
        assert (out / name).stat().st_size > 0
    assert len(list((out / "qgc").glob("*.plan"))) == len(plan.sorties) == len(list((out / "wpl").glob("*.waypoints")))
    assert len(list((out / "wpml").glob("*.kmz"))) == len(plan.sorties)  # DJI WPML, one KMZ per sortie


def test_city_config_refuses_a_transit_speed_below_the_survey_speed(tmp_path):
    import yaml

    from patrol.config import ConfigError, load_city

    path = _small_city(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["drone_models"]["dock-quad"]["transit_speed_m_s"] = 9.0
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_city(path)
    text = str(err.value)
    assert "drone_models.dock-quad" in text and "transit_speed_m_s" in text and "9.0" in text


def test_patrol_plan_command_refuses_an_illegal_altitude_by_zone_and_field(tmp_path):
    from typer.testing import CliRunner

    from patrol.cli import app

    result = CliRunner().invoke(app, ["plan", str(_small_city(tmp_path, altitude_agl_m=150.0)), "-o", str(tmp_path / "p")])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "kecheng-core" in text and "altitude_agl_m" in text and "150" in text
    assert not (tmp_path / "p" / "plan.json").exists()
