"""The department inbox and the city dashboard in headless Chromium (offline: no CDN, no tiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import screenshot_is_not_blank
from tests.dispatch.conftest import sighting

pytestmark = pytest.mark.browser  # the `browser` fixture (tests/conftest.py) skips without /usr/bin/chromium


def test_inbox_shows_alert_on_map_with_photo_and_ack_works(live, browser, tmp_path: Path, request):
    alert_id = live.post(sighting("web-1")).json()["alert_id"]
    token = live.creds.token("kecheng-urban")
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
    page.wait_for_selector("#d-status:has-text('acknowledged')", timeout=10_000)  # (CSP: no string eval)
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
    page.wait_for_selector("#k-total:text-is('2')", timeout=10_000)
    assert "道路积水" in page.inner_text("#by-type") and "暴露垃圾" in page.inner_text("#by-type")
    assert page.locator("svg#map path").count() == 6  # the six Quzhou districts


EVIL = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.fixture
def evil_live(tmp_path, quzhou_city, creds, receiver):
    """A dispatch whose city config carries markup in a department name and in taxonomy names."""
    from dataclasses import replace

    import httpx

    from dispatch.app import create_app
    from dispatch.departments import with_webhook_base
    from dispatch.server import BackgroundServer
    from dispatch.settings import Settings
    from tests.dispatch.conftest import FAST_RETRY, Live

    depts = tuple(replace(d, name=d.name + EVIL, name_en=d.name_en + EVIL) if d.id == "kecheng-urban" else d
                  for d in quzhou_city.departments)
    tax = quzhou_city.taxonomy
    tax = tax.model_copy(update={"types": tuple(t.model_copy(update={"zh": t.zh + EVIL, "en": EVIL}) for t in tax.types)})
    settings = Settings(departments=with_webhook_base(depts, receiver.url), taxonomy=tax, credentials=creds,
                        database_url=f"sqlite:///{tmp_path / 'evil.db'}", retry=FAST_RETRY)
    server = BackgroundServer(create_app(settings))
    server.start()
    with httpx.Client(timeout=10) as client:
        yield Live(server.url, creds, receiver, client)
    server.stop()


def test_markup_from_config_is_shown_as_text_never_run(evil_live, browser, request):
    """The pages alone must keep markup inert: this runs with the CSP switched off (its own test is below)."""
    live = evil_live
    alert_id = live.post(sighting("evil-1")).json()["alert_id"]
    page = browser.new_page(bypass_csp=True)
    request.addfinalizer(page.close)
    page.goto(f"{live.url}/inbox/kecheng-urban#token={live.creds.token('kecheng-urban')}")
    page.wait_for_selector(f"tr[data-alert-id='{alert_id}']", timeout=10_000)
    page.click(f"tr[data-alert-id='{alert_id}']")
    page.wait_for_function("document.getElementById('d-routing').textContent.length > 0", timeout=10_000)
    assert "<img src=x" in page.inner_text("#alerts") and "<img src=x" in page.inner_text("#dept-name")
    assert page.locator("#alerts img, #alerts script, #detail script").count() == 0
    assert page.evaluate("window.__pwned") is None

    page.goto(f"{live.url}/dashboard#token={live.creds.admin_token}")
    page.wait_for_function("document.getElementById('k-total').textContent === '1'", timeout=10_000)
    assert "<img src=x" in page.inner_text("#by-type") and "<img src=x" in page.inner_text("#by-dept")
    assert page.locator("#by-type img, #by-dept img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_pages_carry_a_content_security_policy(live):
    for path in ("/dashboard", "/inbox/kecheng-urban", "/web/inbox.js", "/web/dom.js"):
        r = live.client.get(f"{live.url}{path}")
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    html = live.client.get(f"{live.url}/dashboard").text
    assert "<script>" not in html  # no inline script: the policy would refuse it
    assert live.client.get(f"{live.url}/web/..%2Fapp.py").status_code == 404
