"""Sign-in: password then second factor, throttling, no enumeration, revocable sessions."""

from __future__ import annotations

from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.extensions import db
from cooperation.security.models import WebSession
from tests.conftest import csrf_from, fresh_totp_code


def test_login_requires_password_then_totp(client, auth, users):
    user = users["member_nl"]
    response = auth.password_step(user.email, "correct horse battery staple")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/verify")
    # Not signed in yet: the dashboard is out of reach until the second factor.
    assert client.get("/dashboard").status_code == 302
    auth.login(user)
    assert client.get("/dashboard").status_code == 200


def test_wrong_password_and_unknown_account_look_the_same(client, auth, users):
    wrong = auth.password_step(users["member_nl"].email, "not the right password at all")
    unknown = auth.password_step("nobody@nowhere.test", "not the right password at all")
    assert wrong.status_code == unknown.status_code == 400
    msg = "The e-mail address or password is not correct."
    assert msg in wrong.get_data(as_text=True) and msg in unknown.get_data(as_text=True)
    failures = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "auth.login", AuditEvent.outcome == "failure"))
    assert failures == 2


def test_account_is_throttled_after_repeated_failures(client, auth, users):
    user = users["member_nl"]
    for _ in range(5):
        assert auth.password_step(user.email, "wrong password number x").status_code == 400
    response = auth.password_step(user.email, "correct horse battery staple")
    assert response.status_code == 400
    assert "Too many failed attempts" in response.get_data(as_text=True)


def test_totp_code_cannot_be_used_twice(client, auth, users, app):
    user = users["member_nl"]
    auth.password_step(user.email, "correct horse battery staple")
    page = client.get("/login/verify").get_data(as_text=True)
    code = fresh_totp_code(user)
    ok = client.post("/login/verify", data={"method": "totp", "totp-code": code, "totp-csrf_token": csrf_from(page)})
    assert ok.status_code == 302
    auth.logout()
    from tests.conftest import AuthActions

    other = app.test_client()

    AuthActions(other).password_step(user.email, "correct horse battery staple")
    page = other.get("/login/verify").get_data(as_text=True)
    replay = other.post("/login/verify", data={"method": "totp", "totp-code": code,
                                               "totp-csrf_token": csrf_from(page)})
    assert replay.status_code == 400
    assert "already used" in replay.get_data(as_text=True)


def test_logout_kills_the_server_side_session(client, auth, users):
    auth.login(users["member_nl"])
    cookie = client.get_cookie("session")
    assert cookie is not None
    auth.logout()
    assert db.session.scalar(select(func.count()).select_from(WebSession).where(
        WebSession.user_id == users["member_nl"].id)) == 0
    # Replaying the old cookie does not bring the session back (ASVS 7.4.1).
    client.set_cookie("session", cookie.value)
    assert client.get("/dashboard").status_code == 302


def test_session_token_changes_at_login(client, auth, users):
    client.get("/login")
    before = client.get_cookie("session")
    auth.login(users["member_nl"])
    after = client.get_cookie("session")
    assert before is None or before.value != after.value


def test_csrf_is_enforced(client, users):
    response = client.post("/login", data={"email": users["member_nl"].email,
                                           "password": "correct horse battery staple"})
    assert response.status_code == 400
