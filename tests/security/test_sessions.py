"""Server-side sessions: idle and absolute timeouts, rotation at each sign-in step, logout and
"sign out everywhere" that stick, suspension, and no resurrection by an in-flight request."""

from __future__ import annotations

from datetime import timedelta

from flask import session
from sqlalchemy import delete, func, select, update

from cooperation import permissions as p
from cooperation.accounts import services as accounts
from cooperation.accounts.models import User, UserStatus
from cooperation.audit.service import Actor
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.security.models import WebSession
from cooperation.security.sessions import hash_token
from tests.conftest import AuthActions, CommittingClient, csrf_from, fresh_totp_code


def _row(client) -> WebSession | None:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie("session")
    if cookie is None:
        return None
    row = db.session.get(WebSession, hash_token(cookie.value))
    return row


def _sessions_of(user) -> int:  # type: ignore[no-untyped-def]
    count = db.session.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == user.id))
    db.session.commit()
    return int(count or 0)


def _login_again(client, user) -> None:  # type: ignore[no-untyped-def]
    # These tests sign one user in several times; code replay is tested elsewhere.
    db.session.execute(update(User).where(User.id == user.id).values(totp_last_step=None))
    db.session.commit()
    AuthActions(client).login(user)


def _other_client(app):  # type: ignore[no-untyped-def]
    app.test_client_class = CommittingClient
    return app.test_client()


def test_idle_timeout_ends_the_session(app, client, auth, users):
    auth.login(users["member_nl"])
    row = _row(client)
    id_hash = row.id_hash
    idle = app.config["SESSION_IDLE_MINUTES"]
    # Just inside the idle limit: still signed in.
    db.session.execute(update(WebSession).where(WebSession.id_hash == id_hash)
                       .values(last_seen_at=utcnow() - timedelta(minutes=idle) + timedelta(seconds=30)))
    assert client.get("/dashboard").status_code == 200
    db.session.execute(update(WebSession).where(WebSession.id_hash == id_hash)
                       .values(last_seen_at=utcnow() - timedelta(minutes=idle, seconds=1)))
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert db.session.get(WebSession, id_hash) is None


def test_absolute_lifetime_ends_an_active_session(app, client, auth, users):
    auth.login(users["member_nl"])
    row = _row(client)
    id_hash = row.id_hash
    assert row.expires_at - row.created_at == timedelta(hours=app.config["SESSION_LIFETIME_HOURS"])
    # Busy all along (recent activity), but started too long ago.
    db.session.execute(update(WebSession).where(WebSession.id_hash == id_hash).values(
        created_at=utcnow() - timedelta(hours=13), expires_at=utcnow() - timedelta(seconds=1),
        last_seen_at=utcnow()))
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert db.session.get(WebSession, id_hash) is None


def test_activity_does_not_extend_the_absolute_lifetime(client, auth, users):
    auth.login(users["member_nl"])
    expires = _row(client).expires_at
    db.session.execute(update(WebSession).where(WebSession.id_hash == _row(client).id_hash)
                       .values(last_seen_at=utcnow() - timedelta(minutes=5)))
    assert client.get("/dashboard").status_code == 200
    db.session.expire_all()
    row = _row(client)
    assert row.expires_at == expires
    assert utcnow() - row.last_seen_at < timedelta(minutes=1)  # idle clock restarted


def test_session_id_is_rotated_at_each_sign_in_step(client, users):
    user = users["member_nl"]
    page = client.get("/login").get_data(as_text=True)
    anonymous = client.get_cookie("session").value
    response = client.post("/login", data={"email": user.email, "password": "correct horse battery staple",
                                           "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    after_password = client.get_cookie("session").value
    assert after_password != anonymous
    assert db.session.get(WebSession, hash_token(anonymous)) is None
    page = client.get("/login/verify").get_data(as_text=True)
    response = client.post("/login/verify", data={"method": "totp", "totp-code": fresh_totp_code(user),
                                                  "totp-csrf_token": csrf_from(page)})
    assert response.status_code == 302
    signed_in = client.get_cookie("session").value
    assert signed_in not in (anonymous, after_password)
    assert db.session.get(WebSession, hash_token(after_password)) is None
    assert db.session.get(WebSession, hash_token(signed_in)).user_id == user.id
    # The pre-login token is worthless now.
    client.set_cookie("session", after_password)
    assert client.get("/dashboard").status_code == 302


def test_cookie_is_httponly_and_samesite_lax(client, auth, users):
    response = auth.login(users["member_nl"])
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie  # a browser-session cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert len(token) >= 43  # 256 bits
    assert db.session.get(WebSession, token) is None  # only the hash is stored


def test_logout_replay_fails(client, auth, users):
    auth.login(users["member_nl"])
    token = client.get_cookie("session").value
    auth.logout()
    assert db.session.get(WebSession, hash_token(token)) is None
    client.set_cookie("session", token)
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert db.session.get(WebSession, hash_token(token)) is None


def test_sign_out_everywhere_ends_every_session(app, client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    other = _other_client(app)
    _login_again(other, user)
    bystander = _other_client(app)
    AuthActions(bystander).login(users["focal_nl"])
    assert _sessions_of(user) == 2
    token = csrf_from(client.get("/account/sessions").get_data(as_text=True))
    response = client.post("/account/sessions/end-all", data={"csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _sessions_of(user) == 0
    assert client.get("/dashboard").status_code == 302
    assert other.get("/dashboard").status_code == 302
    # Someone else's session is untouched.
    assert bystander.get("/dashboard").status_code == 200


def test_ending_one_other_session(app, client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    other = _other_client(app)
    _login_again(other, user)
    other_hash = _row(other).id_hash
    page = client.get("/account/sessions").get_data(as_text=True)
    assert other_hash in page
    response = client.post(f"/account/sessions/{other_hash}/end", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert other.get("/dashboard").status_code == 302
    assert client.get("/dashboard").status_code == 200


def test_suspension_ends_sessions_at_once(client, auth, users):
    member, focal = users["member_nl"], users["focal_nl"]
    auth.login(member)
    assert client.get("/dashboard").status_code == 200
    accounts.set_status(db.session, focal, member, UserStatus.SUSPENDED, Actor.system("test"), reason="test")
    db.session.commit()
    assert _sessions_of(member) == 0
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # And the password no longer opens a session.
    assert auth.password_step(member.email, "correct horse battery staple").status_code == 400
    assert _sessions_of(member) == 0


def test_suspension_stops_a_session_even_if_its_row_survived(client, auth, users):
    # Defence in depth: the user loader checks the status on every request.
    member = users["member_nl"]
    auth.login(member)
    db.session.execute(update(User).where(User.id == member.id).values(status=UserStatus.SUSPENDED))
    db.session.commit()
    assert client.get("/dashboard").status_code == 302


def test_a_session_deleted_during_a_request_is_not_resurrected(make_app, users):
    app = make_app()

    @app.get("/test-only/slow")
    @p.authenticated
    def slow():  # type: ignore[no-untyped-def]
        # Meanwhile, another request (logout elsewhere, suspension) deletes this session...
        with db.engine.begin() as conn:
            conn.execute(delete(WebSession).where(WebSession.id_hash == hash_token(session.token)))
        # ...and this request still changes its session data, which would save it.
        session["late_write"] = True
        return "done"

    app.test_client_class = CommittingClient
    client = app.test_client()
    with app.app_context():
        AuthActions(client).login(users["member_nl"])
        assert client.get("/test-only/slow").status_code == 200
        assert _sessions_of(users["member_nl"]) == 0
        assert client.get_cookie("session") is None
        assert client.get("/dashboard").status_code == 302
