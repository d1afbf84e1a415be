"""Flask-Login user loader: role, State and status come from the database on every request,
so a suspension or role change takes effect at once (ASVS 8.3.2)."""

from __future__ import annotations

from flask import g

from cooperation.accounts.models import User
from cooperation.extensions import db


def load_user(user_id: str) -> User | None:
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    if user is None or not user.is_active:
        return None
    g.log_user_id = user.id  # for the request log line, without touching the row again
    return user
