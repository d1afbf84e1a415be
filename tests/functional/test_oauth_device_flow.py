"""OAuth 2.0 device authorization flow (RFC 8628): the Python client asks for a code, the user
approves it in a browser after a full sign-in, the client polls and gets scoped tokens."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from cooperation.audit.models import AuditEvent
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.oauth.models import DeviceAuthorization, DeviceStatus, OAuthGrant, OAuthToken
from tests.conftest import AuthActions, csrf_from
from tests.functional.oauth_helpers import (
    USER_CODE_RE,
    Browser,
    Device,
    allow_next_poll,
    device_row,
    new_client,
    register_client,
)


@pytest.fixture(autouse=True)
def _client_registered(app):
    register_client(app)


def _audit(action: str) -> list[AuditEvent]:
    rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
    db.session.commit()
    return rows


def test_the_whole_device_flow(app, users):
    device = Device(app)
    response = device.start("profile threads")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    started = response.get_json()
    assert USER_CODE_RE.match(started["user_code"])
    assert len(started["device_code"]) >= 40
    assert started["expires_in"] == 600 and started["interval"] == 5
    assert started["verification_uri"] == "http://localhost/device"
    assert started["verification_uri_complete"] == f"http://localhost/device?user_code={started['user_code']}"
    assert device.http.get_cookie("session") is None  # the client never holds a cookie

    # Only hashes are stored: neither code appears in the row.
    row = device_row(started["device_code"])
    stored = json.dumps({c.key: str(getattr(row, c.key)) for c in DeviceAuthorization.__table__.columns})
    assert started["device_code"] not in stored
    assert started["user_code"].replace("-", "") not in stored and started["user_code"] not in stored
    db.session.commit()

    pending = device.poll(started["device_code"])
    assert pending.status_code == 400 and pending.get_json()["error"] == "authorization_pending"

    browser = Browser(app, users["member_nl"])
    page = browser.http.get(f"/device?user_code={started['user_code']}").get_data(as_text=True)
    assert started["user_code"] in page  # prefilled from verification_uri_complete, not approved
    assert browser.enter_code(started["user_code"].lower().replace("-", " ")).status_code == 302
    page = browser.http.get("/device/decision").get_data(as_text=True)
    assert "Cooperation Python client" in page
    assert "See your name, your State or organisation and your role" in page
    assert "end-to-end encrypted messages" in page
    response = browser.http.post("/device/decision", data={"csrf_token": csrf_from(page), "approve": "Allow access"})
    assert response.status_code == 200 and "Access allowed" in response.get_data(as_text=True)

    allow_next_poll(started["device_code"])
    response = device.poll(started["device_code"])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    tokens = response.get_json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert tokens["scope"] == "profile threads"
    assert tokens["access_token"] != tokens["refresh_token"] and len(tokens["access_token"]) >= 40
    assert "." not in tokens["access_token"]  # opaque, not a JWT

    me = device.api("/api/v1/me", tokens["access_token"])
    assert me.status_code == 200, me.get_data(as_text=True)
    assert me.get_json() == {"id": users["member_nl"].id, "party": "NLD", "role": "state_member",
                             "role_label": "State member", "scopes": ["profile", "threads"]}
    assert device.http.get_cookie("session") is None

    # The device code was used once; it buys nothing a second time.
    allow_next_poll(started["device_code"])
    again = device.poll(started["device_code"])
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert db.session.scalar(select(func.count()).select_from(OAuthGrant)) == 1

    # Stored hashed; the audit names the client, never a code or token.
    token_row = db.session.scalars(select(OAuthToken)).one()
    assert tokens["access_token"] not in json.dumps({c.key: str(getattr(token_row, c.key))
                                                     for c in OAuthToken.__table__.columns})
    db.session.commit()
    approved = _audit("oauth.device.approve")
    issued = _audit("oauth.token.issue")
    assert len(approved) == 1 and len(issued) == 1
    assert json.loads(issued[0].details) == {"client": "Cooperation Python client", "scopes": ["profile", "threads"]}
    assert issued[0].actor_id == users["member_nl"].id
    everything = " ".join(e.details for e in db.session.scalars(select(AuditEvent)))
    for secret in (tokens["access_token"], tokens["refresh_token"], started["device_code"],
                   started["user_code"], started["user_code"].replace("-", "")):
        assert secret not in everything

    # Listed on the sessions page with its client name and scopes.
    page = browser.http.get("/account/sessions").get_data(as_text=True)
    assert "Cooperation Python client" in page and "profile threads" in page


def test_pending_slow_down_then_denied(app, users):
    device = Device(app)
    started = device.start("profile").get_json()
    first = device.poll(started["device_code"])
    assert first.get_json()["error"] == "authorization_pending"
    fast = device.poll(started["device_code"])  # polled again at once: slower, please
    assert fast.status_code == 400 and fast.get_json()["error"] == "slow_down"
    assert device_row(started["device_code"]).interval == 10
    db.session.commit()

    response = Browser(app, users["member_nl"]).decide(started["user_code"], approve=False)
    assert response.status_code == 200 and "Access denied" in response.get_data(as_text=True)
    allow_next_poll(started["device_code"])
    denied = device.poll(started["device_code"])
    assert denied.status_code == 400 and denied.get_json()["error"] == "access_denied"
    assert db.session.scalar(select(func.count()).select_from(OAuthToken)) == 0
    assert len(_audit("oauth.device.deny")) == 1


def test_an_expired_code_can_be_neither_approved_nor_exchanged(app, users):
    device = Device(app)
    started = device.start("profile").get_json()
    db.session.execute(update(DeviceAuthorization).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    expired = device.poll(started["device_code"])
    assert expired.status_code == 400 and expired.get_json()["error"] == "expired_token"
    browser = Browser(app, users["member_nl"])
    response = browser.enter_code(started["user_code"])
    assert response.status_code == 400
    assert "not valid or has expired" in response.get_data(as_text=True)
    assert device_row(started["device_code"]).status == DeviceStatus.PENDING


def test_the_endpoints_refuse_bad_requests(app):
    device = Device(app)
    unknown = device.start("profile", client_id="someone-else")
    assert unknown.status_code == 400 and unknown.get_json()["error"] == "invalid_client"
    for scope in ("", "everything", "profile everything"):
        bad = device.start(scope)
        assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_scope", scope
    # Parameters are read from the form body only, never the query string.
    in_query = device.http.post("/oauth/device_authorization?client_id=cooperation-cli&scope=profile")
    assert in_query.status_code == 400
    unknown_code = device.poll("not-a-device-code")
    assert unknown_code.status_code == 400 and unknown_code.get_json()["error"] == "invalid_request"
    bad_grant = device.http.post("/oauth/token", data={"grant_type": "password", "client_id": "cooperation-cli",
                                                       "username": "x", "password": "y"})
    assert bad_grant.get_json()["error"] == "unsupported_grant_type"
    assert db.session.scalar(select(func.count()).select_from(DeviceAuthorization)) == 0
    assert db.session.scalar(select(func.count()).select_from(OAuthToken)) == 0


def test_another_clients_device_code_is_refused(app, users):
    from cooperation.oauth.models import OAuthClient

    db.session.add(OAuthClient(client_id="other-cli", name="Other", allowed_scope="profile",
                               grant_types=["urn:ietf:params:oauth:grant-type:device_code"]))
    db.session.commit()
    device = Device(app)
    started = device.start("profile").get_json()
    Browser(app, users["member_nl"]).decide(started["user_code"], approve=True)
    stolen = device.poll(started["device_code"], client_id="other-cli")
    assert stolen.status_code == 400 and stolen.get_json()["error"] == "unauthorized_client"
    allow_next_poll(started["device_code"])
    assert device.poll(started["device_code"]).status_code == 200


def test_scopes_are_limited_by_the_role(app, users):
    device = Device(app)
    started = device.start("profile audit:read").get_json()
    browser = Browser(app, users["member_nl"])
    assert browser.enter_code(started["user_code"]).status_code == 302
    page = browser.http.get("/device/decision").get_data(as_text=True)
    assert "not available to your role" in page and "Read and export the audit log" in page
    browser.http.post("/device/decision", data={"csrf_token": csrf_from(page), "approve": "Allow access"})
    allow_next_poll(started["device_code"])
    tokens = device.poll(started["device_code"]).get_json()
    assert tokens["scope"] == "profile"  # the admin scope was not given
    assert device.api("/api/v1/me", tokens["access_token"]).get_json()["scopes"] == ["profile"]


def test_a_state_member_cannot_approve_an_admin_only_request(app, users):
    device = Device(app)
    started = device.start("audit:read").get_json()
    browser = Browser(app, users["member_nl"])
    browser.enter_code(started["user_code"])
    page = browser.http.get("/device/decision").get_data(as_text=True)
    assert 'name="approve"' not in page and "You can only deny it" in page
    forced = browser.http.post("/device/decision", data={"csrf_token": csrf_from(page), "approve": "Allow access"})
    assert forced.status_code == 400
    assert "does not allow any of the access" in forced.get_data(as_text=True)
    assert device_row(started["device_code"]).status == DeviceStatus.PENDING
    db.session.commit()
    allow_next_poll(started["device_code"])
    assert device.poll(started["device_code"]).get_json()["error"] == "authorization_pending"

    # The Secretariat administrator holds that permission and may grant it.
    admin_device = Device(app)
    admin_started = admin_device.start("audit:read").get_json()
    Browser(app, users["admin"]).decide(admin_started["user_code"], approve=True)
    allow_next_poll(admin_started["device_code"])
    assert admin_device.poll(admin_started["device_code"]).get_json()["scope"] == "audit:read"


def test_the_verification_page_needs_a_full_sign_in(app, users):
    device = Device(app)
    started = device.start("profile").get_json()
    anonymous = new_client(app)
    response = anonymous.get(f"/device?user_code={started['user_code']}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    half = new_client(app)
    assert AuthActions(half).password_step(users["member_nl"].email, "correct horse battery staple").status_code == 302
    response = half.get("/device")  # password done, second factor not yet
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert half.get("/device/decision").status_code == 302
    assert device_row(started["device_code"]).status == DeviceStatus.PENDING


def test_bad_user_codes_are_refused_and_throttled(app, users, monkeypatch):
    monkeypatch.setitem(app.config, "OAUTH_USER_CODE_LIMIT", "3/hour")
    device = Device(app)
    started = device.start("profile").get_json()
    browser = Browser(app, users["member_nl"])
    page = browser.http.get("/device").get_data(as_text=True)
    token = csrf_from(page)
    empty = browser.http.post("/device", data={"csrf_token": token, "user_code": ""})
    assert empty.status_code == 400 and "Enter the code shown by the application" in empty.get_data(as_text=True)
    for wrong in ("AAAA-AAAA", "BCDF-GHJK" if started["user_code"] != "BCDF-GHJK" else "BCDF-GHJL", "12"):
        response = browser.http.post("/device", data={"csrf_token": token, "user_code": wrong})
        assert response.status_code == 400 and "not valid or has expired" in response.get_data(as_text=True)
    # Three wrong codes: even the right one is refused for now.
    blocked = browser.http.post("/device", data={"csrf_token": token, "user_code": started["user_code"]})
    assert blocked.status_code == 429 and "Too many wrong codes" in blocked.get_data(as_text=True)
    assert device_row(started["device_code"]).status == DeviceStatus.PENDING
    db.session.commit()
    refused = _audit("oauth.device.code_refused")
    assert len(refused) == 4 and all(e.outcome == "failure" for e in refused)
    # The throttle is per user: another user is not blocked by these failures.
    other = Browser(app, users["focal_nl"])
    assert other.enter_code(started["user_code"]).status_code == 302


def test_a_code_entered_in_one_session_cannot_be_decided_in_another(app, users):
    device = Device(app)
    started = device.start("profile").get_json()
    first = Browser(app, users["member_nl"])
    assert first.enter_code(started["user_code"]).status_code == 302
    second = Browser(app, users["member_sn"])
    response = second.http.get("/device/decision")
    assert response.status_code == 302 and response.headers["Location"].endswith("/device")


def test_the_device_authorization_endpoint_is_rate_limited(app, monkeypatch):
    monkeypatch.setitem(app.config, "OAUTH_DEVICE_START_LIMIT", "2/hour")
    device = Device(app)
    assert device.start("profile").status_code == 200
    assert device.start("profile").status_code == 200
    limited = device.start("profile")
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert db.session.scalar(select(func.count()).select_from(DeviceAuthorization)) == 2


def test_the_cli_registers_the_public_client_once(app):
    from cooperation.oauth.models import OAuthClient

    db.session.execute(update(OAuthClient).values(disabled_at=utcnow(), allowed_scope=""))
    db.session.commit()
    assert Device(app).start("profile").get_json()["error"] == "invalid_client"  # disabled
    for _ in range(2):
        result = app.test_cli_runner().invoke(args=["oauth", "register-cli-client"])
        assert result.exit_code == 0, result.output
        db.session.remove()
    client = db.session.scalars(select(OAuthClient)).one()
    assert client.client_id == "cooperation-cli" and client.disabled_at is None
    assert set(client.allowed_scope.split()) >= {"profile", "threads"}
    db.session.commit()
    assert Device(app).start("profile").status_code == 200
