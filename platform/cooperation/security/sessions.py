"""Server-side, revocable sessions (ASVS 7.4.1: a session ends for good at logout).

Flask's default signed-cookie session survives logout when replayed; here the cookie carries
only a random 256-bit token, the database keeps SHA-256(token) with the data, and deleting
the row ends the session everywhere at once (logout, "sign out everywhere", suspension).
Idle timeout and absolute lifetime are enforced on every request.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import bindparam, delete, insert, select, update
from werkzeug.datastructures import CallbackDict

from cooperation.accounts.models import User
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.lookups import look_up_apart
from cooperation.security import loader
from cooperation.security.models import WebSession

# Avoid a write on every request: last-seen is refreshed at most this often.
_TOUCH_INTERVAL = timedelta(seconds=60)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class ServerSession(CallbackDict, SessionMixin):  # type: ignore[type-arg]
    def __init__(self, initial: dict[str, Any] | None = None, token: str | None = None,
                 stored: bool = False, created_at: datetime | None = None,
                 last_seen_at: datetime | None = None) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.token = token
        self.stored = stored
        self.created_at = created_at
        self.last_seen_at = last_seen_at
        self.modified = False
        self.rotate_requested = False
        self.destroy_requested = False

    @property
    def id_hash(self) -> str | None:
        return hash_token(self.token) if self.token else None

    def rotate(self) -> None:
        """New token at every authentication step (ASVS 7.2.4); the old row is deleted."""
        self.rotate_requested = True
        self.modified = True

    def destroy(self) -> None:
        self.clear()
        self.destroy_requested = True


# Built once (every request runs it): building a statement costs more than running it. The
# session's user comes in the same statement, handed to the user loader: one round trip, not two.
_LOOKUP = (select(WebSession.data, WebSession.created_at, WebSession.last_seen_at, WebSession.expires_at, User)
           .outerjoin(User, User.id == WebSession.user_id)
           .where(WebSession.id_hash == bindparam("id_hash")))


class DatabaseSessionInterface(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> ServerSession:
        token = request.cookies.get(self.get_cookie_name(app))
        if not token or len(token) > 100:
            return ServerSession()
        now = utcnow()
        # A short read-only transaction of its own: it never shares one (or a stale snapshot)
        # with the request's work.
        row = look_up_apart(lambda apart: apart.execute(_LOOKUP, {"id_hash": hash_token(token)}).one_or_none())
        if row is None:
            return ServerSession()
        idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
        if now >= row.expires_at or now - row.last_seen_at >= idle:
            self._delete(hash_token(token))
            return ServerSession()
        if row.User is not None:
            loader.prefetched(row.User)
        return ServerSession(dict(row.data or {}), token=token, stored=True,
                             created_at=row.created_at, last_seen_at=row.last_seen_at)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        # The view has committed what it meant to; release its connection (and, on SQLite,
        # any write lock it holds) before the session row is written on a connection of its own.
        db.session.close()
        name = self.get_cookie_name(app)
        cookie = {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "httponly": True,
            "samesite": self.get_cookie_samesite(app),
        }
        if session.destroy_requested or (session.stored and not session):
            if session.token:
                self._delete(hash_token(session.token))
            response.delete_cookie(name, **cookie)
            return
        if not session:
            return  # nothing worth storing; no row for an anonymous first visit
        now = utcnow()
        if session.rotate_requested and session.token:
            self._delete(hash_token(session.token))
            session.token, session.stored = None, False
        if not session.stored:
            session.token = secrets.token_urlsafe(32)
            lifetime = timedelta(hours=app.config["SESSION_LIFETIME_HOURS"])
            user_id = _user_id(session)
            with db.engine.begin() as conn:
                conn.execute(insert(WebSession).values(
                    id_hash=hash_token(session.token), user_id=user_id, data=_stored_data(session),
                    created_at=now, last_seen_at=now, expires_at=now + lifetime,
                    ip_address=(request.remote_addr or "")[:64],
                    user_agent=(request.user_agent.string or "")[:300],
                ))
        elif session.modified or now - (session.last_seen_at or now) >= _TOUCH_INTERVAL:
            # UPDATE only: a session deleted meanwhile (logout elsewhere, suspension) must not
            # be resurrected by this in-flight request.
            with db.engine.begin() as conn:
                result = conn.execute(
                    update(WebSession).where(WebSession.id_hash == hash_token(session.token or ""))
                    .values(data=_stored_data(session), last_seen_at=now, user_id=_user_id(session))
                )
            if result.rowcount == 0:
                response.delete_cookie(name, **cookie)
                return
        else:
            return
        response.set_cookie(name, session.token or "", **cookie)

    @staticmethod
    def _delete(id_hash: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(delete(WebSession).where(WebSession.id_hash == id_hash))


def _stored_data(session: ServerSession) -> dict[str, Any]:
    """Plain JSON for the data column: a flashed lazy translation (e.g. a form's error message)
    becomes its text instead of failing the whole response at save time."""
    return json.loads(json.dumps(dict(session), default=str))


def _user_id(session: ServerSession) -> int | None:
    raw = session.get("_user_id")
    return int(raw) if raw is not None else None


def end_sessions_of(session_db: Any, user_id: int, except_id_hash: str | None = None) -> int:
    """Delete every session of a user (suspension, sign out everywhere). Caller commits."""
    stmt = delete(WebSession).where(WebSession.user_id == user_id)
    if except_id_hash:
        stmt = stmt.where(WebSession.id_hash != except_id_hash)
    return session_db.execute(stmt).rowcount or 0


def purge_expired(session_db: Any, idle: timedelta, now: datetime | None = None) -> int:
    """Delete sessions past their absolute lifetime or idle for longer than `idle`."""
    from sqlalchemy import or_

    now = now or utcnow()
    return session_db.execute(delete(WebSession).where(
        or_(WebSession.expires_at <= now, WebSession.last_seen_at <= now - idle))).rowcount or 0
