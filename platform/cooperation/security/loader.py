"""Flask-Login user loader: role, State and status come from the database on every request,
so a suspension or role change takes effect at once (ASVS 8.3.2)."""

from __future__ import annotations

from flask import g
from sqlalchemy import bindparam, select

from cooperation.accounts.models import User
from cooperation.extensions import db
from cooperation.lookups import look_up_apart

_USER = select(User).where(User.id == bindparam("user_id"))  # built once: every request runs it
_PREFETCHED = "_prefetched_user"


def attach(user: User) -> User:
    """The looked-up user as a member of the request's session (no SELECT: load=False)."""
    return db.session.merge(user, load=False)


def prefetched(user: User) -> None:
    """The session's user, read with the session row itself (security.sessions): this request's
    copy, as fresh as the session row, so the loader needs no statement of its own."""
    setattr(g, _PREFETCHED, user)


def load_user(user_id: str) -> User | None:
    """Looked up apart from the request's transaction (cooperation.lookups says why)."""
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        return None
    user = g.pop(_PREFETCHED, None)
    if user is None or user.id != uid:
        user = look_up_apart(lambda s: s.scalar(_USER, {"user_id": uid}))
    if user is None or not user.is_active:
        return None
    g.log_user_id = user.id  # for the request log line, without touching the row again
    return attach(user)
