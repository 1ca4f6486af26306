"""A sighting of a type not validated on real photos opens a 'held' alert: listed with that status
in the department's inbox, never sent by webhook; verified types still go out."""

from __future__ import annotations

from tests.dispatch.conftest import KECHENG, sighting


def test_unverified_sighting_is_held_and_not_sent(live):
    held = live.post(sighting("u-1", (KECHENG[0] + 0.004, KECHENG[1]), unverified=True))  # ~400 m east
    assert held.status_code == 201, held.text
    sent = live.post(sighting("v-1"))
    assert sent.status_code == 201, sent.text
    alerts = {a["status"]: a for a in live.alerts("kecheng-urban")}
    assert sorted(alerts) == ["held", "new"]
    detail = live.client.get(f"{live.url}/v1/alerts/{alerts['held']['alert_id']}", headers=live.as_dept("kecheng-urban"))
    assert "not validated on real photos" in detail.json()["status_history"][0]["note"]
    assert live.receiver.wait_for(1, timeout_s=10)
    live.wait_until(lambda: len(live.receiver.received) > 1, timeout_s=1.0)
    assert [w.payload["data"]["alert_id"] for w in live.receiver.received] == [alerts["new"]["alert_id"]]


def test_a_held_alert_can_be_rejected_but_not_acknowledged(live):
    live.post(sighting("u-2", (KECHENG[0] + 0.003, KECHENG[1]), unverified=True))
    alert = live.alerts("kecheng-urban", status="held")[0]
    me = live.as_dept("kecheng-urban")
    url = f"{live.url}/v1/alerts/{alert['alert_id']}"
    assert live.client.post(f"{url}/ack", headers=me, json={"note": "x"}).status_code == 409
    r = live.client.post(f"{url}/reject", headers=me, json={"note": "plastic sheet, not garbage"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
