"""The credentials file: made once, kept private, tokens only as digests, and upgraded in place
from older formats (the same tokens go on working)."""

from __future__ import annotations

import json

from dispatch.credentials import Credentials, digest


def test_made_once_then_reused(tmp_path):
    path = tmp_path / "credentials.json"
    first, shown = Credentials.load_or_create(path, ["kecheng-urban"])
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert shown.admin.startswith("adm_") and shown.ingest.startswith("ing_") and set(shown.departments) == {"kecheng-urban"}
    assert Credentials.load_or_create(path, ["kecheng-urban"]) == (first, type(shown)())  # nothing new to show
    grown, more = Credentials.load_or_create(path, ["kecheng-urban", "qujiang-water"])
    assert grown.departments["kecheng-urban"] == first.departments["kecheng-urban"]
    assert grown.ingest_sha256 == first.ingest_sha256 and set(more.departments) == {"qujiang-water"}
    assert grown.departments["qujiang-water"].token_sha256 == digest(more.departments["qujiang-water"])


def test_tokens_are_kept_only_as_digests(tmp_path):
    path = tmp_path / "credentials.json"
    _, shown = Credentials.load_or_create(path, ["kecheng-urban"])
    text = path.read_text()
    for token in (shown.admin, shown.ingest, shown.departments["kecheng-urban"]):
        assert token not in text and digest(token) in text


def _format_1(old) -> dict:
    """The credentials file as releases before digests wrote it (plain tokens)."""
    return {"admin_token": old.admin_token, "ingest_token": old.ingest_token, "departments": {
        "kecheng-urban": {"token": old.token("kecheng-urban"),
                          "webhook_secret": old.departments["kecheng-urban"].webhook_secret}}}


def test_a_file_with_plain_tokens_is_turned_into_digests_and_its_tokens_go_on_working(tmp_path):
    path = tmp_path / "credentials.json"
    old = Credentials.generate(["kecheng-urban"])
    path.write_text(json.dumps(_format_1(old)))
    upgraded, shown = Credentials.load_or_create(path, ["kecheng-urban"])
    assert not shown and upgraded == old.plain()
    text = path.read_text()
    assert old.admin_token not in text and old.token("kecheng-urban") not in text and old.ingest_token not in text
    assert json.loads(text)["format"] == 2 and Credentials.load(path) == (upgraded, type(shown)())


def test_a_file_from_before_ingest_tokens_gets_one_and_keeps_the_rest(tmp_path):
    path = tmp_path / "credentials.json"
    old = Credentials.generate(["kecheng-urban"])
    saved = _format_1(old)
    del saved["ingest_token"]
    path.write_text(json.dumps(saved))
    upgraded, shown = Credentials.load_or_create(path, ["kecheng-urban"])
    assert upgraded.admin_sha256 == old.admin_sha256 and upgraded.departments == old.departments
    assert shown.ingest.startswith("ing_") and upgraded.ingest_sha256 == digest(shown.ingest)
    assert json.loads(path.read_text())["ingest_token_sha256"] == digest(shown.ingest)


def test_an_existing_loose_file_is_made_private_and_not_rewritten(tmp_path):
    path = tmp_path / "credentials.json"
    Credentials.load_or_create(path, ["kecheng-urban"])
    path.chmod(0o644)
    before = path.stat().st_ino, path.stat().st_mtime_ns
    Credentials.load_or_create(path, ["kecheng-urban"])
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == before  # unchanged: not written again
    Credentials.load_or_create(path, ["kecheng-urban", "qujiang-water"])  # changed: replaced by rename
    assert path.stat().st_ino != before[0] and oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.json"]  # no temp file left behind


def test_an_empty_or_broken_file_is_a_clear_error(tmp_path):
    import pytest

    from dispatch.credentials import CredentialsError

    path = tmp_path / "credentials.json"
    for content, says in (("", "is empty"), ("{", "cannot be read"), ('{"departments": {}}', "admin_token"),
                          ('{"format": 2, "departments": {}}', "admin_token_sha256")):
        path.write_text(content)
        with pytest.raises(CredentialsError, match=says):
            Credentials.load_or_create(path, ["kecheng-urban"])
        assert path.read_text() == content  # a broken file is never overwritten with new secrets


def test_patrol_serve_with_an_empty_credentials_file_says_so(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    creds = tmp_path / "credentials.json"
    creds.write_text("")
    out = subprocess.run([sys.executable, "-m", "patrol.cli", "serve", "--config", str(root / "configs/quzhou.yaml"),
                          "--credentials", str(creds), "--db", f"sqlite:///{tmp_path / 'd.db'}"],
                         cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stdout + out.stderr
    assert "is empty" in out.stdout
