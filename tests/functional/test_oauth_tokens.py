"""Bearer tokens on the API: scopes narrow the user's role, tokens expire, refresh tokens rotate
(a reused one ends the family), and revocation works from the client, the sessions page,
"sign out everywhere" and suspension. CSRF stays on for cookie requests."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import jsonify
from sqlalchemy import select, update

from cooperation import permissions as p
from cooperation.accounts import services as accounts
from cooperation.accounts.models import UserStatus
from cooperation.audit.models import AuditEvent
from cooperation.audit.service import Actor
from cooperation.db import utcnow
from cooperation.extensions import csrf, db
from cooperation.membership.models import Party, PartyStatus
from cooperation.oauth.models import OAuthGrant, OAuthToken
from tests.conftest import AuthActions, csrf_from
from tests.functional.oauth_helpers import Browser, Device, new_client, obtain_tokens, register_client


@pytest.fixture(autouse=True)
def _client_registered(app):
    register_client(app)


def _me(app, token: str):  # type: ignore[no-untyped-def]
    return Device(app).api("/api/v1/me", token)


def test_a_token_works_only_within_its_scopes(app, users):
    tokens = obtain_tokens(app, users["member_nl"], scope="parties:read")
    response = _me(app, tokens["access_token"])
    assert response.status_code == 404  # "profile" not granted: as if the endpoint did not exist
    assert response.get_json()["status"] == 404


def test_bearer_tokens_are_for_the_api_only(app, users):
    tokens = obtain_tokens(app, users["member_nl"], scope="profile")
    device = Device(app)
    # The same permission guards /account; a token must not drive the HTML pages.
    page = device.api("/account", tokens["access_token"])
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    ended = device.api("/account/sessions/end-all", tokens["access_token"], method="POST")
    assert ended.status_code in (302, 400)
    assert db.session.scalar(select(OAuthGrant.revoked_at)) is None


def test_unknown_and_missing_tokens_get_a_bearer_challenge(app, users):
    device = Device(app)
    missing = device.http.get("/api/v1/me")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="cooperation"'
    forged = device.api("/api/v1/me", "forged-token")
    assert forged.status_code == 401
    assert forged.headers["WWW-Authenticate"] == 'Bearer realm="cooperation", error="invalid_token"'


def test_tokens_never_reach_the_logs(app, users, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    tokens = obtain_tokens(app, users["member_nl"])
    fresh = Device(app).refresh(tokens["refresh_token"]).get_json()
    assert _me(app, fresh["access_token"]).status_code == 200
    for secret in (tokens["access_token"], tokens["refresh_token"], fresh["access_token"], fresh["refresh_token"]):
        assert secret not in caplog.text


def test_an_expired_access_token_stops_working(app, users):
    tokens = obtain_tokens(app, users["member_nl"])
    assert _me(app, tokens["access_token"]).status_code == 200
    db.session.execute(update(OAuthToken).values(access_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert _me(app, tokens["access_token"]).status_code == 401


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(app, users):
    tokens = obtain_tokens(app, users["member_nl"], scope="profile parties:read")
    device = Device(app)
    response = device.refresh(tokens["refresh_token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    fresh = response.get_json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["scope"] == "profile parties:read" and fresh["expires_in"] == 3600
    assert _me(app, fresh["access_token"]).status_code == 200
    assert _me(app, tokens["access_token"]).status_code == 401  # the replaced pair is dead

    # A narrower scope may be asked for on refresh, never a wider one.
    wider = device.refresh(fresh["refresh_token"], scope="profile audit:read")
    assert wider.status_code == 400 and wider.get_json()["error"] == "invalid_scope"

    # The old refresh token comes back: someone holds a copy. The whole family ends.
    reused = device.refresh(tokens["refresh_token"])
    assert reused.status_code == 400 and reused.get_json()["error"] == "invalid_grant"
    assert _me(app, fresh["access_token"]).status_code == 401
    assert device.refresh(fresh["refresh_token"]).get_json()["error"] == "invalid_grant"
    grant = db.session.scalars(select(OAuthGrant)).one()
    assert grant.revoked_reason == "refresh_reuse"
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert actions.count("oauth.token.refresh") == 1 and actions[-1] == "oauth.token.revoke"
    db.session.commit()


def test_an_expired_refresh_token_is_refused(app, users):
    tokens = obtain_tokens(app, users["member_nl"])
    db.session.execute(update(OAuthToken).values(refresh_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert Device(app).refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_the_client_can_revoke_its_tokens(app, users):
    tokens = obtain_tokens(app, users["member_nl"])
    device = Device(app)
    response = device.http.post("/oauth/revoke", data={"token": tokens["refresh_token"],
                                                       "token_type_hint": "refresh_token",
                                                       "client_id": "cooperation-cli"})
    assert response.status_code == 200
    assert _me(app, tokens["access_token"]).status_code == 401
    assert device.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    # RFC 7009: an unknown token is not an error (nothing to learn from the answer).
    unknown = device.http.post("/oauth/revoke", data={"token": "nope", "client_id": "cooperation-cli"})
    assert unknown.status_code == 200


def test_revoking_from_the_sessions_page(app, users):
    tokens = obtain_tokens(app, users["member_nl"])
    other = obtain_tokens(app, users["member_sn"])
    browser = Browser(app, users["member_nl"])
    page = browser.http.get("/account/sessions").get_data(as_text=True)
    assert "Cooperation Python client" in page and "Revoke" in page
    grant_id = db.session.scalar(select(OAuthGrant.id).where(OAuthGrant.user_id == users["member_nl"].id))
    other_id = db.session.scalar(select(OAuthGrant.id).where(OAuthGrant.user_id == users["member_sn"].id))
    db.session.commit()
    token = csrf_from(page)

    # No CSRF token: refused, nothing revoked.
    assert browser.http.post(f"/account/api-tokens/{grant_id}/revoke").status_code == 400
    assert _me(app, tokens["access_token"]).status_code == 200
    # Someone else's grant: 404, and it still works.
    assert browser.http.post(f"/account/api-tokens/{other_id}/revoke", data={"csrf_token": token}).status_code == 404
    assert _me(app, other["access_token"]).status_code == 200

    response = browser.http.post(f"/account/api-tokens/{grant_id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    assert _me(app, tokens["access_token"]).status_code == 401
    assert Device(app).refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    page = browser.http.get("/account/sessions").get_data(as_text=True)
    assert "No application has access" in page
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "oauth.token.revoke")).one()
    assert json.loads(event.details)["reason"] == "user" and event.actor_id == users["member_nl"].id
    db.session.commit()


def test_sign_out_everywhere_revokes_tokens(app, users):
    tokens = obtain_tokens(app, users["member_nl"])
    browser = Browser(app, users["member_nl"])
    token = csrf_from(browser.http.get("/account/sessions").get_data(as_text=True))
    assert browser.http.post("/account/sessions/end-all", data={"csrf_token": token}).status_code == 302
    assert _me(app, tokens["access_token"]).status_code == 401
    assert Device(app).refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_suspension_revokes_tokens_and_a_suspended_state_stops_them(app, users):
    tokens = obtain_tokens(app, users["member_nl"])
    accounts.set_status(db.session, users["focal_nl"], users["member_nl"], UserStatus.SUSPENDED,
                        Actor.system("test"))
    db.session.commit()
    assert _me(app, tokens["access_token"]).status_code == 401
    assert db.session.scalar(select(OAuthGrant.revoked_reason)) == "user_suspended"
    db.session.commit()

    # A State suspended as a whole: its users' tokens stop at once, revoked or not.
    other = obtain_tokens(app, users["member_sn"])
    assert _me(app, other["access_token"]).status_code == 200
    db.session.execute(update(Party).where(Party.code == "SEN").values(status=PartyStatus.SUSPENDED))
    db.session.commit()
    assert _me(app, other["access_token"]).status_code == 401
    assert Device(app).refresh(other["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_a_token_never_exceeds_the_current_role(app, users):
    from cooperation.permissions import Role

    tokens = obtain_tokens(app, users["admin"], scope="profile audit:read")
    assert tokens["scope"] == "profile audit:read"
    # The role shrinks after the approval: refreshing no longer carries the audit scope.
    db.session.execute(update(type(users["admin"])).where(type(users["admin"]).id == users["admin"].id)
                       .values(role=Role.COURT_MEMBER))
    db.session.commit()
    fresh = Device(app).refresh(tokens["refresh_token"]).get_json()
    assert fresh["scope"] == "profile"


# -- CSRF --------------------------------------------------------------------------------------------

@pytest.fixture
def echo_app(make_app):
    """An app with one state-changing JSON endpoint, like those of /api/v1."""
    made = make_app()

    @made.post("/api/v1/test-only/echo")
    @p.require(p.ACCOUNT_SELF_MANAGE)
    def echo():  # type: ignore[no-untyped-def]
        return jsonify(ok=True)

    register_client(made)
    return made


def test_cookie_requests_to_the_api_still_need_a_csrf_token(echo_app, users):
    with echo_app.app_context():
        try:
            _check_csrf_rules(echo_app, users)
        finally:
            db.session.remove()  # this context's session holds a connection of echo_app's pool


def _check_csrf_rules(echo_app, users) -> None:  # type: ignore[no-untyped-def]
    browser = new_client(echo_app)
    AuthActions(browser).login(users["member_nl"])
    token = csrf_from(browser.get("/account/security").get_data(as_text=True))
    assert browser.post("/api/v1/test-only/echo", json={}).status_code == 400
    assert browser.post("/api/v1/test-only/echo", json={}, headers={"X-CSRFToken": "forged"}).status_code == 400
    assert browser.post("/api/v1/test-only/echo", json={}, headers={"X-CSRFToken": token}).status_code == 200

    tokens = obtain_tokens(echo_app, users["focal_nl"], scope="profile")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    # Bearer and no cookie: no CSRF token needed (a browser cannot forge this header).
    device = new_client(echo_app)
    assert device.post("/api/v1/test-only/echo", json={}, headers=bearer).status_code == 200
    # Bearer with a session cookie: the cookie rules apply, CSRF included.
    assert browser.post("/api/v1/test-only/echo", json={}, headers=bearer).status_code == 400
    # A cookie that is no session at all (or an expired one) signs no one in: the bearer header
    # is still ignored (a cookie is present) and the answer is 401, not a misleading CSRF 400.
    device.set_cookie("session", "junk")
    refused = device.post("/api/v1/test-only/echo", json={}, headers=bearer)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer ")
    # No credential at all: 401 with the bearer challenge as well.
    assert new_client(echo_app).post("/api/v1/test-only/echo", json={}).status_code == 401


def test_only_the_client_endpoints_of_oauth_are_exempt_from_csrf(app):
    from tests.security.world import CSRF_EXEMPT_ENDPOINTS

    oauth_views = {name: view for name, view in app.view_functions.items() if name.startswith("oauth.")}
    exempt = {name for name, view in oauth_views.items()
              if f"{view.__module__}.{view.__name__}" in csrf._exempt_views}
    assert exempt == set(CSRF_EXEMPT_ENDPOINTS)
    assert {"oauth.verify", "oauth.decide", "oauth.revoke_grant"} <= set(oauth_views) - exempt


def test_last_use_is_recorded(app, users):
    tokens = obtain_tokens(app, users["member_nl"])
    db.session.execute(update(OAuthGrant).values(last_used_at=None))
    db.session.commit()
    assert _me(app, tokens["access_token"]).status_code == 200
    assert db.session.scalar(select(OAuthGrant.last_used_at)) is not None
    db.session.commit()


def test_an_approval_ends_ninety_days_after_it_was_given_however_often_refreshed(app, users):
    """Refreshing slides the refresh token's 30 days, never past the approval's absolute end."""
    tokens = obtain_tokens(app, users["member_nl"])
    grant = db.session.scalars(select(OAuthGrant)).one()
    # Approved 89 days and 23 hours ago: a refresh still works, but only up to the 90th day.
    grant.created_at = utcnow() - timedelta(days=89, hours=23)
    db.session.commit()
    device = Device(app)
    response = device.refresh(tokens["refresh_token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    fresh = response.get_json()
    assert 0 < fresh["expires_in"] <= 3600  # the access token ends with the approval
    ends = grant.created_at + timedelta(days=90)
    row = db.session.scalars(select(OAuthToken).where(OAuthToken.rotated_at.is_(None))).one()
    assert row.refresh_expires_at == ends and row.access_expires_at <= ends
    db.session.expire_all()
    assert db.session.get(OAuthGrant, grant.id).expires_at == ends  # what the sessions page shows
    # Past the 90th day nothing is refreshed any more: the client must be approved again.
    db.session.execute(update(OAuthGrant).values(created_at=utcnow() - timedelta(days=91)))
    db.session.execute(update(OAuthToken).values(refresh_expires_at=utcnow() + timedelta(days=5)))
    db.session.commit()
    assert device.refresh(fresh["refresh_token"]).get_json()["error"] == "invalid_grant"
