"""The city config: Quzhou loads with true areas; every listed mistake fails naming its field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from patrol.cli import app
from patrol.config import ConfigError, load_city
from tests.conftest import QUZHOU, ROOT

OFFICIAL_KM2 = {"柯城区": 609, "衢江区": 1749, "常山县": 1099, "开化县": 2236, "龙游县": 1143, "江山市": 2019}


@pytest.fixture(scope="module")
def raw() -> dict:
    data = yaml.safe_load(QUZHOU.read_text(encoding="utf-8"))
    configs = ROOT / "configs"

    def absolutize(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "file" and isinstance(v, str):
                    node[k] = str(configs / v)
                else:
                    absolutize(v)
        elif isinstance(node, list):
            for v in node:
                absolutize(v)

    absolutize(data)
    data["taxonomy"] = str(configs / data["taxonomy"])
    data["districts"] = str(configs / data["districts"])
    return data


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def problems(tmp_path: Path, data: dict) -> list:
    with pytest.raises(ConfigError) as err:
        load_city(write(tmp_path, data))
    return err.value.issues


def test_quzhou_district_areas_within_one_percent_of_official(quzhou_city):
    frame = quzhou_city.frame
    areas = {d.name: frame.area_km2(d.area) for d in quzhou_city.districts}
    assert set(areas) == set(OFFICIAL_KM2)
    for name, official in OFFICIAL_KM2.items():
        assert abs(areas[name] - official) / official < 0.01, (name, areas[name])


def test_quzhou_is_the_2022_deployment(quzhou_city):
    frame = quzhou_city.frame
    total = sum(frame.area_km2(z.area) for z in quzhou_city.zones)
    assert 680 <= total <= 720
    assert len(quzhou_city.drones) == 23
    kinds_per_district = {}
    for dep in quzhou_city.departments:
        kinds_per_district.setdefault(dep.jurisdiction_name, set()).add(dep.kind)
    assert all("综合行政执法" in k and len(k) >= 2 for name, k in kinds_per_district.items() if name in OFFICIAL_KM2)
    assert sum(d.catch_all for d in quzhou_city.departments) == 1


def test_planned_scale_scenario():
    city = load_city(ROOT / "configs" / "quzhou_2000.yaml")
    total = sum(city.frame.area_km2(z.area) for z in city.zones)
    assert 1950 <= total <= 2050 and len(city.drones) == 70


def test_check_command_prints_districts_and_gaps(tmp_path, raw):
    result = CliRunner().invoke(app, ["config", "check", str(QUZHOU)])
    assert result.exit_code == 0, result.output
    for name in OFFICIAL_KM2:
        assert name in result.output
    assert "606.0" in result.output and "1,748.2" in result.output
    assert "docks within 16.0 km" in result.output  # reach counts transit at 18 m/s
    assert "no dock within range" not in result.output
    slow = copy.deepcopy(raw)
    del slow["drone_models"]["dock-quad"]["transit_speed_m_s"]  # transit at survey speed: 10.7 km
    result = CliRunner().invoke(app, ["config", "check", str(write(tmp_path, slow))])
    assert "no dock within range" in result.output and "开化县" in result.output


def test_self_intersecting_polygon(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["patrol_zones"][0]["area"] = {"geometry": {"type": "Polygon", "coordinates": [
        [[118.86, 28.94], [118.88, 28.96], [118.88, 28.94], [118.86, 28.96], [118.86, 28.94]]]}}
    (issue,) = problems(tmp_path, data)
    assert issue.path == "patrol_zones[0].area.geometry.coordinates"
    assert "Self-intersection" in issue.problem and "cross itself" in issue.expected


def test_swapped_lat_lon_in_polygon(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["no_fly_zones"][0]["area"] = {"geometry": {"type": "Polygon", "coordinates": [
        [[28.94, 118.86], [28.94, 118.88], [28.96, 118.88], [28.94, 118.86]]]}}
    (issue,) = problems(tmp_path, data)
    assert issue.path == "no_fly_zones[0].area.geometry.coordinates[0][0]"
    assert "swapped" in issue.problem and issue.value == [28.94, 118.86]
    assert "[118.86, 28.94]" in issue.expected


def test_swapped_dock_position(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["docks"][2]["position"] = [28.95, 118.87]
    (issue,) = problems(tmp_path, data)
    assert issue.path == "docks[2].position" and "swapped" in issue.problem


def test_out_of_range_longitude(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["docks"][0]["position"] = [218.87, 28.95]
    (issue,) = problems(tmp_path, data)
    assert issue.path == "docks[0].position" and "longitude 218.87 is out of range" in issue.problem


def test_nan_dock_position(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["docks"][0]["position"] = [float("nan"), 28.95]
    (issue,) = problems(tmp_path, data)
    assert issue.path == "docks[0].position" and "finite" in issue.problem


def test_department_handles_unknown_type(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["departments"][1]["handles"] = ["road_waterlogging", "ufo_sighting"]
    (issue,) = problems(tmp_path, data)
    assert issue.path == "departments[1].handles[1]"
    assert issue.value == "ufo_sighting" and "road_waterlogging" in issue.expected


def test_zone_outside_every_jurisdiction(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["patrol_zones"][1]["area"] = {"center": [121.47, 31.23], "radius_m": 1500}  # Shanghai
    (issue,) = problems(tmp_path, data)
    assert issue.path == "patrol_zones[1].area" and "outside every department's jurisdiction" in issue.problem


def test_dock_inside_no_fly_zone(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["docks"][5]["position"] = list(data["no_fly_zones"][0]["area"]["center"])
    (issue,) = problems(tmp_path, data)
    assert issue.path == "docks[5].position" and "inside no-fly zone zsju-airport" in issue.problem


def test_missing_geojson_file(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["patrol_zones"][0]["area"]["file"] = str(tmp_path / "nowhere.geojson")
    (issue,) = problems(tmp_path, data)
    assert issue.path == "patrol_zones[0].area.file" and "file not found" in issue.problem


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_city(tmp_path / "absent.yaml")
    assert "config file not found" in str(err.value)


def test_unknown_feature_lists_the_valid_ones(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["departments"][0]["jurisdiction"]["feature"] = "柯城"
    (issue,) = problems(tmp_path, data)
    assert issue.path == "departments[0].jurisdiction.feature" and "柯城区" in issue.expected


def test_field_type_errors_carry_the_path(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["drone_models"]["dock-quad"]["cruise_speed_m_s"] = -3
    data["patrol_zones"][2]["side_overlap"] = 1.2
    paths = {i.path for i in problems(tmp_path, data)}
    assert paths == {"drone_models.dock-quad.cruise_speed_m_s", "patrol_zones[2].side_overlap"}


def test_cli_reports_problems_and_exit_code(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["docks"][0]["position"] = [28.95, 118.87]
    result = CliRunner().invoke(app, ["config", "check", str(write(tmp_path, data))])
    assert result.exit_code == 2
    assert "docks[0].position" in result.output and "swapped" in result.output


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("city:\n  name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_city(path)
    assert "line" in err.value.issues[0].path


def test_unknown_endpoint_scheme_is_refused_by_config_check(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["docks"][0]["drones"][0]["endpoint"] = "upd:127.0.0.1:14550"
    (issue,) = problems(tmp_path, data)
    assert issue.path == "docks[0].drones[0].endpoint" and "'upd'" in issue.problem


def test_unknown_time_zone_is_refused(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["city"]["timezone"] = "Asia/Quzhou"
    (issue,) = problems(tmp_path, data)
    assert issue.path == "city.timezone" and "unknown time zone 'Asia/Quzhou'" in issue.problem


def test_drone_signing_reads_the_key_from_a_file_or_the_environment(tmp_path, raw, monkeypatch):
    data = copy.deepcopy(raw)
    drones = [data["docks"][0]["drones"][0], data["docks"][1]["drones"][0]]
    (tmp_path / "uav.key").write_text("00" * 31 + "ff\n", encoding="ascii")
    drones[0]["signing"] = {"key_file": "uav.key", "link_id": 3}
    monkeypatch.setenv("PATROL_TEST_UAV_KEY", "ab" * 32)
    drones[1]["signing"] = {"key_env": "PATROL_TEST_UAV_KEY", "refuse_unsigned": False}
    docks = load_city(write(tmp_path, data)).docks
    first, second = docks[0].drones[0], docks[1].drones[0]
    assert first.signing.key == bytes(31) + b"\xff" and first.signing.link_id == 3 and first.signing.refuse_unsigned
    assert second.signing.key == b"\xab" * 32 and not second.signing.refuse_unsigned
    assert "ab" * 4 not in repr(second)  # the key stays out of logs and tracebacks


@pytest.mark.parametrize("signing, field, words", [
    ({"key_file": "absent.key"}, "signing.key_file", "cannot read it"),
    ({"key_file": "short.key"}, "signing.key_file", "64 hex digits"),
    ({"key_env": "PATROL_TEST_UNSET_KEY"}, "signing.key_env", "is not set"),
    ({"key_file": "short.key", "key_env": "X"}, "signing", "exactly one of key_file, key_env"),
    ({}, "signing", "exactly one of key_file, key_env"),
    ({"key_env": "X", "link_id": 256}, "signing.link_id", "less than or equal to 255"),
    ({"key": "00" * 32}, "signing.key", "Extra inputs are not permitted"),
])
def test_bad_signing_config_names_the_field(tmp_path, raw, monkeypatch, signing, field, words):
    monkeypatch.delenv("PATROL_TEST_UNSET_KEY", raising=False)
    (tmp_path / "short.key").write_text("abcd", encoding="ascii")
    data = copy.deepcopy(raw)
    data["docks"][0]["drones"][0]["signing"] = signing
    (issue,) = problems(tmp_path, data)
    assert issue.path == f"docks[0].drones[0].{field}" and words in issue.problem, str(issue)
