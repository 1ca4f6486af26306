"""Tasks persisted in SQLite (WAL): every change is written before it is acted on, so a restart
of the service picks up every task not yet finished."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flight.ops.tasks import Task


class TaskStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, seq INTEGER, body TEXT NOT NULL)")

    def save(self, task: Task) -> None:
        self._db.execute("INSERT INTO tasks (id, seq, body) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks), ?)"
                         " ON CONFLICT(id) DO UPDATE SET body = excluded.body", (task.id, task.model_dump_json()))

    def load(self) -> list[Task]:
        rows = self._db.execute("SELECT body FROM tasks ORDER BY seq").fetchall()
        return [Task.model_validate_json(body) for (body,) in rows]

    def next_number(self) -> int:
        (n,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks").fetchone()
        return n

    def close(self) -> None:
        self._db.close()
