"""Alert-level figures on whole rendered photos of held-out synthetic cities: per-class threshold
calibration, and recall/precision of planted violations through the whole detection pipeline.

Thresholds picked on training tiles let look-alikes through on whole photos, where distractors
are far more common than in the tile mix. `collect` detects with a low threshold and scores what
would become alerts: a planted violation is found if some photo has a same-type detection within
the match radius, and the other detections group into false incidents as dispatch groups them.
`pick` takes, per class, the lowest threshold whose alert-level precision reaches a target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detector.camera import CameraModel
from detector.capture import CameraPose, Capture
from detector.detect import Detector
from detector.georef import Georeferencer
from detector.synth.render import render_capture
from detector.synth.world import Planted, World
from detector.second_look import SecondLook
from detector.sighting import Sighting
from dispatch.settings import IncidentWindows
from patrol.evaluation import Planted as Truth
from patrol.evaluation import Reported, score

CAMERA = CameraModel(17.3, 13.0, 12.29, 5280, 3956)


def survey_poses(world: World, size_m: float, alt_m: float) -> list[CameraPose]:
    across, along = (f * 0.7 for f in CAMERA.footprint_m(alt_m))
    poses = []
    for x in np.arange(0.0, size_m, across):
        for y in np.arange(0.0, size_m, along):
            lon, lat = world.to_lonlat(x, y)
            poses.append(CameraPose(lat=float(lat), lon=float(lon), alt_agl_m=alt_m, alt_amsl_m=alt_m + 70.0))
    return poses


@dataclass(frozen=True)
class Shot:
    """One rendered survey photo and the planted violations inside its footprint."""

    capture: Capture
    planted: list[Planted]


def render_survey(world: World, poses: list[CameraPose], workdir: Path) -> list[Shot]:
    shots = []
    for k, pose in enumerate(poses):
        cap = render_capture(world, pose, CAMERA, workdir / f"{k:04d}.jpg", seq=k, scale=0.5, seed=k)
        shots.append(Shot(cap, world.violations(Georeferencer(pose, cap.camera, frame=world.frame).footprint())))
    return shots


def collect(detector: Detector, world: World, shots: list[Shot], radius_m: float,
            windows: IncidentWindows) -> dict[str, list[tuple[float, bool]]]:
    """Per class, one (confidence, true?) entry per would-be alert: each planted violation in
    view scores the best same-type detection within `radius_m` of it in any photo (0 if none),
    and the other detections of a type group into false incidents the way dispatch groups
    sightings (within the type's incident distance), each scoring its best detection."""
    found: dict[str, float] = {}
    planted: dict[str, Planted] = {}
    false: list[tuple[str, float, float, float]] = []  # type, confidence, east, north
    for shot in shots:
        cap, here = shot.capture, shot.planted
        planted.update((p.id, p) for p in here)
        pe, pn = (np.asarray(a) for a in world.frame.forward([p.lon for p in here], [p.lat for p in here]))
        taken: set[int] = set()
        for s in sorted(detector.detect(cap), key=lambda s: -s.confidence):
            e, n = (float(c) for c in world.frame.forward(s.lon, s.lat))
            d = np.hypot(pe - e, pn - n) if len(here) else np.array([])
            best = [j for j in np.argsort(d) if d[j] <= radius_m and here[j].code == s.type and j not in taken]
            if best:
                taken.add(int(best[0]))
                pid = here[best[0]].id
                found[pid] = max(found.get(pid, 0.0), s.confidence)
            else:
                false.append((s.type, s.confidence, e, n))
    scored: dict[str, list[tuple[float, bool]]] = {c: [] for c in detector.card.classes}
    for pid, p in planted.items():
        scored[p.code].append((found.get(pid, 0.0), True))
    incidents: list[tuple[str, float, float]] = []  # type, east, north of each false incident's best detection
    for code, conf, e, n in sorted(false, key=lambda f: -f[1]):
        reach = windows.of(code).distance
        if not any(t == code and np.hypot(x - e, y - n) <= reach for t, x, y in incidents):
            incidents.append((code, e, n))
            scored[code].append((conf, False))
    return scored


def pick(scores: list[tuple[float, bool]], precision: float, floor: float) -> tuple[float, float, float]:
    """(threshold, precision, recall) for one class, over would-be alerts."""
    total = sum(h for _, h in scores)
    scores = [(c, h) for c, h in scores if c > 0]
    if not scores or not total:
        return floor, float("nan"), float("nan")
    conf = np.array([c for c, _ in scores])
    hit = np.array([h for _, h in scores])
    order = np.argsort(-conf)
    conf, hit = conf[order], hit[order]
    tp = np.cumsum(hit)
    prec = tp / np.arange(1, len(hit) + 1)
    rec = tp / total
    ok = np.nonzero(prec >= precision)[0]
    if len(ok):
        i = ok.max()
    else:
        f05 = 1.25 * prec * rec / np.maximum(0.25 * prec + rec, 1e-9)
        i = int(np.argmax(f05))
    # halfway down to the next detection: the same split of this data, with margin for the next city
    cut = (conf[i] + conf[i + 1]) / 2 if i + 1 < len(conf) else conf[i]
    return max(floor, float(cut)), float(prec[i]), float(rec[i])


def incidents_of(sightings: list[Sighting], frame, windows: IncidentWindows) -> list[Sighting]:
    """The first sighting of each incident, grouped as dispatch groups them: same type, within
    the type's incident distance of an incident's first sighting."""
    firsts: list[tuple[Sighting, float, float]] = []
    for s in sorted(sightings, key=lambda s: s.time):
        e, n = (float(c) for c in frame.forward(s.lon, s.lat))
        reach = windows.of(s.type).distance
        if not any(f.type == s.type and np.hypot(x - e, y - n) <= reach for f, x, y in firsts):
            firsts.append((s, e, n))
    return [f for f, _, _ in firsts]


def pipeline_figures(detector: Detector, world: World, shots: list[Shot], radius_m: float,
                     windows: IncidentWindows) -> dict[str, dict[str, float | int | None]]:
    """Per class, planted violations found as alerts and alerts that were true, after the whole
    photo stage: tiling and merging at the card's thresholds, the second look (a detection is
    posted once another photo agrees), and grouping into incidents."""
    look = SecondLook(detector.card.conf_thresholds)
    saved, detector.thresholds = detector.thresholds, look.support_thresholds(detector.card.classes)
    try:
        posted = [s for shot in shots for s in look.review(shot.capture, detector.detect(shot.capture))] + look.flush()
    finally:
        detector.thresholds = saved
    planted = {p.id: p for shot in shots for p in shot.planted}
    alerts = incidents_of(posted, world.frame, windows)
    scores = score([Truth(p.id, p.code, p.lon, p.lat) for p in planted.values()],
                   [Reported(s.key, s.type, s.lon, s.lat) for s in alerts], world.frame, radius_m)
    out = {}
    for code, row in sorted(scores.per_type().items()):
        out[code] = {**row, "recall": round(row["found"] / row["planted"], 3) if row["planted"] else None,
                     "precision": round(1 - row["false"] / row["alerts"], 3) if row["alerts"] else None}
    return out
