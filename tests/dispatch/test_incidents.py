"""Sightings over HTTP become incidents: repeats of one place make one incident and one alert."""

from __future__ import annotations

import math

from tests.dispatch.conftest import KECHENG, QUJIANG, jpeg_b64, sighting, utc


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Small-distance approximation, good to < 0.1 % over tens of metres (test-side check only)."""
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    dy = (a[1] - b[1]) * 110_574
    return math.hypot(dx, dy)


def test_twenty_sightings_of_one_waterlogging_point_from_three_sorties_make_one_incident_one_alert(live):
    # 20 sightings around one point (a few metres of scatter), from 3 sorties over an hour.
    offsets = [((i % 5) - 2) * 2e-5 for i in range(20)]
    bodies = [
        sighting(f"wl-{i}", (KECHENG[0] + offsets[i], KECHENG[1] - offsets[(i + 2) % 20]),
                 sortie_id=f"sortie-{i % 3}", drone_id=f"uav-0{i % 3 + 1}", time=utc(60 - i * 3),
                 confidence=0.5 + i / 50, uncertainty_m=4.0 + i % 4, evidence_jpeg_b64=jpeg_b64(i * 10))
        for i in range(20)
    ]
    first = live.post(bodies[0])
    assert first.status_code == 201, first.text
    batch = live.post(bodies[1:12])
    assert batch.status_code == 201, batch.text
    singles = [live.post(b) for b in bodies[12:]]
    assert all(r.status_code == 201 for r in singles)

    incident_ids = {first.json()["incident_id"]} | {r["incident_id"] for r in batch.json()["results"]} \
        | {r.json()["incident_id"] for r in singles}
    assert len(incident_ids) == 1

    alerts = live.alerts("kecheng-urban")
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["sighting_count"] == 20
    assert alert["evidence"]["confidence"] == max(b["confidence"] for b in bodies)  # best photo kept
    assert metres_between(tuple(alert["location"]["coordinates"]), KECHENG) < 5
    assert alert["first_seen"] < alert["last_seen"]

    assert live.receiver.wait_for(1, timeout_s=10)
    # Give the worker a chance to (wrongly) send more, then check it did not.
    live.wait_until(lambda: len(live.receiver.received) > 1, timeout_s=1.0)
    assert [w.payload["data"]["alert_id"] for w in live.receiver.received] == [alert["alert_id"]]


def test_other_type_or_far_away_opens_its_own_incident(live):
    a = live.post(sighting("a")).json()
    same_place_other_type = live.post(sighting("b", type="exposed_garbage")).json()
    far = live.post(sighting("c", (KECHENG[0] + 0.01, KECHENG[1]))).json()  # ~1 km east
    other_district = live.post(sighting("d", QUJIANG)).json()
    ids = {a["incident_id"], same_place_other_type["incident_id"], far["incident_id"], other_district["incident_id"]}
    assert len(ids) == 4
    assert other_district["department_id"] == "qujiang-water"  # no 城市管理 in 衢江区: 水利 is next in line


def test_retried_post_is_idempotent_and_a_reused_key_with_other_content_is_refused(live):
    body = sighting("same-key")
    first = live.post(body)
    again = live.post(body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["incident_id"] == first.json()["incident_id"]
    batch = live.post([body, sighting("new-key")])
    assert [r["status"] for r in batch.json()["results"]] == ["duplicate", "created"]

    conflict = live.post(dict(body, confidence=0.99))
    assert conflict.status_code == 409
    assert conflict.json()["detail"].startswith("key:")
    alert = live.alerts("kecheng-urban")[0]
    assert alert["sighting_count"] == 2


def test_a_closed_incident_does_not_absorb_new_sightings(live):
    first = live.post(sighting("x1")).json()
    r = live.client.post(f"{live.url}/v1/alerts/{first['alert_id']}/resolve", headers=live.as_dept("kecheng-urban"),
                         json={"note": "pumped out"})
    assert r.status_code == 200
    second = live.post(sighting("x2")).json()
    assert second["incident_id"] != first["incident_id"]
    assert second["alert_id"] is not None
