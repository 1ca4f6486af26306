"""Department side: own alerts only (404 for others'), status changes with an audit trail, exports."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from tests.dispatch.conftest import KECHENG, OUTSIDE, QUJIANG, sighting

SHARED = "department (部门共用 shared login)"  # the department token from the credentials file

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def test_department_b_cannot_read_ack_or_learn_of_department_a_alerts(live):
    a_alert = live.post(sighting("iso-a", KECHENG)).json()["alert_id"]   # → kecheng-urban
    b_alert = live.post(sighting("iso-b", QUJIANG)).json()["alert_id"]   # → qujiang-water
    b = live.as_dept("qujiang-water")
    missing = "alr_" + "0" * 32
    for path, method in [("", "GET"), ("/evidence.jpg", "GET"), ("/cap.xml", "GET"), ("/deliveries", "GET"),
                         ("/ack", "POST"), ("/resolve", "POST"), ("/reject", "POST")]:
        theirs = live.client.request(method, f"{live.url}/v1/alerts/{a_alert}{path}", headers=b)
        nothing = live.client.request(method, f"{live.url}/v1/alerts/{missing}{path}", headers=b)
        assert theirs.status_code == nothing.status_code == 404, path
        assert theirs.json()["detail"].replace(a_alert, "ID") == nothing.json()["detail"].replace(missing, "ID"), path
    assert [a["alert_id"] for a in live.alerts("qujiang-water")] == [b_alert]
    feed = live.client.get(f"{live.url}/v1/alerts.geojson", headers=b).json()
    assert [f["id"] for f in feed["features"]] == [b_alert]
    # A's alert is untouched by B's attempts.
    assert live.alerts("kecheng-urban")[0]["status"] == "new"
    assert live.client.get(f"{live.url}/v1/alerts").status_code == 401
    assert live.client.get(f"{live.url}/v1/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert live.client.get(f"{live.url}/v1/admin/stats", headers=b).status_code == 401


def test_ack_resolve_reject_keep_an_audit_trail(live):
    one = live.post(sighting("t-1")).json()["alert_id"]
    two = live.post(sighting("t-2", (KECHENG[0], KECHENG[1] + 0.01))).json()["alert_id"]
    me = live.as_dept("kecheng-urban")

    def act(alert_id: str, action: str, note: str):
        return live.client.post(f"{live.url}/v1/alerts/{alert_id}/{action}", headers=me, json={"note": note})

    assert act(one, "ack", "crew on the way 已派人").status_code == 200
    assert act(one, "ack", "again").status_code == 409  # already acknowledged
    assert act(one, "resolve", "pumped out").json()["status"] == "resolved"
    assert act(two, "reject", "shadow, not water 误报").json()["status"] == "rejected"
    assert act(two, "resolve", "too late").status_code == 409

    history = live.client.get(f"{live.url}/v1/alerts/{one}", headers=me).json()["status_history"]
    assert [(h["from"], h["to"], h["actor"]) for h in history] == [
        (None, "new", "dispatch"), ("new", "acknowledged", SHARED), ("acknowledged", "resolved", SHARED)]
    assert history[1]["note"] == "crew on the way 已派人"
    assert "柯城区" in history[0]["note"] and "道路积水" in history[0]["note"]

    stats = live.client.get(f"{live.url}/v1/admin/stats", headers=live.as_admin).json()
    assert stats["total"] == 2 and stats["closed"] == 2 and stats["open"] == 0
    assert stats["median_hours_to_ack"] is not None and stats["median_hours_to_resolve"] is not None
    assert stats["by_type"][0]["code"] == "road_waterlogging" and stats["by_type"][0]["count"] == 2


def test_routing_decisions_are_stored_with_their_explanation(live):
    inside = live.post(sighting("r-1", QUJIANG)).json()
    outside = live.post(sighting("r-2", OUTSIDE)).json()
    smoke = live.post(sighting("r-3", QUJIANG, type="burning_smoke")).json()
    assert inside["department_id"] == "qujiang-water"
    assert outside["department_id"] == "quzhou-city"
    assert smoke["department_id"] == "qujiang-zhifa"  # no 生态环境 bureau in 衢江区: next kind, 综合行政执法
    routing = live.alerts("qujiang-water")[0]["routing"]
    assert "衢江区" in routing and "道路积水" in routing and "水利" in routing and "Water resources" in routing
    catch = live.alerts("quzhou-city")[0]["routing"]
    assert "outside every jurisdiction" in catch and "全市兜底" in catch


def test_geojson_and_cap_exports(live):
    alert_id = live.post(sighting("x-1")).json()["alert_id"]
    me = live.as_dept("kecheng-urban")
    feed = live.client.get(f"{live.url}/v1/alerts.geojson", headers=me)
    assert feed.headers["content-type"].startswith("application/geo+json")
    fc = feed.json()
    (feature,) = fc["features"]
    assert fc["type"] == "FeatureCollection" and feature["type"] == "Feature"
    lon, lat = feature["geometry"]["coordinates"]
    assert abs(lon - KECHENG[0]) < 1e-4 and abs(lat - KECHENG[1]) < 1e-4  # RFC 7946: [lon, lat]
    assert feature["properties"]["type"]["code"] == "road_waterlogging"

    cap = live.client.get(f"{live.url}/v1/alerts/{alert_id}/cap.xml", headers=me)
    root = ET.fromstring(cap.content)
    assert root.tag == f"{CAP}alert"
    for tag in ("identifier", "sender", "sent", "status", "msgType", "scope"):
        assert root.find(f"{CAP}{tag}") is not None, tag
    assert root.find(f"{CAP}identifier").text == alert_id
    assert not root.find(f"{CAP}sent").text.endswith("Z")
    infos = root.findall(f"{CAP}info")
    assert [i.find(f"{CAP}language").text for i in infos] == ["zh-CN", "en-US"]
    for info in infos:
        for tag in ("category", "event", "urgency", "severity", "certainty"):
            assert info.find(f"{CAP}{tag}") is not None, tag
        circle = info.find(f"{CAP}area/{CAP}circle").text
        assert circle.startswith(f"{lat},{lon}")  # CAP: "lat,lon radius"
    evidence = live.client.get(f"{live.url}/v1/alerts/{alert_id}/evidence.jpg", headers=me)
    assert evidence.headers["content-type"] == "image/jpeg" and evidence.content[:3] == b"\xff\xd8\xff"


def test_openapi_publishes_the_sighting_schema_and_metrics_count(live, quzhou_city):
    spec = live.client.get(f"{live.url}/openapi.json").json()
    schema = spec["components"]["schemas"]["Sighting"]
    assert sorted(schema["properties"]["type"]["enum"]) == sorted(quzhou_city.taxonomy.codes)
    assert set(schema["required"]) >= {"key", "type", "confidence", "lat", "lon", "time", "image"}
    body = spec["paths"]["/v1/sightings"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/Sighting"} in body["oneOf"]

    body = sighting("m-1")
    assert [live.post(body).status_code for _ in range(2)] == [201, 200]
    assert live.post(dict(body, key="m-2", lat=91)).status_code == 422
    assert live.receiver.wait_for(1, timeout_s=10)
    metrics = live.client.get(f"{live.url}/metrics").text
    assert 'dispatch_sightings_total{result="created"} 1.0' in metrics
    assert 'dispatch_sightings_total{result="duplicate"} 1.0' in metrics
    assert 'dispatch_sightings_total{result="rejected"} 1.0' in metrics
    assert 'dispatch_alerts_total{department="kecheng-urban",type="road_waterlogging"} 1.0' in metrics
