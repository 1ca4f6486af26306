"""Open the database (SQLite in WAL mode by default, PostgreSQL by URL) and bring its schema up to date."""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
STARTUP_LOCK_ID = 6_000_018  # PostgreSQL advisory lock: replicas starting together migrate and seed one after another


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """WAL for concurrent readers; synchronous=FULL so a commit survives power loss (2xx means durable)."""
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event below emit BEGIN itself
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn) -> None:
    """Writers take the write lock up front (BEGIN IMMEDIATE): no read-then-upgrade SQLITE_BUSY later."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writer") else "BEGIN")


def open_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, pool_size=10, max_overflow=20)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Run every Alembic migration not yet applied (idempotent; safe on each start, and on
    PostgreSQL safe when several replicas start at once: the second waits, then finds nothing to do)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        hold_startup_lock(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def hold_startup_lock(conn: Connection | Session) -> None:
    """Until this transaction ends, no other replica migrates or seeds (PostgreSQL; SQLite's
    BEGIN IMMEDIATE already lets one writer in at a time): two replicas starting together must not
    both find a row missing and both insert it."""
    dialect = conn.dialect if isinstance(conn, Connection) else conn.get_bind().dialect
    if dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STARTUP_LOCK_ID})


class Writers:
    """Write transactions. On SQLite they queue on a lock in this process first: SQLite allows one
    writer, and its busy handler waits by sleeping in growing steps, which shows up as latency."""

    def __init__(self, engine: Engine):
        self._factory = sessionmaker(engine.execution_options(writer=True), expire_on_commit=False)
        self._lock = threading.Lock() if engine.dialect.name == "sqlite" else None

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with self._lock or nullcontext(), self._factory.begin() as session:
            yield session


def session_factories(engine: Engine) -> tuple[sessionmaker[Session], Writers]:
    """(readers, writers): plain sessions for reading, and the one way to write."""
    return sessionmaker(engine, expire_on_commit=False), Writers(engine)
