"""Authentication of API requests by `Authorization: Bearer <token>` (RFC 6750).

Only paths under /api/ accept a bearer token: the HTML pages stay cookie-only, so a token can
never drive a form (change a password, end sessions). The token's scopes are kept on `flask.g`
for the request; permissions.has_permission then requires a permission to be both granted by
the user's role and covered by one of those scopes.

CSRF: an API request without a session cookie cannot be forged by a browser (a browser
attaches cookies, never our Authorization header), so it is exempt: with a bearer token it is
authenticated by the token, without one the view answers 401. So is an API request whose cookie
signs no one in (it acts as no one; the view answers 401, not a misleading "form expired"). A
request whose session cookie signs a user in is checked as always, even with a bearer header.
"""

from __future__ import annotations

from flask import Flask, Request, current_app, flash, g, jsonify, redirect, request
from flask_login import current_user, login_url

from cooperation.extensions import csrf, db
from cooperation.oauth import services
from cooperation.lookups import look_up_apart
from cooperation.security.loader import attach

API_PREFIX = "/api/"
ACCESS_KEY = "oauth_access"


def is_api_request(req: Request) -> bool:
    return req.path.startswith(API_PREFIX)


def bearer_token(req: Request) -> str | None:
    scheme, _, value = (req.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def has_session_cookie(req: Request) -> bool:
    return current_app.config["SESSION_COOKIE_NAME"] in req.cookies


def current_access() -> services.BearerAccess | None:
    """The bearer token behind the current request, if it was authenticated by one."""
    return g.get(ACCESS_KEY)


def load_user_from_request(req: Request):  # type: ignore[no-untyped-def]
    """Flask-Login request loader, used only when the session holds no user."""
    if not is_api_request(req) or has_session_cookie(req):
        return None
    value = bearer_token(req)
    if value is None:
        return None
    found = look_up_apart(lambda s: services.authenticate_access_token(s, value))
    if found is None:
        g.oauth_invalid_token = True
        return None
    user, access = found
    g.setdefault(ACCESS_KEY, access)
    g.log_user_id = user.id
    return attach(user)


def touch_last_use(_: BaseException | None = None) -> None:
    """teardown_request: record the grant's last use (shown on the sessions page), at most once
    a minute. Runs after the request's database session has ended, on a connection of its own:
    on SQLite a second writer inside the request would wait for the request's own lock."""
    access = current_access()
    if access is None:
        return
    from datetime import timedelta

    from sqlalchemy import or_, update
    from sqlalchemy.exc import SQLAlchemyError

    from cooperation.db import utcnow
    from cooperation.oauth.models import OAuthGrant

    now = utcnow()
    try:
        with db.engine.begin() as conn:
            conn.execute(update(OAuthGrant).where(
                OAuthGrant.id == access.grant_id,
                or_(OAuthGrant.last_used_at.is_(None), OAuthGrant.last_used_at < now - timedelta(seconds=60)))
                .values(last_used_at=now))
    except SQLAlchemyError:  # cosmetic; never fail a request over it
        current_app.logger.warning("could not record the last use of API grant %s", access.grant_id)


def csrf_guard() -> None:
    """before_request, in place of Flask-WTF's own check (WTF_CSRF_CHECK_DEFAULT is off)."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if is_api_request(request) and not has_session_cookie(request):
        return  # bearer-only or no credential at all: nothing a browser attaches by itself
    if is_api_request(request) and not current_user.is_authenticated:
        return  # a cookie that signs no one in cannot be forged into anything: the view answers 401
    csrf.protect(apply_exemptions=True)


def unauthorized():  # type: ignore[no-untyped-def]
    """API callers get 401 with a WWW-Authenticate challenge; pages redirect to sign in."""
    if is_api_request(request):
        challenge = 'Bearer realm="cooperation"'
        if g.get("oauth_invalid_token"):
            challenge += ', error="invalid_token"'
        response = jsonify(error="unauthorized", status=401)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = challenge
        return response
    manager = current_app.login_manager  # type: ignore[attr-defined]
    # Flask-Login's default behaviour, which a custom handler replaces.
    if manager.login_message:
        flash(manager.login_message, category=manager.login_message_category)
    return redirect(login_url(manager.login_view, next_url=request.url))


def init_app(app: Flask) -> None:
    from cooperation.extensions import login_manager

    login_manager.request_loader(load_user_from_request)
    login_manager.unauthorized_handler(unauthorized)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(csrf_guard)
    # Registered before the app's own teardown, so it runs after it (teardowns run in reverse).
    app.teardown_request(touch_last_use)
