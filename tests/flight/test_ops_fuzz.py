"""No 5xx from the ops API: every path and method of its OpenAPI document fed seeded random
bodies, path values and query strings (well-formed, near-miss and garbage), 600 requests in all.

(schemathesis is not in requirements.lock; this walks the same OpenAPI document with a seeded
generator instead, so a failure replays exactly.)
"""

from __future__ import annotations

import json
import random

from tests.flight.ops_world import LAT, LON
from tests.flight.test_ops_intake import CAP, call, cap_polygon

SEED = 16


def values(rng: random.Random):
    """A JSON value of any kind, often one a field of this API would take."""
    pool = [None, True, 0, -1, 1e308, float("nan"), "", "x" * 5000, "暴雨", "2026-06-20T08:00:00+08:00",
            "2026-06-20T08:00:00", "61 * * * *", "*/5 8-18 * * 1-5", "immediate", "timed", "conditional", "sweep",
            {"type": "Point", "coordinates": [LON, LAT]}, {"type": "Point", "coordinates": ["a", None]},
            {"type": "Polygon", "coordinates": [[[LON, LAT], [LON + 0.001, LAT], [LON, LAT + 0.001], [LON, LAT]]]},
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, [], [[]], {}, {"window": ["25:00"]},
            {"min_battery_pct": 150}, {"fair_weather": "yes"}]
    return rng.choice(pool)


def body(rng: random.Random, fields: list[str]):
    roll = rng.random()
    if roll < 0.1:
        return rng.choice([b"", b"\xff\xfe", b"{", b"[]", b"null", b"<alert/>",
                           CAP.format(event="暴雨", polygon=cap_polygon()).encode(), b"service_code=x&lat=1"])
    doc = {f: values(rng) for f in fields if rng.random() < 0.7}
    if rng.random() < 0.2:
        doc[rng.choice(["kind", "zzz", "conditions", "where"])] = values(rng)
    return json.dumps(doc, allow_nan=True).encode()


def test_no_5xx_anywhere_on_the_ops_api(tmp_path):
    (spec,), _ = call(tmp_path, [("GET", "/openapi.json", {})])
    doc = spec.json()
    fields = sorted({name for schema in doc["components"]["schemas"].values()
                     for name in schema.get("properties", {})})
    rng = random.Random(SEED)
    requests = []
    for _ in range(600):
        path, ops = rng.choice(sorted(doc["paths"].items()))
        method = rng.choice(sorted(ops))
        url = path
        for name in ("task_id", "drone_id", "action"):
            url = url.replace("{" + name + "}", rng.choice(["T00001", "a", "pause", "return", "%00", "../x", "中文"]))
        if rng.random() < 0.3:
            url += "?" + rng.choice(["status=done", "status=nope", "status=", "x=1&x=2"])
        content_type = rng.choice(["application/json", "application/cap+xml", "application/x-www-form-urlencoded",
                                   "text/plain"])
        kw = {"content": body(rng, fields), "headers": {"content-type": content_type}} if method != "get" else {}
        requests.append((method.upper(), url, kw))
    responses, service = call(tmp_path, requests)
    server_errors = [(r.request.method, str(r.request.url), r.status_code, r.text[:200])
                     for r in responses if r.status_code >= 500]
    assert server_errors == []
    assert {r.status_code for r in responses} & {200, 201} and {r.status_code for r in responses} & {400, 404, 422}
    assert all(t.id.startswith("T") for t in service.tasks.values())  # what was accepted is well-formed
