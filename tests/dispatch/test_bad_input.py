"""Bad sightings get a 4xx that names the field, and nothing already stored changes."""

from __future__ import annotations

import json

from tests.dispatch.conftest import sighting, utc


def snapshot(live) -> tuple:
    stats = live.client.get(f"{live.url}/v1/admin/stats", headers=live.as_admin).json()
    alerts = live.alerts("kecheng-urban")
    return stats["total"], [(a["alert_id"], a["sighting_count"], a["last_seen"]) for a in alerts]


def raw_post(live, content: bytes, content_type: str = "application/json"):
    return live.client.post(f"{live.url}/v1/sightings", content=content, headers={"content-type": content_type, **live.as_ingest})


def test_each_bad_input_is_refused_naming_its_field_and_changes_nothing(live):
    assert live.post(sighting("good-1")).status_code == 201
    before = snapshot(live)
    good = sighting("would-be-new")

    cases = {
        "NaN latitude": (raw_post(live, json.dumps(dict(good, lat=float("nan"))).encode()), 422, "lat"),
        "latitude out of range": (live.post(dict(good, lat=95.0)), 422, "lat"),
        "longitude out of range": (live.post(dict(good, lon=-200.0)), 422, "lon"),
        "infinite longitude": (raw_post(live, json.dumps(dict(good, lon=float("inf"))).encode()), 422, "lon"),
        "unknown type": (live.post(dict(good, type="ufo_landing")), 422, "type"),
        "confidence above 1": (live.post(dict(good, confidence=1.5)), 422, "confidence"),
        "future timestamp": (live.post(dict(good, time=utc(minutes_ago=-60))), 422, "time"),
        "time without zone": (live.post(dict(good, time="2026-01-01T08:00:00")), 422, "time"),
        "box upside down": (live.post(dict(good, image={"ref": "x.jpg", "box": [10, 10, 5, 5]})), 422, "image.box"),
        "evidence not a JPEG": (live.post(dict(good, evidence_jpeg_b64="aGVsbG8=")), 422, "evidence_jpeg_b64"),
        "open footprint ring": (live.post(dict(good, footprint={"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2]]]})),
                                422, "footprint"),
        "missing key": (live.post({k: v for k, v in good.items() if k != "key"}), 422, "key"),
        "extra field": (live.post(dict(good, colour="red")), 422, "colour"),
        "one bad item in a batch": (live.post([sighting("batch-ok"), dict(sighting("batch-bad"), lat=-91)]), 422, "[1].lat"),
        "malformed JSON": (raw_post(live, b'{"key": "k", "lat": 28.9,'), 400, "body"),
        "not JSON at all": (raw_post(live, b"key=1", "application/x-www-form-urlencoded"), 415, "content-type"),
        "oversize body": (raw_post(live, b'{"key": "' + b"x" * (9 * 1024 * 1024) + b'"}'), 413, "body"),
        "empty batch": (live.post([]), 422, "body"),
        "no token": (live.client.post(f"{live.url}/v1/sightings", json=good), 401, "authorization"),
        "department token": (live.client.post(f"{live.url}/v1/sightings", json=good, headers=live.as_dept("kecheng-urban")),
                             401, "authorization"),
        "unknown token": (live.client.post(f"{live.url}/v1/sightings", json=good, headers={"Authorization": "Bearer ing_guess"}),
                          401, "authorization"),
    }
    for name, (response, status, field) in cases.items():
        assert response.status_code == status, f"{name}: {response.status_code} {response.text[:200]}"
        detail = response.json()["detail"]
        assert detail.startswith(f"{field}:") or detail.startswith(f"{field}."), f"{name}: {detail}"

    assert snapshot(live) == before
    keys = [a["alert_id"] for a in live.alerts("kecheng-urban")]
    assert len(keys) == 1


def test_store_failure_answers_503_and_the_retry_succeeds(live, store_url):
    from sqlalchemy import create_engine, text

    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE sightings RENAME TO sightings_away"))
    body = sighting("during-outage")
    try:
        failed = live.post(body)
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE sightings_away RENAME TO sightings"))
        engine.dispose()
    assert failed.status_code == 503 and "retry" in failed.json()["detail"]
    assert snapshot(live)[0] == 0
    assert live.post(body).status_code == 201  # the same request, retried
