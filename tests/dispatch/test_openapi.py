"""The OpenAPI document is the contract: read /openapi.json, then check that what the server really
answers (bodies, status codes, content types; the webhook body too) is what the document says."""

from __future__ import annotations

import re

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.dispatch.conftest import KECHENG, sighting


@pytest.fixture
def spec(live) -> dict:
    return live.client.get(f"{live.url}/openapi.json").json()


def schema_errors(spec: dict, schema: dict, body) -> list[str]:
    """Validate against a schema of the document, its $refs resolved inside the document."""
    validator = Draft202012Validator({**schema, "components": spec["components"]})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


def conforms(spec: dict, response: httpx.Response, path: str) -> None:
    """The answer's status is documented for this operation, with this content type, and a JSON body
    validates against the documented schema."""
    op = spec["paths"][path][response.request.method.lower()]
    documented = op["responses"].get(str(response.status_code))
    assert documented is not None, f"{path}: {response.status_code} is not in the document"
    ctype = response.headers["content-type"].split(";")[0]
    assert ctype in documented.get("content", {}), f"{path} {response.status_code}: {ctype} not documented"
    if ctype.endswith("json"):
        problems = schema_errors(spec, documented["content"][ctype]["schema"], response.json())
        assert not problems, f"{path} {response.status_code}: {problems[:5]}"


