"""API tokens (the city admin, each department, the ingest side) and webhook signing secrets:
made once, kept in a JSON file (mode 600).

Tokens are kept only as SHA-256 digests: the plain token is shown once, when it is made. A
token is 24 random bytes, so a fast hash is enough (nothing to guess from the digest). Webhook
secrets stay as they are: signing with HMAC needs the secret itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = 2  # 1 (no "format" key): plain tokens; 2: digests


def digest(token: str) -> str:
    """What is kept of a token (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(24)}"


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class DepartmentCredentials:
    """`token_sha256` authenticates the department's shared login; `webhook_secret` (whsec_…) signs
    what we send it (the first secret: rotations are kept in the store)."""

    token_sha256: str
    webhook_secret: str


@dataclass(frozen=True)
class Tokens:
    """Plain tokens made just now, to show once: only their digests are saved."""

    admin: str | None = None
    ingest: str | None = None
    departments: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.admin or self.ingest or self.departments)


@dataclass(frozen=True)
class Credentials:
    """`ingest_sha256` is the token the photo pipeline (drones' ground side) posts sightings with:
    a department token reads alerts but cannot inject them."""

    admin_sha256: str
    ingest_sha256: str
    departments: dict[str, DepartmentCredentials]

    @classmethod
    def generate(cls, department_ids: list[str] | tuple[str, ...]) -> "NewCredentials":
        admin, ingest = new_token("adm"), new_token("ing")
        tokens = {d: new_token("dep") for d in department_ids}
        return NewCredentials(digest(admin), digest(ingest),
                              {d: DepartmentCredentials(digest(t), new_webhook_secret()) for d, t in tokens.items()},
                              Tokens(admin, ingest, tokens))

    def with_missing(self, department_ids: list[str] | tuple[str, ...]) -> tuple["Credentials", Tokens]:
        """The same credentials plus fresh ones for departments added to the config since."""
        tokens = {d: new_token("dep") for d in department_ids if d not in self.departments}
        extra = {d: DepartmentCredentials(digest(t), new_webhook_secret()) for d, t in tokens.items()}
        return Credentials(self.admin_sha256, self.ingest_sha256, {**self.departments, **extra}), Tokens(departments=tokens)

    def as_json(self) -> dict:
        return {"format": FORMAT, "admin_token_sha256": self.admin_sha256, "ingest_token_sha256": self.ingest_sha256,
                "departments": {k: {"token_sha256": v.token_sha256, "webhook_secret": v.webhook_secret}
                                for k, v in self.departments.items()}}

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
    def load(cls, path: Path) -> tuple["Credentials", Tokens]:
        """Read the file, either format; anything wrong with it is a CredentialsError naming the file
        and what to do. A file from before ingest tokens gets one (returned, to show once)."""
        try:
            return _parse(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            what = "is empty" if path.is_file() and path.stat().st_size == 0 else f"cannot be read ({type(exc).__name__}: {exc})"
            raise CredentialsError(f"credentials: {path} {what}; restore it from a backup, or move it away "
                                   "to have new tokens and webhook secrets made (departments must then be given them)") from None

    @classmethod
    def load_or_create(cls, path: Path, department_ids: list[str] | tuple[str, ...]) -> tuple["Credentials", Tokens]:
        """Load (adding what new departments need, turning a format-1 file's plain tokens into
        digests) or make the file. It is written only when something changed, and made private again
        if someone loosened its mode. Returns the tokens made now: they are not kept anywhere."""
        if not path.is_file():
            creds = cls.generate(department_ids)
            creds.save(path)
            return creds.plain(), creds.tokens
        loaded, made = cls.load(path)
        creds, added = loaded.with_missing(department_ids)
        if creds.as_json() != json.loads(path.read_text(encoding="utf-8")):
            creds.save(path)
        elif path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return creds, Tokens(made.admin, made.ingest, {**made.departments, **added.departments})


@dataclass(frozen=True)
class NewCredentials(Credentials):
    """Credentials just made, with their plain tokens (for the caller to hand out; never saved)."""

    tokens: Tokens = field(default_factory=Tokens)

    @property
    def admin_token(self) -> str:
        return self.tokens.admin

    @property
    def ingest_token(self) -> str:
        return self.tokens.ingest

    def token(self, department_id: str) -> str:
        return self.tokens.departments[department_id]

    def plain(self) -> Credentials:
        return Credentials(self.admin_sha256, self.ingest_sha256, self.departments)


class CredentialsError(ValueError):
    """The credentials file is missing parts, empty or unreadable: said in one line, no traceback."""


def _parse(data: dict) -> tuple[Credentials, Tokens]:
    if data.get("format") == FORMAT:
        departments = {k: DepartmentCredentials(v["token_sha256"], v["webhook_secret"]) for k, v in data["departments"].items()}
        return Credentials(data["admin_token_sha256"], data["ingest_token_sha256"], departments), Tokens()
    # format 1: plain tokens; the same tokens go on working, only their digests are kept from now on
    departments = {k: DepartmentCredentials(digest(v["token"]), v["webhook_secret"]) for k, v in data["departments"].items()}
    ingest = None if data.get("ingest_token") else new_token("ing")
    return (Credentials(digest(data["admin_token"]), digest(data.get("ingest_token") or ingest), departments),
            Tokens(ingest=ingest))
