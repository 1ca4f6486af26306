"""The credentials file: made once, kept private, and upgraded in place when a release adds a token."""

from __future__ import annotations

import json

from dispatch.credentials import Credentials


def test_made_once_then_reused(tmp_path):
    path = tmp_path / "credentials.json"
    first = Credentials.load_or_create(path, ["kecheng-urban"])
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert Credentials.load_or_create(path, ["kecheng-urban"]) == first
    grown = Credentials.load_or_create(path, ["kecheng-urban", "qujiang-water"])
    assert grown.departments["kecheng-urban"] == first.departments["kecheng-urban"]
    assert grown.ingest_token == first.ingest_token and "qujiang-water" in grown.departments


def test_a_file_from_before_ingest_tokens_gets_one_and_keeps_the_rest(tmp_path):
    path = tmp_path / "credentials.json"
    old = Credentials.generate(["kecheng-urban"])
    saved = json.loads(json.dumps({"admin_token": old.admin_token,
                                   "departments": {"kecheng-urban": vars(old.departments["kecheng-urban"])}}))
    path.write_text(json.dumps(saved))
    upgraded = Credentials.load_or_create(path, ["kecheng-urban"])
    assert upgraded.admin_token == old.admin_token and upgraded.departments == old.departments
    assert upgraded.ingest_token.startswith("ing_")
    assert json.loads(path.read_text())["ingest_token"] == upgraded.ingest_token
