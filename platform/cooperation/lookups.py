"""Lookups before the request's own transaction, on one connection per request.

Every request looks up its session row and its user, and some views check the caller's rights
before they write. Each lookup runs in a short transaction of its own, apart from the request's
main one: on SQLite a writing request takes the single write lock at its first statement
(cooperation.db._sqlite_begin), and a lookup must not be that statement, or the lock would be
held through the CSRF check, the parsing and the validation of the whole request.

The lookups of a request share one pooled connection, and on PostgreSQL they run in autocommit,
which saves the BEGIN and ROLLBACK round trips. Two reads of one lookup may then see two
snapshots; the writes that follow re-check in the same statement whatever they rely on (see
threads.services.store_post).

On PostgreSQL a write that is a single statement (atomic by itself) can run on that connection
too (`write_apart`): no second connection, no BEGIN and no COMMIT round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import g, has_request_context, request
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cooperation.db import read_only
from cooperation.extensions import db

T = TypeVar("T")
_KEY = "_lookup_connection"


def _connection() -> Connection:
    conn = g.get(_KEY)
    if conn is None:
        conn = db.engine.connect()
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        setattr(g, _KEY, conn)
    return conn  # type: ignore[no-any-return]


@contextmanager
def lookup() -> Iterator[Connection]:
    """The request's lookup connection, in a read-only transaction ended on the way out."""
    conn = _connection()
    with read_only():
        try:
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()


def _apart(find: Callable[[Session], T]) -> T:
    with lookup() as conn, Session(bind=conn, expire_on_commit=False) as apart:
        found = find(apart)
        apart.expunge_all()
    return found


def look_up_apart(find: Callable[[Session], T]) -> T:
    """Run `find` with an ORM session on the lookup connection; the objects it returns are
    detached, their loaded attributes kept (expire_on_commit off, nothing expired).

    A read-only request on SQLite has no write lock to keep free and no round trips to save:
    there `find` simply runs in the request's own session.

    `find` only reads, so it is run again, once, on a fresh connection if the database had cut
    the first one (a restart the idle ping could not see: cooperation.liveness)."""
    if db.engine.dialect.name == "sqlite" and not _writing():
        return find(db.session)
    try:
        return _apart(find)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        release()  # the pool has retired every connection opened before the cut
        return _apart(find)


def write_apart(write: Callable[[Session], T]) -> T:
    """A short write committed on its own, apart from the request's session.

    On PostgreSQL `write` runs on the lookup connection in autocommit, so it must make a single
    statement (one statement is atomic; two would commit one by one). On SQLite it runs in the
    request's session, which takes the write lock, and is committed there."""
    if db.engine.dialect.name != "postgresql":
        done = write(db.session)
        db.session.commit()
        return done
    with Session(bind=_connection(), expire_on_commit=False) as apart:
        done = write(apart)
        apart.expunge_all()
    return done


def _writing() -> bool:
    return has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")


def release(_: BaseException | None = None) -> None:
    """teardown_request: give the connection back to the pool."""
    conn = g.pop(_KEY, None)
    if conn is not None:
        conn.close()
