"""Model cards: the YAML beside each ONNX file that says what the model sees and how well.

Loading checks the card against the taxonomy the caller runs with, so a model trained for a
different list of violation types can never report under the wrong code.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class CardError(ValueError):
    """A model card that is missing, malformed, or disagrees with the taxonomy."""


class ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    file: str = Field(description="ONNX file name, next to the card")
    architecture: str
    classes: list[str] = Field(min_length=1, description="class index → taxonomy code")
    input_size: int = Field(gt=0, description="square tile side the model was trained on, px")
    train_gsd_m: float = Field(gt=0, description="ground sample distance of training tiles, m/px")
    conf_thresholds: dict[str, float]
    metrics: dict[str, Any] = Field(default_factory=dict)
    data_hash: str
    data: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    calibration: dict[str, Any] = Field(default_factory=dict, description="how conf_thresholds were chosen")
    real_validation: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per class: figures on real labelled photos (scripts/eval_real.py --write-card)")
    parent: str | None = Field(None, description="version of the model this one was fine-tuned from")
    evaluations: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="`patrol eval` results keyed by split and its content hash "
                                          "(heldout:<sha>, real:<sha>), so models are compared on the same photos")

    def real_validated(self, code: str) -> bool:
        """Whether `code` met the bar on real photos; sightings of other classes go out `unverified`."""
        return bool(self.real_validation.get(code, {}).get("validated", False))

    @model_validator(mode="after")
    def _thresholds_cover_classes(self) -> "ModelCard":
        missing = [c for c in self.classes if c not in self.conf_thresholds]
        extra = [c for c in self.conf_thresholds if c not in self.classes]
        if missing or extra:
            raise ValueError(f"conf_thresholds: missing {missing}, unknown {extra}")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes: duplicate codes in {self.classes}")
        return self


def write_card(card: ModelCard, path: Path) -> None:
    Path(path).write_text(yaml.safe_dump(card.model_dump(), sort_keys=False, allow_unicode=True), encoding="utf-8")


def load_card(path: Path, taxonomy_codes: Iterable[str] | None = None) -> ModelCard:
    """Read a card; with `taxonomy_codes`, refuse one whose classes are not all in the taxonomy.

    A taxonomy code that the model lacks is allowed (the model simply never reports it), but a
    model class that the taxonomy does not know is refused: its sightings would be unroutable.
    """
    path = Path(path)
    if not path.is_file():
        raise CardError(f"model card {path} not found; train one with scripts/train_detector.py")
    try:
        card = ModelCard.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (ValidationError, yaml.YAMLError) as exc:
        raise CardError(f"model card {path} is invalid: {exc}") from exc
    if taxonomy_codes is not None:
        known = set(taxonomy_codes)
        unknown = [c for c in card.classes if c not in known]
        if unknown:
            raise CardError(
                f"model card {path}: classes {unknown} are not taxonomy codes (taxonomy has {sorted(known)}); "
                "retrain the model or fix configs/taxonomy.yaml"
            )
    return card
