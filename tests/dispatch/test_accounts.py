"""Per-person accounts (their own tokens, named in the audit trail, revocable) and webhook-secret
rotation without a gap (Standard Webhooks: several signatures in one header)."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.dispatch.conftest import KECHENG, sighting

ACCOUNTS = "/v1/admin/departments/kecheng-urban/accounts"


def make_account(live, login: str, name: str) -> dict:
    r = live.client.post(live.url + ACCOUNTS, json={"login": login, "name": name}, headers=live.as_admin)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_person_acts_with_their_own_token_and_the_audit_trail_names_them(live, store_url):
    zhang = make_account(live, "zhang.san", "张三")
    assert zhang["token"].startswith("dep_")
    me = {"Authorization": f"Bearer {zhang['token']}"}
    assert live.client.get(live.url + "/v1/me", headers=me).json()["account"] == {"login": "zhang.san", "name": "张三"}
    listed = live.client.get(live.url + ACCOUNTS, headers=live.as_admin).json()["accounts"]
    assert [a["login"] for a in listed] == ["department", "zhang.san"] and all("token" not in a for a in listed)

    alert_id = live.post(sighting("acct-1", KECHENG)).json()["alert_id"]
    r = live.client.post(f"{live.url}/v1/alerts/{alert_id}/ack", json={"note": "on my way"}, headers=me)
    assert r.status_code == 200, r.text
    r = live.client.post(f"{live.url}/v1/alerts/{alert_id}/resolve", headers=live.as_dept("kecheng-urban"))
    assert [h["actor"] for h in r.json()["status_history"]] == ["dispatch", "zhang.san (张三)", "department (部门共用 shared login)"]

    if store_url.startswith("sqlite"):  # the token itself is nowhere in the store
        db = store_url.split("///", 1)[1]
        stored = b"".join(open(p, "rb").read() for p in (db, db + "-wal") if __import__("os").path.exists(p))
        assert zhang["token"].encode() not in stored

    revoked = live.client.post(f"{live.url}{ACCOUNTS}/zhang.san/revoke", headers=live.as_admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert live.client.get(live.url + "/v1/me", headers=me).status_code == 401
    assert live.client.get(live.url + "/v1/me", headers=live.as_dept("kecheng-urban")).status_code == 200


def test_accounts_refuse_clearly(live):
    make_account(live, "li.si", "李四")
    again = live.client.post(live.url + ACCOUNTS, json={"login": "li.si", "name": "李四"}, headers=live.as_admin)
    assert again.status_code == 409 and "li.si" in again.json()["detail"]
    for body, field in (({"login": "Li Si!", "name": "x"}, "login"), ({"login": "li", "name": ""}, "name"),
                        ({"login": "li", "name": "x\u0000"}, "name")):
        r = live.client.post(live.url + ACCOUNTS, json=body, headers=live.as_admin)
        assert r.status_code == 422 and field in str(r.json()["detail"]), r.text
    as_dept = live.client.post(live.url + ACCOUNTS, json={"login": "x", "name": "x"}, headers=live.as_dept("kecheng-urban"))
    assert as_dept.status_code == 401
    nowhere = live.client.post(live.url + "/v1/admin/departments/nope/accounts", json={"login": "x", "name": "x"},
                               headers=live.as_admin)
    assert nowhere.status_code == 404 and "department_id" in nowhere.json()["detail"]
    assert live.client.post(f"{live.url}{ACCOUNTS}/nobody/revoke", headers=live.as_admin).status_code == 404


def _signed_with(got, secret: str) -> bool:
    try:
        Webhook(secret).verify(got.body, got.headers)
    except WebhookVerificationError:
        return False
    return True


def test_webhook_secret_rotation_signs_with_both_until_the_old_one_retires(live):
    old = live.creds.departments["kecheng-urban"].webhook_secret
    rotate = f"{live.url}/v1/admin/departments/kecheng-urban/webhook/rotate"
    r = live.client.post(rotate, json={"grace_hours": 1}, headers=live.as_admin)
    assert r.status_code == 200, r.text
    new = r.json()["webhook_secret"]
    assert new.startswith("whsec_") and new != old and r.json()["previous_secrets_retire_at"]

    live.post(sighting("rot-1", KECHENG))
    assert live.receiver.wait_for(1, timeout_s=10)  # the receiver still checks with the old secret: accepted
    got = live.receiver.received[0]
    assert len(got.headers["webhook-signature"].split()) == 2
    assert _signed_with(got, new) and _signed_with(got, old)
    assert not _signed_with(got, live.creds.departments["qujiang-water"].webhook_secret)

    assert live.client.post(rotate, json={"grace_hours": 0}, headers=live.as_admin).status_code == 200
    live.post(sighting("rot-2", (KECHENG[0], KECHENG[1] + 0.01)))
    assert live.wait_until(lambda: live.receiver.rejected, timeout_s=10)  # old secret retired: the old receiver refuses
    assert live.receiver.rejected[0][0] == "kecheng-urban" and len(live.receiver.received) == 1


def test_rotation_refuses_bad_input(live):
    rotate = f"{live.url}/v1/admin/departments/kecheng-urban/webhook/rotate"
    for grace in (-1, 1e9, "24", True):
        r = live.client.post(rotate, json={"grace_hours": grace}, headers=live.as_admin)
        assert r.status_code == 422 and "grace_hours" in str(r.json()["detail"])
    assert live.client.post(rotate, headers=live.as_dept("kecheng-urban")).status_code == 401
    assert live.client.post(rotate.replace("kecheng-urban", "nope"), headers=live.as_admin).status_code == 404
