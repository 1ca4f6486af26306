"""The department inbox and the city dashboard in headless Chromium (offline: no CDN, no tiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import screenshot_is_not_blank
from tests.dispatch.conftest import sighting

pytestmark = pytest.mark.browser  # the `browser` fixture (tests/conftest.py) skips without /usr/bin/chromium


def test_inbox_shows_alert_on_map_with_photo_and_ack_works(live, browser, tmp_path: Path, request):
    alert_id = live.post(sighting("web-1")).json()["alert_id"]
    token = live.creds.departments["kecheng-urban"].token
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    request.addfinalizer(page.close)
    outside: list[str] = []
    local = (live.url, "blob:" + live.url)  # blob: = the evidence photo fetched with the token
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(local) else None)
    page.goto(f"{live.url}/inbox/kecheng-urban#token={token}")

    page.wait_for_selector(f"tr[data-alert-id='{alert_id}']", timeout=10_000)
    assert "柯城区城市管理局" in page.inner_text("#dept-name")
    assert page.locator("svg#map path.jur").count() == 1
    assert page.locator(f"svg#map circle.pin[data-alert-id='{alert_id}']").count() == 1
    page.click(f"tr[data-alert-id='{alert_id}']")
    page.wait_for_selector("#evidence[data-loaded='true']", timeout=10_000)
    assert page.evaluate("document.getElementById('evidence').naturalWidth") == 64
    assert "柯城区" in page.inner_text("#d-routing")

    page.fill("#note", "已派人 crew sent")
    page.click("#btn-ack")
    page.wait_for_function("document.getElementById('d-status').textContent.includes('acknowledged')", timeout=10_000)
    assert page.is_disabled("#btn-ack") and not page.is_disabled("#btn-resolve")
    assert "已派人 crew sent" in page.inner_text("#history")
    png = page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)
    assert screenshot_is_not_blank(png)

    detail = live.client.get(f"{live.url}/v1/alerts/{alert_id}", headers=live.as_dept("kecheng-urban")).json()
    assert detail["status"] == "acknowledged" and detail["status_history"][-1]["note"] == "已派人 crew sent"
    assert outside == []  # nothing fetched from anywhere but the dispatch server


def test_dashboard_counts_alerts(live, browser, request):
    live.post(sighting("dash-1"))
    live.post(sighting("dash-2", type="exposed_garbage"))
    page = browser.new_page()
    request.addfinalizer(page.close)
    page.goto(f"{live.url}/dashboard#token={live.creds.admin_token}")
    page.wait_for_function("document.getElementById('k-total').textContent === '2'", timeout=10_000)
    assert "道路积水" in page.inner_text("#by-type") and "暴露垃圾" in page.inner_text("#by-type")
    assert page.locator("svg#map path").count() == 6  # the six Quzhou districts
