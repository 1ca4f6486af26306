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

    def as_json(self) -> dict:
        return {"admin_token": self.admin_token, "ingest_token": self.ingest_token,
                "departments": {k: asdict(v) for k, v in self.departments.items()}}

    def save(self, path: Path) -> None:
        """Atomically (temp file in the same folder, fsync, rename) and private (mode 600 from birth):
        a crash mid-write leaves the old file, and no moment exists where others can read it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.as_json(), f, ensure_ascii=False, indent=2)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> "Credentials":
        """Read the file; anything wrong with it is a CredentialsError naming the file and what to do."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            departments = {k: DepartmentCredentials(**v) for k, v in data["departments"].items()}
            admin = data["admin_token"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            what = "is empty" if path.is_file() and path.stat().st_size == 0 else f"cannot be read ({type(exc).__name__}: {exc})"
            raise CredentialsError(f"credentials: {path} {what}; restore it from a backup, or move it away "
                                   "to have new tokens and webhook secrets made (departments must then be given them)") from None
        # a file from before ingest tokens gets a new one, which load_or_create saves
        return cls(admin, departments, data.get("ingest_token") or _ingest_token())

    @classmethod
    def load_or_create(cls, path: Path, department_ids: list[str] | tuple[str, ...]) -> "Credentials":
        """Load (adding what new departments need) or make the file. It is written only when
        something changed, and made private again if someone loosened its mode."""
        if not path.is_file():
            creds = cls.generate(department_ids)
            creds.save(path)
            return creds
        loaded = cls.load(path)
        creds = loaded.with_missing(department_ids)
        if creds.as_json() != json.loads(path.read_text(encoding="utf-8")):
            creds.save(path)
        elif path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return creds


class CredentialsError(ValueError):
    """The credentials file is missing parts, empty or unreadable: said in one line, no traceback."""


def _new_department() -> DepartmentCredentials:
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    return DepartmentCredentials(token="dep_" + secrets.token_urlsafe(24), webhook_secret="whsec_" + secret)
