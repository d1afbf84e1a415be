"""A State focal point manages the users of their own State, and nothing of any other State."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from cooperation.accounts.models import Invitation, UserStatus
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.permissions import Role
from cooperation.security.models import WebSession
from tests.conftest import AuthActions
from tests.factories import party
from tests.functional.test_membership_admin import audit_actions, count, post, refreshed, text


def open_invitation(code: str, email: str) -> Invitation:
    now = utcnow()
    invitation = Invitation(
        email=email,
        full_name="Invited Person",
        party_id=party(code).id,
        role=Role.STATE_MEMBER,
        token_hash=email.ljust(64, "0")[:64],
        created_at=now,
        expires_at=now + timedelta(hours=72),
    )
    db.session.add(invitation)
    db.session.commit()
    return invitation


def test_focal_point_sees_only_their_own_state(client, auth, users):
    open_invitation("NLD", "invited@nl.example.org")
    open_invitation("SEN", "invited@sn.example.org")
    auth.login(users["focal_nl"])
    page = text(client.get("/my-state/users"))
    assert "member@nl.test" in page and "invited@nl.example.org" in page
    assert (
        "member@sn.test" not in page
        and "focal@sn.test" not in page
        and "invited@sn.example.org" not in page
    )
    assert "admin@asp.test" not in page
    assert client.get(f"/my-state/users/{users['member_nl'].id}").status_code == 200


@pytest.mark.parametrize("who", ["member_nl", "admin", "editor"])
def test_others_do_not_reach_state_user_management(client, auth, users, who):
    auth.login(users[who])
    assert client.get("/my-state/users").status_code == 404
    assert client.get("/my-state/users/invite").status_code == 404


def test_another_states_user_and_invitation_are_a_404(client, auth, users):
    invitation = open_invitation("SEN", "invited@sn.example.org")
    target = users["member_sn"]
    auth.login(users["focal_nl"])
    own = f"/my-state/users/{users['member_nl'].id}"
    assert client.get(f"/my-state/users/{target.id}").status_code == 404
    response = post(
        client,
        f"/my-state/users/{target.id}/status",
        {"status-status": "suspended", "status-reason": "x"},
        page=own,
        prefix="status",
    )
    assert response.status_code == 404
    response = post(
        client, f"/my-state/invitations/{invitation.id}/revoke", {}, page="/my-state/users"
    )
    assert response.status_code == 404
    assert refreshed(target).status == UserStatus.ACTIVE
    assert refreshed(invitation).revoked_at is None
    assert audit_actions("user.") == [] and audit_actions("invitation.") == []
    # Unknown ids look exactly the same.
    assert client.get("/my-state/users/999999").status_code == 404


def test_focal_point_suspends_and_reactivates_a_user_of_their_state(client, auth, users, app):
    member = users["member_nl"]
    other = app.test_client()
    AuthActions(other).login(member)
    assert count(WebSession, WebSession.user_id == member.id) == 1
    auth.login(users["focal_nl"])
    path = f"/my-state/users/{member.id}"
    page = text(client.get(path))
    assert "Deactivate for good" not in page  # the Secretariat deactivates, not the focal point
    response = post(
        client,
        f"{path}/status",
        {"status-status": "suspended", "status-reason": "On leave"},
        page=path,
        prefix="status",
    )
    assert response.status_code == 302
    assert refreshed(member).status == UserStatus.SUSPENDED
    assert count(WebSession, WebSession.user_id == member.id) == 0
    response = other.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]

    response = post(
        client, f"{path}/status", {"status-status": "active"}, page=path, prefix="status"
    )
    assert response.status_code == 302 and refreshed(member).status == UserStatus.ACTIVE
    assert audit_actions("user.") == ["user.suspended", "user.active"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status-status": "deactivated", "status-reason": "gone"}, "Choose one of the options"),
        ({"status-status": "suspended", "status-reason": ""}, "Give the reason for this change."),
        ({"status-status": "suspended", "status-reason": "r" * 501}, "At most 500 characters."),
    ],
)
def test_focal_point_status_form_refuses_bad_input(client, auth, users, data, message):
    member = users["member_nl"]
    auth.login(users["focal_nl"])
    path = f"/my-state/users/{member.id}"
    response = post(client, f"{path}/status", data, page=path, prefix="status")
    assert response.status_code == 400 and message in text(response)
    assert refreshed(member).status == UserStatus.ACTIVE
    assert audit_actions("user.") == []


def test_focal_point_cannot_suspend_themselves(client, auth, users):
    focal = users["focal_nl"]
    auth.login(focal)
    path = f"/my-state/users/{focal.id}"
    assert "You cannot change this account" in text(client.get(path))
    response = post(
        client,
        f"{path}/status",
        {"status-status": "suspended", "status-reason": "test"},
        page=f"/my-state/users/{users['member_nl'].id}",
        prefix="status",
    )
    assert response.status_code == 400 and "You may not change this account." in text(response)
    assert refreshed(focal).status == UserStatus.ACTIVE


def test_focal_point_invites_into_their_own_state(client, auth, users, mailbox):
    auth.login(users["focal_nl"])
    response = post(
        client,
        "/my-state/users/invite",
        {
            "email": "colleague@minbuza.example.org",
            "full_name": "A Colleague",
            "role": "state_member",
        },
    )
    assert response.status_code == 302
    invitation = db.session.scalar(select(Invitation))
    assert (invitation.party.code, invitation.role, invitation.invited_by_id) == (
        "NLD",
        Role.STATE_MEMBER,
        users["focal_nl"].id,
    )
    body = mailbox.body(mailbox.wait_for("colleague@minbuza.example.org"))
    assert re.search(r"/invitations/\S+", body)
    assert "colleague@minbuza.example.org" in text(client.get("/my-state/users"))
    assert audit_actions("invitation.") == ["invitation.create"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "", "full_name": "A", "role": "state_member"}, "Enter the e-mail address."),
        (
            {"email": "nope", "full_name": "A", "role": "state_member"},
            "This is not a valid e-mail address.",
        ),
        (
            {"email": "a@example.org", "full_name": "", "role": "state_member"},
            "Enter the person's full name.",
        ),
        (
            {"email": "a@example.org", "full_name": "x" * 201, "role": "state_member"},
            "At most 200 characters.",
        ),
        (
            {"email": "a@example.org", "full_name": "A", "role": "secretariat_admin"},
            "can only be: State member, State focal point.",
        ),
        ({"email": "a@example.org", "full_name": "A", "role": ""}, "Choose a role."),
    ],
)
def test_focal_point_invitation_refuses_bad_input(client, auth, users, mailbox, data, message):
    auth.login(users["focal_nl"])
    response = post(client, "/my-state/users/invite", data)
    assert response.status_code == 400 and message in text(response)
    assert count(Invitation) == 0 and mailbox.messages == []
    assert audit_actions("invitation.") == []


def test_focal_point_revokes_their_states_invitation(client, auth, users):
    invitation = open_invitation("NLD", "invited@nl.example.org")
    auth.login(users["focal_nl"])
    response = post(
        client, f"/my-state/invitations/{invitation.id}/revoke", {}, page="/my-state/users"
    )
    assert response.status_code == 302
    assert refreshed(invitation).revoked_at is not None
    assert audit_actions("invitation.") == ["invitation.revoke"]
    # Without the CSRF token nothing happens.
    other = open_invitation("NLD", "other@nl.example.org")
    assert client.post(f"/my-state/invitations/{other.id}/revoke").status_code == 400
    assert refreshed(other).revoked_at is None
