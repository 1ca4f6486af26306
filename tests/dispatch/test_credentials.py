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
    for content, says in (("", "is empty"), ("{", "cannot be read"), ('{"departments": {}}', "admin_token")):
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
