"""Accounts end to end through the real pages: invitation by mail, password choice, TOTP
enrolment, recovery codes, password and profile changes, replacing the authenticator."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from sqlalchemy import func, select, update

from cooperation.accounts import services as accounts
from cooperation.accounts.models import Invitation, User, UserStatus
from cooperation.audit.models import AuditEvent
from cooperation.audit.service import Actor, verify
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.membership.models import Party
from cooperation.permissions import Role
from cooperation.security import passwords
from cooperation.security.models import RecoveryCode, WebSession
from tests.conftest import AuthActions, CommittingClient, csrf_from

NEW_PASSWORD = "amber falcon crosses nine rivers"
LINK_RE = re.compile(r"https?://[^\s]+/invitations/[A-Za-z0-9_\-]+")
SECRET_RE = re.compile(r'id="totp-secret">([A-Z2-7]+)<')


def _invite(app, mailbox, email: str = "new.person@nl.test", party_code: str = "NLD",
            role: Role = Role.STATE_MEMBER) -> str:  # type: ignore[no-untyped-def]
    session = db.session()
    party = session.scalar(select(Party).where(Party.code == party_code))
    with app.test_request_context():
        accounts.create_invitation(session, email=email, full_name="New Person", party=party, role=role,
                                   inviter=None, actor=Actor.system("test"))
    session.commit()
    body = mailbox.body(mailbox.wait_for(email))
    match = LINK_RE.search(body)
    assert match, body
    return "/invitations/" + match.group(0).rsplit("/", 1)[-1]


def _users_count() -> int:
    count = db.session.scalar(select(func.count()).select_from(User))
    db.session.commit()
    return int(count or 0)


def _wrong_code(secret: str) -> str:
    import time

    totp = pyotp.TOTP(secret)
    valid = {totp.at(time.time() + offset) for offset in (-30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "123456", "654321") if c not in valid)


def _accept(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None,
            full_name: str = "New Person", locale: str = "en"):  # type: ignore[no-untyped-def]
    page = client.get(path).get_data(as_text=True)
    return client.post(path, data={"full_name": full_name, "password": password,
                                   "confirm": password if confirm is None else confirm,
                                   "locale": locale, "csrf_token": csrf_from(page)})


def _enrol(client):  # type: ignore[no-untyped-def]
    """Finish TOTP enrolment; returns (secret, recovery codes)."""
    page = client.get("/enrol/authenticator").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    response = client.post("/enrol/authenticator", data={"code": pyotp.TOTP(secret).now(),
                                                         "csrf_token": csrf_from(page)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/recovery-codes")
    page = client.get("/account/recovery-codes").get_data(as_text=True)
    codes = re.findall(r"<li>([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</li>", page)
    return secret, codes


def test_invitation_acceptance_and_enrolment(app, client, mailbox):
    path = _invite(app, mailbox)
    page = client.get(path)
    assert page.status_code == 200
    assert "new.person@nl.test" in page.get_data(as_text=True)

    refused = [
        ("short pass", None, "at least 12"),
        ("password1234", None, "commonly used"),
        ("cooperation2026!", None, "too close"),
        ("newperson 2024!", None, "too close"),  # the invitee's own name
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The two passwords differ."),
        ("x" * 257, None, "256"),
    ]
    for password, confirm, reason in refused:
        response = _accept(client, path, password, confirm)
        assert response.status_code == 400, password
        assert reason in response.get_data(as_text=True), (password, reason)
        assert _users_count() == 0
        assert db.session.scalar(select(Invitation.accepted_at)) is None
        db.session.commit()

    response = _accept(client, path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/enrol/authenticator")
    user = db.session.scalar(select(User).where(User.email == "new.person@nl.test"))
    assert user.status == UserStatus.PENDING and user.totp_secret is None
    assert user.password_hash.startswith("$argon2id$")
    # Not signed in yet: no second factor so far.
    assert client.get("/dashboard").status_code == 302
    db.session.commit()

    page = client.get("/enrol/authenticator").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    assert 'src="data:image/svg+xml' in page  # the QR code
    response = client.post("/enrol/authenticator", data={"code": _wrong_code(secret), "csrf_token": csrf_from(page)})
    assert response.status_code == 400
    assert "That code is not valid" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).status == UserStatus.PENDING
    db.session.commit()
    # The same secret is offered again after a mistake (the app already holds it).
    page = response.get_data(as_text=True)
    assert SECRET_RE.search(page).group(1) == secret
    response = client.post("/enrol/authenticator", data={"code": pyotp.TOTP(secret).now(),
                                                         "csrf_token": csrf_from(page)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/recovery-codes")

    page = client.get("/account/recovery-codes").get_data(as_text=True)
    codes = re.findall(r"<li>([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</li>", page)
    assert len(codes) == 10 and len(set(codes)) == 10
    # Shown once only.
    again = client.get("/account/recovery-codes")
    assert again.status_code == 302
    assert codes[0] not in client.get("/account/security").get_data(as_text=True)
    assert client.get("/dashboard").status_code == 200

    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.status == UserStatus.ACTIVE and user.totp_secret == secret
    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10 and all(h.startswith("$argon2") and codes[0] not in h for h in stored)
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"invitation.create", "invitation.accept", "mfa.totp.enrol", "auth.login"} <= actions
    assert verify(db.session) == []
    # Nothing secret in the audit log.
    for details in db.session.scalars(select(AuditEvent.details)):
        assert NEW_PASSWORD not in details and secret not in details and codes[0] not in details


def test_invitation_is_single_use(app, client, mailbox):
    path = _invite(app, mailbox)
    assert _accept(client, path).status_code == 302
    other = app.test_client()
    response = other.get(path)
    assert response.status_code == 404
    assert "This invitation cannot be used" in response.get_data(as_text=True)
    assert other.post(path, data={"full_name": "X", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
                      ).status_code in (400, 404)
    assert _users_count() == 1


def test_expired_and_revoked_invitations_are_404(app, client, mailbox):
    path = _invite(app, mailbox)
    db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 404
    assert "This invitation cannot be used" in response.get_data(as_text=True)

    mailbox.clear()
    path = _invite(app, mailbox, email="second@nl.test")
    invitation = db.session.scalar(select(Invitation).where(Invitation.email == "second@nl.test"))
    accounts.revoke_invitation(db.session, invitation, Actor.system("test"))
    db.session.commit()
    assert client.get(path).status_code == 404
    assert client.get("/invitations/" + "A" * 43).status_code == 404
    assert _users_count() == 0


def test_a_new_invitation_replaces_the_old_one(app, client, mailbox):
    first = _invite(app, mailbox)
    mailbox.clear()
    second = _invite(app, mailbox)
    assert first != second
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


def _sign_out(client) -> None:  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/dashboard").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})


def _recovery_sign_in(client, email: str, code: str):  # type: ignore[no-untyped-def]
    AuthActions(client).password_step(email, NEW_PASSWORD)
    page = client.get("/login/verify").get_data(as_text=True)
    return client.post("/login/verify", data={"method": "recovery", "recovery-recovery_code": code,
                                              "recovery-csrf_token": csrf_from(page)})


def test_recovery_code_signs_in_once(app, client, mailbox):
    _accept(client, _invite(app, mailbox))
    _secret, codes = _enrol(client)
    _sign_out(client)
    response = _recovery_sign_in(client, "new.person@nl.test", codes[3].lower().replace("-", " "))
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200
    _sign_out(client)
    response = _recovery_sign_in(client, "new.person@nl.test", codes[3])
    assert response.status_code == 400
    assert "not valid or was already used" in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_change_password(app, client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    app.test_client_class = CommittingClient
    elsewhere = app.test_client()
    db.session.execute(update(User).where(User.id == user.id).values(totp_last_step=None))
    db.session.commit()
    AuthActions(elsewhere).login(user)
    old_hash = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    db.session.commit()

    page = client.get("/account/password").get_data(as_text=True)
    token = csrf_from(page)
    bad = [
        ({"current": "not my password at all", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
         "Your current password is not correct."),
        ({"current": "correct horse battery staple", "password": "short", "confirm": "short"}, "at least 12"),
        ({"current": "correct horse battery staple", "password": NEW_PASSWORD, "confirm": "other words here"},
         "The two passwords differ."),
        ({"current": "correct horse battery staple", "password": "qwertyuiop123", "confirm": "qwertyuiop123"},
         "commonly used"),
    ]
    for data, reason in bad:
        response = client.post("/account/password", data={**data, "csrf_token": token})
        assert response.status_code == 400
        assert reason in response.get_data(as_text=True)
        assert db.session.scalar(select(User.password_hash).where(User.id == user.id)) == old_hash
        db.session.commit()
    assert elsewhere.get("/dashboard").status_code == 200

    response = client.post("/account/password", data={"current": "correct horse battery staple",
                                                      "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                                      "csrf_token": token})
    assert response.status_code == 302
    new_hash = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    db.session.commit()
    assert passwords.verify_password(new_hash, NEW_PASSWORD)
    # This session goes on; the other one is over.
    assert client.get("/dashboard").status_code == 200
    assert elsewhere.get("/dashboard").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == user.id)) == 1
    db.session.commit()
    _sign_out(client)
    assert AuthActions(client).password_step(user.email, "correct horse battery staple").status_code == 400
    assert AuthActions(client).password_step(user.email, NEW_PASSWORD).status_code == 302


def test_profile_and_language(client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    page = client.get("/account").get_data(as_text=True)
    token = csrf_from(page)
    response = client.post("/account", data={"full_name": "", "locale": "fr", "csrf_token": token})
    assert response.status_code == 400
    assert "Enter your name." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "en"
    db.session.commit()
    response = client.post("/account", data={"full_name": "Mieke de Vries", "locale": "bogus", "csrf_token": token})
    assert response.status_code == 400
    response = client.post("/account", data={"full_name": "Mieke de Vries", "locale": "fr", "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(User, user.id)
    assert saved.full_name == "Mieke de Vries" and saved.locale == "fr"
    db.session.commit()
    assert 'lang="fr"' in client.get("/account").get_data(as_text=True)
    # The language switch (also for anonymous visitors).
    response = client.post("/language", data={"locale": "en", "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "en"
    db.session.commit()


def test_replacing_the_authenticator_requires_the_password(app, client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    old_secret = user.totp_secret
    # Without re-authentication the replacement page is out of reach.
    assert client.get("/account/security/authenticator").status_code == 302
    page = client.get("/account/security").get_data(as_text=True)
    token = csrf_from(page)
    response = client.post("/account/security/authenticator", data={"current": "wrong password here",
                                                                    "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/security")
    assert "Your current password is not correct." in client.get("/account/security").get_data(as_text=True)
    assert client.get("/account/security/authenticator").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "account.reauth", AuditEvent.outcome == "failure")) == 1
    db.session.commit()

    response = client.post("/account/security/authenticator", data={"current": "correct horse battery staple",
                                                                    "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/security/authenticator")
    page = client.get("/account/security/authenticator").get_data(as_text=True)
    new_secret = SECRET_RE.search(page).group(1)
    assert new_secret != old_secret
    response = client.post("/account/security/authenticator", data={"code": _wrong_code(new_secret),
                                                                    "csrf_token": csrf_from(page)})
    assert response.status_code == 400
    assert db.session.scalar(select(User.totp_secret).where(User.id == user.id)) == old_secret
    db.session.commit()
    response = client.post("/account/security/authenticator", data={"code": pyotp.TOTP(new_secret).now(),
                                                                    "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert db.session.scalar(select(User.totp_secret).where(User.id == user.id)) == new_secret
    db.session.commit()
    assert "mfa.totp.replace" in set(db.session.scalars(select(AuditEvent.action)))
    db.session.commit()


def test_pending_user_resumes_enrolment_at_sign_in(app, client, mailbox):
    _accept(client, _invite(app, mailbox))
    fresh = app.test_client()
    response = AuthActions(fresh).password_step("new.person@nl.test", NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].endswith("/enrol/authenticator")
    assert fresh.get("/dashboard").status_code == 302
    assert fresh.get("/enrol/authenticator").status_code == 200