def test_every_answer_and_the_webhook_body_match_the_published_contract(live, spec):
    me, admin = live.as_dept("kecheng-urban"), live.as_admin
    one = live.post(sighting("oa-1"))
    conforms(spec, one, "/v1/sightings")
    conforms(spec, live.post(sighting("oa-1")), "/v1/sightings")  # 200: a duplicate
    two = live.client.post(f"{live.url}/v1/sightings", headers=live.as_ingest,
                           json=[sighting("oa-2", (KECHENG[0], KECHENG[1] + 0.01)),
                                 sighting("oa-3", (KECHENG[0] + 0.01, KECHENG[1]), evidence_jpeg_b64=None)])
    conforms(spec, two, "/v1/sightings")
    alert_id = one.json()["alert_id"]
    assert live.receiver.wait_for(2, timeout_s=15)

    webhook = live.receiver.received[0].payload
    assert not schema_errors(spec, {"$ref": "#/components/schemas/Alert"}, webhook["data"])
    assert set(webhook["data"]) == set(spec["components"]["schemas"]["Alert"]["properties"])

    base = f"{live.url}/v1/alerts/{alert_id}"
    for path, url, headers in [("/v1/me", f"{live.url}/v1/me", me),
                               ("/v1/alerts", f"{live.url}/v1/alerts", me),
                               ("/v1/alerts.geojson", f"{live.url}/v1/alerts.geojson", me),
                               ("/v1/alerts/{alert_id}", base, me),
                               ("/v1/alerts/{alert_id}/evidence.jpg", f"{base}/evidence.jpg", me),
                               ("/v1/alerts/{alert_id}/cap.xml", f"{base}/cap.xml", me),
                               ("/v1/alerts/{alert_id}/deliveries", f"{base}/deliveries", me),
                               ("/v1/dead-letters", f"{live.url}/v1/dead-letters", me),
                               ("/v1/admin/stats", f"{live.url}/v1/admin/stats", admin),
                               ("/v1/admin/jurisdictions", f"{live.url}/v1/admin/jurisdictions", admin),
                               ("/v1/admin/dead-letters", f"{live.url}/v1/admin/dead-letters", admin),
                               ("/v1/admin/endpoints", f"{live.url}/v1/admin/endpoints", admin)]:
        answer = live.client.get(url, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
        conforms(spec, answer, path)
        conforms(spec, live.client.get(url), path)  # 401 without a token
    ack = live.client.post(f"{base}/ack", headers=me, json={"note": "on it"})
    conforms(spec, ack, "/v1/alerts/{alert_id}/ack")
    assert [h["to"] for h in ack.json()["status_history"]] == ["new", "acknowledged"]
    conforms(spec, live.client.post(f"{base}/ack", headers=me), "/v1/alerts/{alert_id}/ack")  # 409
    missing = f"{live.url}/v1/alerts/alr_{'0' * 32}"
    for path, suffix in [("/v1/alerts/{alert_id}", ""), ("/v1/alerts/{alert_id}/evidence.jpg", "/evidence.jpg"),
                         ("/v1/alerts/{alert_id}/cap.xml", "/cap.xml"), ("/v1/alerts/{alert_id}/deliveries", "/deliveries")]:
        conforms(spec, live.client.get(missing + suffix, headers=me), path)  # 404, a JSON Problem even for JPEG/XML
    no_photo = live.alerts("kecheng-urban")
    assert any(a["evidence"]["url"] is None for a in no_photo)
    for path, query in [("/v1/alerts", {"limit": 0}), ("/v1/alerts", {"since": "2026-01-01T00:00:00"}),
                        ("/v1/alerts.geojson", {"status": "lost"})]:
        bad = live.client.get(f"{live.url}{path}", headers=me, params=query)
        assert bad.status_code == 422
        conforms(spec, bad, path)
        assert bad.json()["detail"].split(":")[0] == next(iter(query))  # names the field
    for bad in (live.post(dict(sighting("oa-9"), lat=True)), live.post(sighting("oa-1", confidence=0.1)),
                live.client.post(f"{live.url}/v1/sightings", json=sighting("oa-8"))):
        conforms(spec, bad, "/v1/sightings")  # 422, 409, 401


def test_the_document_lists_errors_content_types_and_the_sighting_rules(spec):
    paths = spec["paths"]
    for path, ops in paths.items():
        for method, op in ops.items():
            ok = op["responses"].get("200") or op["responses"]["201"]
            assert ok.get("content"), f"{method} {path}: no answer schema"
            assert "401" in op["responses"], f"{method} {path}: 401 not documented"
            if "{" in path:
                assert "404" in op["responses"], f"{method} {path}: 404 not documented"
            for code, answer in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert answer["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert list(paths["/v1/alerts/{alert_id}/evidence.jpg"]["get"]["responses"]["200"]["content"]) == ["image/jpeg"]
    assert list(paths["/v1/alerts/{alert_id}/cap.xml"]["get"]["responses"]["200"]["content"]) == ["application/cap+xml"]
    geojson = paths["/v1/alerts.geojson"]["get"]["responses"]["200"]["content"]
    assert geojson == {"application/geo+json": {"schema": {"$ref": "#/components/schemas/AlertFeatureCollection"}}}
    for action in ("ack", "resolve", "reject"):
        assert "409" in paths[f"/v1/alerts/{{alert_id}}/{action}"]["post"]["responses"]
    assert "409" in paths["/v1/sightings"]["post"]["responses"]

    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # every 422 is the same Problem body
    time = schemas["Sighting"]["properties"]["time"]
    assert time["format"] == "date-time" and time["formatMinimum"] == "2000-01-01T00:00:00Z"
    pattern = re.compile(time["pattern"])
    assert pattern.match("2026-07-01T08:30:00Z") and pattern.match("2026-07-01T08:30:00.25+00:00")
    for wrong in ("2026-99-99T08:30:00Z", "2026-07-01T24:00:00Z", "2026-07-01T08:30:00+08:00", "2026-07-01T08:30:00"):
        assert not pattern.match(wrong), wrong
    box = schemas["ImageRef"]["properties"]["box"]
    assert [(i["title"], i["minimum"]) for i in box["prefixItems"]] == [("x0", 0), ("y0", 0), ("x1", 0), ("y1", 0)]
    assert "x0 < x1" in box["description"]
    alert = schemas["Alert"]
    assert {"alert_id", "incident_id", "type", "department", "location", "area", "first_seen", "last_seen",
            "sighting_count", "evidence", "links"} <= set(alert["required"])
    assert schemas["StatusEvent"]["properties"]["from"]
