"""Reviewed evidence from dispatch's review queue, fetched over its HTTP API into an evidence set
(a YOLO folder with manifest.yaml, like an imported set) that `patrol dataset build` reads."""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path

import httpx

from detector.datasets import Box, DatasetError, LabelledImage, Manifest, Source, image_size, write_yolo
from detector.synth.dataset import TRAIN_GSD_M

PAGE = 500


def fetch_labels(client: httpx.Client, url: str) -> list[dict]:
    """Every label the queue holds, page by page (bounded by what the server returns)."""
    out: list[dict] = []
    while True:
        r = client.get(f"{url}/v1/review/labels", params={"limit": PAGE, "offset": len(out)})
        if r.status_code in (401, 403):
            raise DatasetError(f"--token: dispatch at {url} refused it ({r.status_code}: {r.json().get('detail')})")
        r.raise_for_status()
        page = r.json()["labels"]
        out += page
        if len(page) < PAGE:
            return out


def fetch_reviewed(url: str, token: str, out: Path, classes: list[str], licence: str) -> Manifest:
    """Download each reviewed crop and write it with its boxes; a rejected finding's crop is kept
    with no box (a hard negative)."""
    url = url.rstrip("/")
    fetched_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client, \
            tempfile.TemporaryDirectory(prefix="patrol-reviewed-") as tmp:
        labels = fetch_labels(client, url)
        if not labels:
            raise DatasetError(f"{url}: the review queue has no reviewed evidence yet; review some first")
        items = []
        for n, lab in enumerate(labels):
            r = client.get(url + "/v1/" + lab["evidence_url"].split("/v1/", 1)[1])  # the server may name itself otherwise
            r.raise_for_status()
            path = Path(tmp) / f"{n:06d}_{lab['key'].replace(':', '_')[-40:]}.jpg"
            path.write_bytes(r.content)
            w, h = image_size(path)
            boxes = tuple(Box(b["type"], *b["box"]) for b in lab["boxes"])
            items.append(LabelledImage(path, w, h, boxes, "review-queue"))
        source = Source(name="review-queue", repo=url, commit=f"fetched {fetched_at}", licence=licence,
                        attribution="verdicts by the city's analysts and departments (see decided_by per label)",
                        gsd_m=TRAIN_GSD_M, gsd_basis="evidence crops are cut from photos rescaled to the model's training GSD",
                        scene="evidence crops of the city's own patrol photos")
        return write_yolo(items, out, classes, source, "train")
