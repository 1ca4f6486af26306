"""DJI WPML export: a planned survey sortie and a sweep's point route read back from the KMZ."""

from __future__ import annotations

import io
import zipfile

from lxml import etree

from flight.ops.missions import point_route
from flight.ops.world import World
from flight.ops.wpml import DjiModel, sortie_kmz, write_wpml
from flight.planner import plan_patrol
from tests.flight.ops_world import ZONE, docks, flood_points

NS = {"k": "http://www.opengis.net/kml/2.2", "w": "http://www.dji.com/wpmz/1.0.2"}


def read(kmz: bytes) -> tuple[etree._Element, etree._Element]:
    with zipfile.ZipFile(io.BytesIO(kmz)) as z:
        assert sorted(z.namelist()) == ["wpmz/template.kml", "wpmz/waylines.wpml"]
        return etree.fromstring(z.read("wpmz/template.kml")), etree.fromstring(z.read("wpmz/waylines.wpml"))


def test_survey_sortie_strips_become_distance_triggered_photo_groups(tmp_path):
    dock_set = docks()
    [sortie] = plan_patrol([ZONE], [], dock_set[:1]).sorties
    template, waylines = read(sortie_kmz(sortie, DjiModel(drone_enum=91, drone_sub_enum=1, payload_enum=81)))
    marks = waylines.findall(".//k:Placemark", NS)
    waypoints = [it for it in sortie.items[2:] if it.command == 16]  # NAV_WAYPOINT after home slot and take-off
    assert len(marks) == len(waypoints) == len(template.findall(".//k:Placemark", NS))
    first = marks[0].find("k:Point/k:coordinates", NS).text.split(",")
    assert (float(first[0]), float(first[1])) == (round(waypoints[0].lon, 8), round(waypoints[0].lat, 8))
    assert {float(m.find("w:executeHeight", NS).text) for m in marks[:-1]} == {ZONE.altitude_agl_m}
    photo_groups = [g for g in waylines.iter(f"{{{NS['w']}}}actionGroup")
                    if g.find("w:actionTrigger/w:actionTriggerType", NS).text == "multipleDistance"]
    strips = [lane for lane in sortie.lanes if lane.photos > 1]
    assert len(photo_groups) == len(strips)
    for g, lane in zip(photo_groups, strips):
        assert abs(float(g.find("w:actionTrigger/w:actionTriggerParam", NS).text) - lane.spacing_m) < 1e-3
        assert g.find("w:action/w:actionActuatorFunc", NS).text == "takePhoto"
        assert int(g.find("w:actionGroupEndIndex", NS).text) == int(g.find("w:actionGroupStartIndex", NS).text) + 1
    speeds = {float(m.find("w:waypointSpeed", NS).text) for m in marks}
    assert speeds == {12.0, 18.0}  # survey speed on strips, transit between
    assert waylines.find(".//w:finishAction", NS).text == "goHome"
    assert waylines.find(".//w:droneEnumValue", NS).text == "91" and waylines.find(".//w:payloadEnumValue", NS).text == "81"
    assert template.find(".//w:templateType", NS).text == "waypoint"
    [path] = write_wpml([sortie], tmp_path / "wpml")
    assert path.name == f"{sortie.id}.kmz" and read(path.read_bytes())


def test_sweep_route_hovers_and_shoots_once_at_each_point():
    dock_set = docks()
    world = World(dock_set, (ZONE,))
    points = flood_points()[:3]
    route = point_route("s", dock_set[0], [(p.lon, p.lat) for p in points], world.flight("d1", 60.0), 300.0, "T1")
    _, waylines = read(sortie_kmz(route))
    groups = list(waylines.iter(f"{{{NS['w']}}}actionGroup"))
    assert len(groups) == 3
    for g in groups:
        funcs = [a.text for a in g.findall("w:action/w:actionActuatorFunc", NS)]
        assert funcs == ["gimbalRotate", "hover", "takePhoto"]
        assert g.find("w:actionTrigger/w:actionTriggerType", NS).text == "reachPoint"
