"""API tokens (the city admin, each department, the ingest side) and webhook signing secrets:
made once, kept in a JSON file (mode 600)."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DepartmentCredentials:
    """`token` authenticates the department to the API; `webhook_secret` (whsec_…) signs what we send it."""

    token: str
    webhook_secret: str


def _ingest_token() -> str:
    return "ing_" + secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Credentials:
    """`ingest_token` is what the photo pipeline (drones' ground side) posts sightings with: a
    department token reads alerts but cannot inject them."""

    admin_token: str
    departments: dict[str, DepartmentCredentials]
    ingest_token: str = field(default_factory=_ingest_token)

    @classmethod
    def generate(cls, department_ids: list[str] | tuple[str, ...]) -> "Credentials":
        return cls(
            admin_token="adm_" + secrets.token_urlsafe(24),
            departments={d: _new_department() for d in department_ids},
        )

    def with_missing(self, department_ids: list[str] | tuple[str, ...]) -> "Credentials":
        """The same credentials plus fresh ones for departments added to the config since."""
        extra = {d: _new_department() for d in department_ids if d not in self.departments}
        return Credentials(self.admin_token, {**self.departments, **extra}, self.ingest_token)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"admin_token": self.admin_token, "ingest_token": self.ingest_token,
                "departments": {k: asdict(v) for k, v in self.departments.items()}}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)

    @classmethod
    def load(cls, path: Path) -> "Credentials":
        data = json.loads(path.read_text(encoding="utf-8"))
        departments = {k: DepartmentCredentials(**v) for k, v in data["departments"].items()}
        # a file from before ingest tokens gets a new one, which load_or_create saves
        return cls(data["admin_token"], departments, data.get("ingest_token") or _ingest_token())

    @classmethod
    def load_or_create(cls, path: Path, department_ids: list[str] | tuple[str, ...]) -> "Credentials":
        creds = cls.load(path).with_missing(department_ids) if path.is_file() else cls.generate(department_ids)
        creds.save(path)
        return creds


def _new_department() -> DepartmentCredentials:
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    return DepartmentCredentials(token="dep_" + secrets.token_urlsafe(24), webhook_secret="whsec_" + secret)
