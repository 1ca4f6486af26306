"""Webhooks: signed per Standard Webhooks, retried until the receiver is back, never sent twice
under different ids; Retry-After honoured; 410 Gone → dead letter, visible and redeliverable."""

from __future__ import annotations

from datetime import datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.dispatch.conftest import KECHENG, sighting


def deliveries(live, dept: str, alert_id: str) -> list[dict]:
    r = live.client.get(f"{live.url}/v1/alerts/{alert_id}/deliveries", headers=live.as_dept(dept))
    r.raise_for_status()
    return r.json()["deliveries"]


def test_webhook_signature_verifies_with_the_department_secret_only(live):
    alert_id = live.post(sighting("sig-1")).json()["alert_id"]
    assert live.receiver.wait_for(1, timeout_s=10)
    got = live.receiver.received[0]
    assert live.receiver.rejected == []
    assert got.department_id == "kecheng-urban" and got.payload["data"]["alert_id"] == alert_id
    own = Webhook(live.creds.departments["kecheng-urban"].webhook_secret)
    assert own.verify(got.body, got.headers)["type"] == "alert.created"
    with pytest.raises(WebhookVerificationError):
        Webhook(live.creds.departments["qujiang-water"].webhook_secret).verify(got.body, got.headers)
    tampered = got.body.replace(b'"new"', b'"resolved"')
    with pytest.raises(WebhookVerificationError):
        own.verify(tampered, got.headers)
    assert got.headers["webhook-id"] == deliveries(live, "kecheng-urban", alert_id)[0]["webhook_id"]


def test_receiver_down_for_a_while_then_every_alert_arrives_once(live):
    live.receiver.stop()
    points = [(KECHENG[0], KECHENG[1] + i * 0.006) for i in range(5)]  # ~670 m apart in 柯城区: 5 incidents
    alert_ids = [live.post(sighting(f"down-{i}", p)).json()["alert_id"] for i, p in enumerate(points)]
    assert all(alert_ids)
    # Wait until every message has failed at least twice against the closed port.
    assert live.wait_until(lambda: all(deliveries(live, "kecheng-urban", a)[0]["attempts"] >= 2 for a in alert_ids))

    live.receiver.start()
    assert live.receiver.wait_for(5, timeout_s=15)
    live.wait_until(lambda: len(live.receiver.received) > 5, timeout_s=1.0)  # any duplicate would show up now

    got = live.receiver.received
    assert sorted(w.payload["data"]["alert_id"] for w in got) == sorted(alert_ids)
    assert len({w.webhook_id for w in got}) == len(got) == 5
    assert live.wait_until(lambda: all(deliveries(live, "kecheng-urban", a)[0]["state"] == "delivered" for a in alert_ids))
    for a in alert_ids:
        (d,) = deliveries(live, "kecheng-urban", a)
        assert [x["status_code"] for x in d["log"]][-1] == 204
        assert all(x["status_code"] is None and x["error"] for x in d["log"][:-1])
        assert d["webhook_id"] == next(w.webhook_id for w in got if w.payload["data"]["alert_id"] == a)


def test_retry_after_is_honoured_and_410_switches_the_endpoint_off_until_an_admin_enables_it(live):
    me = "kecheng-urban"
    live.receiver.respond_with(503, retry_after="1")
    first = live.post(sighting("ra-1")).json()["alert_id"]
    assert live.wait_until(lambda: deliveries(live, me, first)[0]["attempts"] >= 2)
    log = deliveries(live, me, first)[0]["log"]
    t0, t1 = (datetime.fromisoformat(x["at"]) for x in log[:2])
    assert [x["status_code"] for x in log[:2]] == [503, 503]
    assert (t1 - t0).total_seconds() >= 1.0  # the server asked for 1 s; our own backoff here is ≤ 0.4 s

    live.receiver.respond_with(410)
    assert live.wait_until(lambda: deliveries(live, me, first)[0]["state"] == "dead")
    assert "410" in deliveries(live, me, first)[0]["last_error"]
    off = live.client.get(f"{live.url}/v1/admin/endpoints", headers=live.as_admin).json()["disabled"]
    assert [e["department_id"] for e in off] == [me]

    # While switched off, a new alert's message is a dead letter at once and nothing is sent.
    second = live.post(sighting("ra-2", (KECHENG[0], KECHENG[1] + 0.01))).json()["alert_id"]
    (msg,) = deliveries(live, me, second)
    assert msg["state"] == "dead" and msg["attempts"] == 0 and "endpoint disabled" in msg["last_error"]
    dead = live.client.get(f"{live.url}/v1/dead-letters", headers=live.as_dept(me)).json()["dead_letters"]
    assert sorted(d["alert_id"] for d in dead) == sorted([first, second])
    other = live.client.get(f"{live.url}/v1/dead-letters", headers=live.as_dept("qujiang-water")).json()
    assert other["dead_letters"] == []

    live.receiver.respond_with(204)
    r = live.client.post(f"{live.url}/v1/admin/departments/{me}/webhook/enable", headers=live.as_admin)
    assert r.json() == {"department_id": me, "requeued": 2}
    assert live.receiver.wait_for(2, timeout_s=10)
    assert sorted(w.webhook_id for w in live.receiver.received) == sorted(d["webhook_id"] for d in dead)
    assert live.wait_until(lambda: all(deliveries(live, me, a)[0]["state"] == "delivered" for a in (first, second)))
    # Only dead letters can be sent again by hand.
    again = live.client.post(f"{live.url}/v1/admin/deliveries/{dead[0]['webhook_id']}/redeliver", headers=live.as_admin)
    assert again.status_code == 404
