"""The review queue: API verdicts with their audit trail, labels for training, and the page in Chromium."""

from __future__ import annotations

import pytest

from tests.conftest import screenshot_is_not_blank
from tests.dispatch.conftest import QUJIANG, sighting


def _post(live, key: str, **over) -> dict:
    r = live.post(sighting(key, evidence_box=[16, 12, 48, 36], **over))
    assert r.status_code == 201, r.text
    return r.json()


def test_verdicts_are_audited_and_become_labels(live):
    _post(live, "rv-1")
    _post(live, "rv-2", where=QUJIANG, type="exposed_garbage", confidence=0.3)
    _post(live, "rv-3", where=(118.80, 28.90))
    admin = live.as_admin
    queue = live.client.get(f"{live.url}/v1/review", headers=admin).json()
    assert queue["reviewer"] == "admin" and {i["key"] for i in queue["items"]} == {"rv-1", "rv-2", "rv-3"}
    assert all(i["label"] is None and i["model_version"] == "yolo-test-1" for i in queue["items"])
    low = live.client.get(f"{live.url}/v1/review", params={"queue": "low_confidence"}, headers=admin).json()["items"]
    assert [i["key"] for i in low] == ["rv-2"]

    r = live.client.post(f"{live.url}/v1/review/rv-1/verdict", headers=admin,
                         json={"verdict": "true", "type": "exposed_garbage", "box": [10, 10, 40, 30], "note": "是垃圾"})
    assert r.status_code == 200, r.text
    assert r.json()["label"]["boxes"] == [{"type": "exposed_garbage", "box": [10, 10, 40, 30], "by": "analyst:admin"}]
    live.client.post(f"{live.url}/v1/review/rv-2/verdict", headers=admin, json={"verdict": "false"}).raise_for_status()
    missed = live.client.post(f"{live.url}/v1/review/rv-2/verdict", headers=admin,
                              json={"verdict": "missed", "type": "illegal_parking", "box": [0, 0, 20, 20]})
    assert missed.status_code == 200
    label = missed.json()["label"]
    assert label["finding_real"] is False and [b["type"] for b in label["boxes"]] == ["illegal_parking"]

    # a department judges its own alert: that is a label too, and in the alert's audit trail
    alert_id = live.alerts("kecheng-urban")
    rv3 = next(a for a in alert_id if a["evidence"]["image_ref"].endswith("rv-3.jpg"))
    live.client.post(f"{live.url}/v1/alerts/{rv3['alert_id']}/resolve", headers=live.as_dept("kecheng-urban")).raise_for_status()

    labels = {x["key"]: x for x in live.client.get(f"{live.url}/v1/review/labels", headers=admin).json()["labels"]}
    assert labels["rv-1"]["decided_by"] == "analyst:admin" and labels["rv-1"]["finding_real"]
    assert labels["rv-3"]["decided_by"] == "department:kecheng-urban"
    assert labels["rv-3"]["boxes"] == [{"type": "road_waterlogging", "box": [16.0, 12.0, 48.0, 36.0], "by": "department:kecheng-urban"}]
    assert labels["rv-2"]["boxes"][0]["box"] == [0.0, 0.0, 20.0, 20.0]
    history = live.client.get(f"{live.url}/v1/review/rv-2", headers=admin).json()["verdicts"]
    assert [(v["verdict"], v["actor"]) for v in history] == [("false", "admin"), ("missed", "admin")]
    assert all(v["at"].endswith("Z") for v in history)

    ev = live.client.get(f"{live.url}/v1/review/rv-1/evidence.jpg", headers=admin)
    assert ev.status_code == 200 and ev.content[:3] == b"\xff\xd8\xff"


