"""The model registry: every model card in `models/`, which one is promoted, and the history of
promotions and rollbacks.

The promoted model is named in `models/registry.yaml` (written atomically, so a detector that
reads it mid-promotion sees the old or the new name, never half a file). Without that file the
shipped model is current. A model is promoted only when it is at least as good as the current
one on every split both were evaluated on (`patrol eval` keys each result by the split's content
hash, so the two figures come from the same photos), unless the analyst forces it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from detector.card import CardError, ModelCard, load_card

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
SHIPPED = "patrol-yolo11n-synth.yaml"
STATE = "registry.yaml"


class RegistryError(ValueError):
    """A promotion or rollback that cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Entry:
    path: Path
    card: ModelCard

    @property
    def version(self) -> str:
        return self.card.version


def split_score(key: str, result: dict[str, Any]) -> float | None:
    """The one figure two models are ranked by on a split: mAP50-95 on a held-out set, mean F1
    over the classes with labelled objects on a real one."""
    if key.startswith("heldout:"):
        return result.get("map50_95")
    if key.startswith("real:"):
        return result.get("score")
    return None


def compare(candidate: ModelCard, current: ModelCard) -> list[tuple[str, float, float]]:
    """(split, candidate score, current score) on each split both models were scored on."""
    out = []
    for key, result in candidate.evaluations.items():
        if key in current.evaluations:
            a, b = split_score(key, result), split_score(key, current.evaluations[key])
            if a is not None and b is not None:
                out.append((key, float(a), float(b)))
    return out


class Registry:
    def __init__(self, root: Path = MODELS_DIR):
        self.root = Path(root)

    @property
    def state_path(self) -> Path:
        return self.root / STATE

    def _state(self) -> dict[str, Any]:
        if not self.state_path.is_file():
            return {"current": SHIPPED, "history": []}
        try:
            state = yaml.safe_load(self.state_path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise RegistryError(f"{self.state_path}: not valid YAML ({exc}); restore it from git") from None
        if not isinstance(state.get("current"), str):
            raise RegistryError(f"{self.state_path}: no 'current' model card named; restore it from git")
        return {"current": state["current"], "history": list(state.get("history") or [])}

    def _save(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_name(f".{STATE}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(yaml.safe_dump(state, sort_keys=False, allow_unicode=True), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def entries(self) -> list[Entry]:
        """Every model card in the folder (files that are not cards are skipped)."""
        out = []
        for path in sorted(self.root.glob("*.yaml")):
            if path.name == STATE:
                continue
            try:
                out.append(Entry(path, load_card(path)))
            except CardError:
                continue
        return out

    def current_path(self) -> Path:
        return self.root / self._state()["current"]

    def current(self) -> Entry:
        path = self.current_path()
        return Entry(path, load_card(path))

    def find(self, name: str) -> Entry:
        """A model by version, card name or card file name."""
        for e in self.entries():
            if name in (e.version, e.card.name, e.path.name, e.path.stem):
                return e
        known = ", ".join(e.version for e in self.entries())
        raise RegistryError(f"model {name!r}: not in {self.root} (known: {known})")

    def history(self) -> list[dict[str, Any]]:
        return self._state()["history"]

    def promote(self, name: str, force: bool = False, actor: str = "analyst", note: str = "") -> Entry:
        """Make `name` current. Refused when it is worse on a split both were scored on, when the
        two were never scored on the same split, or when its classes differ (running detectors
        swap models in place and keep their class list), unless `force`."""
        state, candidate, current = self._state(), self.find(name), self.current()
        if candidate.path == current.path:
            raise RegistryError(f"model {candidate.version!r} is already the current model")
        shared = compare(candidate.card, current.card)
        problems = [f"{key}: {a:.4f} < current {b:.4f}" for key, a, b in shared if a < b]
        if not shared:
            problems.append(f"no split on which both were evaluated; run `patrol eval {candidate.path}` "
                            f"and `patrol eval {current.path}` on the same --data/--real sets")
        if candidate.card.classes != current.card.classes:
            problems.append(f"classes differ from the current model's ({candidate.card.classes} vs {current.card.classes})")
        if problems and not force:
            raise RegistryError(f"promote {candidate.version}: refused — " + "; ".join(problems) + " (use --force to override)")
        state["history"].append({"at": _now(), "action": "promote", "from": current.path.name, "to": candidate.path.name,
                                 "by": actor, "forced": bool(problems), "why": "; ".join(problems) or note or "better or equal"})
        state["current"] = candidate.path.name
        self._save(state)
        return candidate

    def rollback(self, actor: str = "analyst") -> Entry:
        """Go back to the model that was current before the latest promotion still in force."""
        state = self._state()
        live = _in_force(state["history"])
        if not live:
            raise RegistryError("rollback: no promotion to undo; the shipped model is current")
        back = live[-1]["from"]
        load_card(self.root / back)  # refuse to point at a card that is gone
        state["history"].append({"at": _now(), "action": "rollback", "from": state["current"], "to": back, "by": actor})
        state["current"] = back
        self._save(state)
        return self.current()


def _in_force(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The promotions not yet rolled back, oldest first (each rollback undoes the latest one)."""
    stack: list[dict[str, Any]] = []
    for h in history:
        if h["action"] == "promote":
            stack.append(h)
        elif h["action"] == "rollback" and stack:
            stack.pop()
    return stack


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
