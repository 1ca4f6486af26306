"""Who may act for a department: per-person accounts with their own tokens (digests only in the
store), so the audit trail names a person, plus the department's shared login from the
credentials file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dispatch.credentials import Credentials, digest, new_token
from dispatch.departments import Department
from dispatch.models import AccountRow
from dispatch.schemas import is_storable
from dispatch.store import Writers, hold_startup_lock
from dispatch.views import iso

SHARED_LOGIN = "department"  # the credentials file's department token: a login shared by the department


@dataclass(frozen=True)
class Caller:
    """A department token's owner: the department, and the account (person) it was given to."""

    department: Department
    login: str
    name: str

    @property
    def actor(self) -> str:
        """How the audit trail names them (the alert already names the department); fits its 100 characters."""
        return f"{self.login} ({self.name})"


class LoginTaken(Exception):
    pass


class Accounts:
    def __init__(self, readers: sessionmaker[Session], writers: Writers, departments: dict[str, Department],
                 clock: Callable[[], datetime]):
        self.readers, self.writers, self.departments, self.clock = readers, writers, departments, clock

    def seed(self, credentials: Credentials) -> None:
        """Each department's shared login takes the credentials file's token (a new file → new token)."""
        now = self.clock()
        with self.writers.begin() as s:
            hold_startup_lock(s)
            for dept_id in self.departments:
                want = credentials.departments[dept_id].token_sha256
                row = s.scalar(select(AccountRow).where(AccountRow.department_id == dept_id, AccountRow.login == SHARED_LOGIN))
                if row is None:
                    s.add(AccountRow(department_id=dept_id, login=SHARED_LOGIN, name="部门共用 shared login",
                                     token_sha256=want, created_at=now))
                elif row.token_sha256 != want:
                    row.token_sha256, row.revoked_at = want, None

    def caller(self, token: str) -> Caller | None:
        if not is_storable(token):
            return None
        with self.readers() as s:
            row = s.scalar(select(AccountRow).where(AccountRow.token_sha256 == digest(token), AccountRow.revoked_at.is_(None)))
        if row is None or row.department_id not in self.departments:
            return None
        return Caller(self.departments[row.department_id], row.login, row.name)

    def create(self, dept_id: str, login: str, name: str) -> tuple[dict, str]:
        """A new account and its token (returned once: only the digest is kept)."""
        token = new_token("dep")
        row = AccountRow(department_id=dept_id, login=login, name=name, token_sha256=digest(token), created_at=self.clock())
        try:
            with self.writers.begin() as s:
                s.add(row)
        except IntegrityError:
            raise LoginTaken(f"login: {dept_id!r} already has an account {login!r}") from None
        return _json(row), token

    def list(self, dept_id: str) -> list[dict]:
        with self.readers() as s:
            return [_json(r) for r in s.scalars(select(AccountRow).where(AccountRow.department_id == dept_id)
                                                .order_by(AccountRow.id))]

    def revoke(self, dept_id: str, login: str) -> dict | None:
        """The account's token stops working at once (on every replica: each request asks the store)."""
        if not is_storable(login):
            return None
        with self.writers.begin() as s:
            row = s.scalar(select(AccountRow).where(AccountRow.department_id == dept_id, AccountRow.login == login))
            if row is None:
                return None
            row.revoked_at = row.revoked_at or self.clock()
        return _json(row)


def _json(row: AccountRow) -> dict:
    return {"department_id": row.department_id, "login": row.login, "name": row.name,
            "created_at": iso(row.created_at), "revoked_at": iso(row.revoked_at)}