def test_bad_verdicts_are_refused_and_scoped(live):
    _post(live, "bad-1")
    admin, url = live.as_admin, f"{live.url}/v1/review/bad-1/verdict"
    cases = [({"verdict": "true", "type": "ufo"}, "type: 'ufo' is not a taxonomy code"),
             ({"verdict": "missed", "type": "illegal_parking"}, "box: a missed object needs both"),
             ({"verdict": "true", "box": [0, 0, 500, 20]}, "reaches outside the 64×48 px evidence crop"),
             ({"verdict": "false", "type": "illegal_parking"}, "a false finding has no type or box"),
             ({"verdict": "maybe"}, None), ({"verdict": "true", "box": [5, 5, 1, 1]}, None)]
    for body, expect in cases:
        r = live.client.post(url, json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        if expect:
            assert expect in r.json()["detail"]
    assert live.client.get(f"{live.url}/v1/review/bad-1", headers=admin).json()["verdicts"] == []  # nothing half-stored
    # another district's department sees nothing of it; labels are for analysts only; no token: 401
    other = live.as_dept("qujiang-zhifa")
    assert live.client.post(url, json={"verdict": "false"}, headers=other).status_code == 404
    assert live.client.get(f"{live.url}/v1/review", headers=other).json()["items"] == []
    assert live.client.get(f"{live.url}/v1/review/labels", headers=other).status_code == 403
    assert live.client.get(f"{live.url}/v1/review").status_code == 401
    own = live.client.post(url, json={"verdict": "false"}, headers=live.as_dept("kecheng-urban"))
    assert own.status_code == 200 and own.json()["verdicts"][0]["actor"] == "kecheng-urban: department (部门共用 shared login)"
    # a person with their own account is named in the verdict trail
    r = live.client.post(f"{live.url}/v1/admin/departments/kecheng-urban/accounts", json={"login": "li.si", "name": "李四"},
                         headers=admin)
    assert r.status_code == 201, r.text
    mine = live.client.post(url, json={"verdict": "true", "note": "看错了"}, headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert mine.status_code == 200 and mine.json()["verdicts"][-1]["actor"] == "kecheng-urban: li.si (李四)"
    assert mine.json()["label"]["finding_real"] is True  # the latest call counts; the earlier one stays on record


@pytest.mark.browser
def test_review_page_marks_fixes_box_and_adds_missed(live, browser, tmp_path, request):
    _post(live, "page-1", unverified=True)
    _post(live, "page-2", where=(118.80, 28.90))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    request.addfinalizer(page.close)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((live.url, "blob:" + live.url)) else None)
    page.goto(f"{live.url}/review#token={live.creds.admin_token}")
    page.select_option("#queue", "unverified")
    page.wait_for_selector("tr[data-key='page-1']", timeout=10_000)
    page.wait_for_selector("tr[data-key='page-2']", state="detached", timeout=10_000)
    assert page.locator("tr.row").count() == 1  # only the held (unverified) one
    page.click("tr[data-key='page-1']")
    page.wait_for_selector("#crop[data-loaded='true']", timeout=10_000)
    assert page.locator("#overlay rect.finding").count() == 1

    # drag a corrected box over the crop (displayed at 400 px wide: 6.25 screen px per crop px)
    box = page.locator("#crop").bounding_box()
    k = box["width"] / 64
    page.mouse.move(box["x"] + 8 * k, box["y"] + 8 * k)
    page.mouse.down()
    page.mouse.move(box["x"] + 30 * k, box["y"] + 20 * k, steps=5)
    page.mouse.up()
    assert page.locator("#overlay rect.draft").count() == 1
    page.select_option("#type", "exposed_garbage")
    page.fill("#note", "类型改正 type fixed")
    page.click("#btn-true")
    page.wait_for_selector("#history li", timeout=10_000)
    assert "admin: true exposed_garbage [8, 8, 30, 20]" in page.inner_text("#history")

    page.mouse.move(box["x"] + 40 * k, box["y"] + 30 * k)
    page.mouse.down()
    page.mouse.move(box["x"] + 60 * k, box["y"] + 44 * k, steps=5)
    page.mouse.up()
    page.select_option("#type", "illegal_parking")
    page.click("#btn-missed")
    page.wait_for_selector("#overlay rect.missed", timeout=10_000)
    assert page.locator("#history li").count() == 2
    png = page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
    assert screenshot_is_not_blank(png)

    page.select_option("#queue", "all")
    page.wait_for_selector("tr[data-key='page-2']", timeout=10_000)
    page.click("tr[data-key='page-2']")
    page.wait_for_selector("#d-title:has-text('道路积水')", timeout=10_000)
    page.click("#btn-false")
    page.wait_for_selector("#d-label:has-text('误报 false')", timeout=10_000)

    item = live.client.get(f"{live.url}/v1/review/page-1", headers=live.as_admin).json()
    first, second = item["verdicts"]
    assert (first["verdict"], first["type"], first["box"], first["note"]) == ("true", "exposed_garbage", [8, 8, 30, 20], "类型改正 type fixed")
    assert (second["verdict"], second["type"]) == ("missed", "illegal_parking")
    assert [round(c) for c in second["box"]] == [40, 30, 60, 44]
    assert outside == []
