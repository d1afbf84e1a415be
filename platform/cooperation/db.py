"""Declarative base with a naming convention (stable constraint names for Alembic)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def assign_changed(row: object, values: dict[str, object]) -> list[str]:
    """Set the attributes whose value differs; the names of those changed (for the audit)."""
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    return changed


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned as timezone-aware UTC on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: object, connection_record: object) -> None:
    """SQLite: enforce foreign keys, WAL, crash-safe commits, and real transactions.

    pysqlite's legacy mode issues BEGIN only before a write, so reads in a "transaction" would
    see other commits; we take transaction control ourselves (see _sqlite_begin).
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit is in the WAL (the OS's hands) when it returns, so it survives
    # the application being killed; only an OS crash or power cut can lose the newest commits,
    # never corrupt the file. FULL added an fsync to every commit while the single writer lock
    # is held. SQLite is the embedded trial database: production refuses it (config.problems),
    # and PostgreSQL keeps synchronous_commit on.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


_read_only: ContextVar[bool] = ContextVar("sqlite_read_only", default=False)


@contextmanager
def read_only() -> Iterator[None]:
    """Connections begun inside only read: a plain BEGIN, even in a writing request, so a
    lookup (the session row) does not queue behind, or hold up, the writers."""
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: object) -> None:
    """On SQLite, a request that may write takes the write lock up front (BEGIN IMMEDIATE):
    a deferred transaction that read first and then writes fails outright ("database is
    locked") when another writer committed in between, whereas waiting for the lock is safe."""
    if getattr(conn, "dialect", None) is None or conn.dialect.name != "sqlite":  # type: ignore[attr-defined]
        return
    from flask import has_request_context, request

    writing = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS") and not _read_only.get()
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")  # type: ignore[attr-defined]


BINARY_RESULTS = "binary_results"


@event.listens_for(Engine, "before_cursor_execute")
def _binary_results(conn: object, cursor: object, statement: str, parameters: object, context: object,
                    executemany: bool) -> None:
    """PostgreSQL (psycopg): rows in the binary format for a statement that asks for it with
    .execution_options(binary_results=True): a bytea column then crosses as its bytes, not as
    twice as many hex digits parsed back on arrival (the latest messages: a third of the
    statement's time). The Python values are the same either way."""
    options = getattr(context, "execution_options", None)
    if options and options.get(BINARY_RESULTS) and getattr(conn, "dialect", None) is not None \
            and conn.dialect.driver == "psycopg":  # type: ignore[attr-defined]
        from psycopg.pq import Format

        cursor.format = Format.BINARY  # type: ignore[attr-defined]
