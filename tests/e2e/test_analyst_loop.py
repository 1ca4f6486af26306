"""The analyst loop end to end, through dispatch's API and the `patrol` CLI: verdicts on real
detector output → a dataset → a CPU fine-tune → evaluation → registry promote / rollback, with
training and evaluation run with networking disabled (a new network namespace), and a running
detector that follows the registry picking up the promoted model while dispatch keeps running."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from tests.conftest import ROOT

TRAIN_PY = ROOT / ".venv-train" / "bin" / "python"
SHIPPED = ROOT / "models" / "patrol-yolo11n-synth.yaml"
pytestmark = [
    pytest.mark.skipif(not TRAIN_PY.exists(), reason="needs the training venv .venv-train (torch + Ultralytics): "
                                                     "`make train-venv`; .ci/run builds it"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux `unshare` to cut the network"),
    pytest.mark.timeout(1200),  # renders photos, fine-tunes on CPU, evaluates two models
]


def offline(cmd: list[str], timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run `cmd` in a fresh network namespace: no interface but a downed loopback, so nothing
    it tries to fetch (weights, fonts, packages, telemetry) can be reached."""
    return subprocess.run(["unshare", "-n", "--", *cmd], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def patrol(*args: str, python: Path = Path(sys.executable), net: bool = True, timeout: float = 1200):
    """Run the CLI; `.text` is its output with rich's line wrapping undone, for assertions."""
    cmd = [str(python), "-m", "patrol.cli", *args]
    res = offline(cmd, timeout) if not net else subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    res.text = " ".join(res.stdout.split())
    return res


@pytest.fixture
def no_network_proof():
    """A listener on 127.0.0.1 that this process reaches and a namespaced child cannot; skip
    where namespaces are not allowed (unprivileged containers)."""
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    probe = f"import socket,sys; s=socket.socket(); s.settimeout(2); sys.exit(s.connect_ex(('127.0.0.1', {port})))"
    inside = offline([sys.executable, "-c", probe], timeout=30)
    if "Operation not permitted" in inside.stderr:
        srv.close()
        pytest.skip(f"unshare -n is not permitted here: {inside.stderr.strip()}")
    outside = socket.create_connection(("127.0.0.1", port), timeout=2)
    outside.close()
    yield inside.returncode
    srv.close()


@pytest.fixture
def dispatch_live(tmp_path, quzhou_city):
    from dispatch.app import create_app
    from dispatch.credentials import Credentials
    from dispatch.server import BackgroundServer
    from dispatch.settings import Settings

    creds = Credentials.generate([d.id for d in quzhou_city.departments])
    settings = Settings(departments=quzhou_city.departments, taxonomy=quzhou_city.taxonomy, credentials=creds,
                        database_url=f"sqlite:///{tmp_path / 'dispatch.db'}", start_worker=False)
    server = BackgroundServer(create_app(settings))
    server.start()
    yield server.url, creds
    server.stop()


def detected_sightings(registry_dir: Path, workdir: Path):
    """Real detector output on rendered photos of a held-out synthetic city, each with its truth:
    True when a planted violation of that type lies within 10 m."""
    from detector.detect import Detector
    from detector.registry import Registry
    from detector.synth.world import World
    from patrol.calibration import render_survey, survey_poses

    world = World(seed=13, violation_rate=1.0)
    shots = render_survey(world, survey_poses(world, 200.0, 100.0), workdir)
    det = Detector(follow=Registry(registry_dir))
    det.thresholds[:] = 0.05  # low, so there are false alarms to reject
    out = []
    for shot in shots:
        pe, pn = (np.asarray(a) for a in world.frame.forward([p.lon for p in shot.planted], [p.lat for p in shot.planted]))
        for s in det.detect(shot.capture):
            e, n = world.frame.forward(s.lon, s.lat)
            near = [p for p, d in zip(shot.planted, np.hypot(pe - e, pn - n)) if d <= 10.0 and p.code == s.type]
            out.append((s, bool(near)))
    return det, shots, out


def test_review_dataset_train_eval_promote_rollback(tmp_path, dispatch_live, no_network_proof):
    from detector.datasets import read_set, write_yolo
    from detector.registry import Registry

    assert no_network_proof != 0  # the namespaced child could not reach 127.0.0.1
    url, creds = dispatch_live
    admin = {"Authorization": f"Bearer {creds.admin_token}"}
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".yaml", ".onnx", ".pt"):
        shutil.copyfile(SHIPPED.with_suffix(suffix), models / SHIPPED.with_suffix(suffix).name)
    shipped_version = yaml.safe_load(SHIPPED.read_text())["version"]

    # 1. real detector output into dispatch; an analyst rejects 10 false alerts and confirms 10 true ones
    det, shots, found = detected_sightings(models, tmp_path / "photos")
    true = [s for s, real in found if real and s.evidence_box][:10]
    false = [s for s, real in found if not real and s.evidence_box][:10]
    assert len(true) == 10 and len(false) == 10, (len(true), len(false))
    with httpx.Client(timeout=30) as client:
        r = client.post(f"{url}/v1/sightings", json=[s.to_json() for s in true + false],
                        headers={"Authorization": f"Bearer {creds.ingest_token}"})
        assert r.status_code == 201, r.text
        for s, verdict in [(s, "true") for s in true] + [(s, "false") for s in false]:
            client.post(f"{url}/v1/review/{s.key}/verdict", headers=admin, json={"verdict": verdict}).raise_for_status()

    # 2. dataset: the reviewed crops + a small synthetic set, with a content-hashed held-out split
    reviewed, synth, build = tmp_path / "reviewed", tmp_path / "synth", tmp_path / "build"
    card = str(models / SHIPPED.name)
    res = patrol("dataset", "fetch-reviewed", "--out", str(reviewed), "--dispatch", url, "--token", creds.admin_token,
                 "--model", card)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "20 reviewed crops" in res.text and "(10 hard negatives)" in res.text
    res = patrol("dataset", "synth", "--out", str(synth), "--tiles", "60", "--val-tiles", "20", "--seed", "1")
    assert res.returncode == 0, res.stdout + res.stderr
    res = patrol("dataset", "build", "--out", str(build), "--reviewed", str(reviewed), "--synthetic", str(synth),
                 "--model", card)
    assert res.returncode == 0, res.stdout + res.stderr
    manifest = yaml.safe_load((build / "manifest.yaml").read_text())
    assert {s["kind"] for s in manifest["sources"]} == {"reviewed", "synthetic"}
    assert all(s["licence"] for s in manifest["sources"])
    rebuilt = tmp_path / "build2"
    assert patrol("dataset", "build", "--out", str(rebuilt), "--reviewed", str(reviewed), "--synthetic", str(synth),
                  "--model", card, "--previous", str(build)).returncode == 0
    assert yaml.safe_load((rebuilt / "manifest.yaml").read_text())["heldout_sha256"] == manifest["heldout_sha256"]

    # 3. fine-tune a few epochs on CPU, offline
    res = patrol("train", "--data", str(build), "--models", str(models), "--epochs", "2", "--imgsz", "160",
                 "--batch", "16", "--runs", str(tmp_path / "runs"), "--name", "loop", python=TRAIN_PY, net=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    resumed = patrol("train", "--data", str(build), "--models", str(models), "--resume", "--runs", str(tmp_path / "runs"),
                     "--name", "loop", python=TRAIN_PY, net=False)
    assert resumed.returncode == 2 and "--resume:" in resumed.text and "already finished" in resumed.text, resumed.text
    new_card = next(models.glob("loop-*.yaml"))
    new = yaml.safe_load(new_card.read_text())
    assert new["parent"] == shipped_version and new["data_hash"] == manifest["data_sha256"]
    assert (models / new["file"]).is_file()

    # 4. evaluate both on the held-out split and a few real photos, offline; both cards record it
    real_manifest, items = read_set(ROOT / "data" / "real_dev")
    real = tmp_path / "real3"
    write_yolo(items[:3], real, real_manifest.classes, real_manifest.sources[0], "dev")
    res = patrol("eval", str(new_card), "--data", str(build), "--real", str(real), "--models", str(models),
                 "--backend", "onnxruntime", net=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "mAP50 / mAP50-95" in res.text
    reg = Registry(models)
    cand, cur = reg.find(new["version"]).card, reg.current().card
    key = next(k for k in cand.evaluations if k.startswith("heldout:"))
    assert key in cur.evaluations and any(k.startswith("real:") for k in cur.evaluations)

    listed = patrol("models", "list", "--models", str(models))
    assert listed.returncode == 0 and new["version"] in listed.text and "★ current" in listed.text
    for card_ in (cand, cur):
        assert f"mAP50 {card_.evaluations[key]['map50']:.3f} · mAP50-95 {card_.evaluations[key]['map50_95']:.3f}" in listed.text
    assert "illegal_parking R" in listed.text

    # 5. promote picks the better model; rollback restores the old one
    better = all(cand.evaluations[k][m] >= cur.evaluations[k][m] for k, m in
                 ((key, "map50_95"), (next(k for k in cand.evaluations if k.startswith("real:")), "score"))
                 if cand.evaluations[k][m] is not None and cur.evaluations[k][m] is not None)
    res = patrol("models", "promote", new["version"], "--models", str(models))
    assert (res.returncode == 0) == better, res.stdout
    if not better:
        assert "refused" in res.text and reg.current().version == shipped_version
        res = patrol("models", "promote", new["version"], "--force", "--models", str(models))
        assert res.returncode == 0, res.stdout
    assert reg.current().version == new["version"]

    # the detector that has been running all along switches on its next photo; dispatch was never restarted
    after = det.detect(shots[0].capture)
    assert det.model_version == new["version"] and all(s.model_version == new["version"] for s in after)
    if after:
        with httpx.Client(timeout=30) as client:
            client.post(f"{url}/v1/sightings", json=after[0].to_json(),
                        headers={"Authorization": f"Bearer {creds.ingest_token}"}).raise_for_status()
            item = client.get(f"{url}/v1/review/{after[0].key}", headers=admin).json()
        assert item["model_version"] == new["version"]

    res = patrol("models", "rollback", "--models", str(models))
    assert res.returncode == 0, res.stdout
    assert reg.current().version == shipped_version
    det.detect(shots[0].capture)
    assert det.model_version == shipped_version
    history = reg.history()
    assert [h["action"] for h in history][-1] == "rollback"
