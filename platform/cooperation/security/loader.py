"""Flask-Login user loader: role, State and status come from the database on every request,
so a suspension or role change takes effect at once (ASVS 8.3.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import g
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User
from cooperation.db import read_only
from cooperation.extensions import db

T = TypeVar("T")
_USER = select(User).where(User.id == bindparam("user_id"))  # built once: every request runs it


def look_up_apart(lookup: Callable[[Session], T]) -> T:
    """Run a sign-in lookup in a short read-only transaction of its own and hand the objects
    it returns over to the request's session without another query.

    Why: on SQLite a writing request takes the single write lock at its first statement
    (cooperation.db._sqlite_begin); if that statement were the user lookup, the lock would be
    held through the CSRF check, the parsing and the validation of the whole request. The
    request's own transaction now begins at the view's first query."""
    with read_only(), Session(db.engine, expire_on_commit=False) as apart:
        found = lookup(apart)
        apart.expunge_all()
    return found


def attach(user: User) -> User:
    """The looked-up user as a member of the request's session (no SELECT: load=False)."""
    return db.session.merge(user, load=False)


def load_user(user_id: str) -> User | None:
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        return None
    user = look_up_apart(lambda s: s.scalar(_USER, {"user_id": uid}))
    if user is None or not user.is_active:
        return None
    g.log_user_id = user.id  # for the request log line, without touching the row again
    return attach(user)
