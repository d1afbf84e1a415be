"""Secretariat membership administration: States, users, roles, suspensions, invitations."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask import Flask
from sqlalchemy import func, select

from cooperation.accounts.models import Invitation, User, UserStatus
from cooperation.audit.models import AuditEvent
from cooperation.extensions import db
from cooperation.membership.models import Party, PartyStatus
from cooperation.permissions import Role
from cooperation.security.models import WebSession
from tests.conftest import AuthActions, CommittingClient, csrf_from
from tests.factories import make_user, party
from tests.pg_server import free_port


def post(client, path: str, data: dict[str, str], *, page: str | None = None, prefix: str = ""):  # type: ignore[no-untyped-def]
    """Post a form with the CSRF token taken from the page that shows it."""
    html = client.get(page or path).get_data(as_text=True)
    token_name = f"{prefix}-csrf_token" if prefix else "csrf_token"
    match = re.search(rf'name="{re.escape(token_name)}" type="hidden" value="([^"]+)"', html)
    token = match.group(1) if match else csrf_from(html)
    return client.post(path, data={**data, token_name: token})


def count(model, *where) -> int:  # type: ignore[no-untyped-def]
    value = db.session.scalar(select(func.count()).select_from(model).where(*where))
    db.session.rollback()
    return int(value or 0)


def audit_actions(prefix: str) -> list[str]:
    rows = list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.seq)
        )
    )
    db.session.rollback()
    return rows


def refreshed(obj):  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def text(response) -> str:  # type: ignore[no-untyped-def]
    return unescape(response.get_data(as_text=True))


# -- access ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["focal_nl", "member_nl", "editor", "court"])
def test_only_the_secretariat_reaches_membership_administration(client, auth, users, who):
    auth.login(users[who])
    for path in (
        "/admin/membership",
        "/admin/membership/users",
        "/admin/membership/invitations",
        "/admin/membership/states/new",
        f"/admin/membership/users/{users['member_sn'].id}",
    ):
        assert client.get(path).status_code == 404, path


def test_pages_render_with_filters(client, auth, users):
    auth.login(users["admin"])
    page = text(client.get("/admin/membership"))
    assert "Netherlands (Kingdom of the)" in page and "Ukraine" in page and "ASP-SEC" in page
    weog = text(client.get("/admin/membership?group=weog"))
    assert "Netherlands (Kingdom of the)" in weog and "Senegal" not in weog
    withdrawn = text(client.get("/admin/membership?status=withdrawn"))
    assert "Hungary" in withdrawn and "Netherlands (Kingdom of the)" not in withdrawn
    search = text(client.get("/admin/membership?q=sén"))
    assert "Senegal" in search and "Argentina" not in search
    assert client.get("/admin/membership?group=nowhere").status_code == 400

    sen = party("SEN")
    by_state = text(client.get(f"/admin/membership/users?party={sen.id}"))
    assert "member@sn.test" in by_state and "member@nl.test" not in by_state
    by_role = text(client.get("/admin/membership/users?role=state_focal_point"))
    assert "focal@nl.test" in by_role and "member@nl.test" not in by_role
    by_name = text(client.get("/admin/membership/users?q=EDITOR"))
    assert "editor@registry.test" in by_name and "court@otp.test" not in by_name
    assert "member@nl.test" not in text(client.get("/admin/membership/users?status=suspended"))

    detail = text(client.get(f"/admin/membership/users/{users['member_nl'].id}"))
    assert "member@nl.test" in detail and "Change the role" in detail
    assert client.get("/admin/membership/users/999999").status_code == 404


# -- States ----------------------------------------------------------------------------------------


def test_create_a_state(client, auth, users):
    auth.login(users["admin"])
    response = post(
        client,
        "/admin/membership/states/new",
        {
            "code": "xkx",
            "name_en": "Test State",
            "name_fr": "État d'essai",
            "regional_group": "weog",
        },
    )
    assert response.status_code == 302
    created = db.session.scalar(select(Party).where(Party.code == "XKX"))
    assert (
        created is not None
        and created.status == PartyStatus.ACTIVE
        and created.name_fr == "État d'essai"
    )
    assert audit_actions("party.create") == ["party.create"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"code": "", "name_en": "A", "name_fr": "B", "regional_group": "weog"},
            "Enter the three-letter code.",
        ),
        ({"code": "NL", "name_en": "A", "name_fr": "B", "regional_group": "weog"}, "three letters"),
        (
            {"code": "N1D", "name_en": "A", "name_fr": "B", "regional_group": "weog"},
            "three letters",
        ),
        (
            {"code": "NLDX", "name_en": "A", "name_fr": "B", "regional_group": "weog"},
            "three letters",
        ),
        (
            {"code": "NLD", "name_en": "A", "name_fr": "B", "regional_group": "weog"},
            "already exists",
        ),
        (
            {"code": "nld", "name_en": "A", "name_fr": "B", "regional_group": "weog"},
            "already exists",
        ),
        (
            {"code": "XKX", "name_en": "", "name_fr": "B", "regional_group": "weog"},
            "Enter the English name.",
        ),
        (
            {"code": "XKX", "name_en": "A", "name_fr": "  ", "regional_group": "weog"},
            "Enter the French name.",
        ),
        (
            {"code": "XKX", "name_en": "A" * 201, "name_fr": "B", "regional_group": "weog"},
            "At most 200 characters.",
        ),
        (
            {"code": "XKX", "name_en": "A", "name_fr": "B", "regional_group": "mars"},
            "Choose one of the options",
        ),
    ],
)
def test_create_state_refuses_bad_input(client, auth, users, data, message):
    auth.login(users["admin"])
    before = count(Party)
    response = post(client, "/admin/membership/states/new", data)
    assert response.status_code == 400
    assert message in text(response)
    assert count(Party) == before
    assert audit_actions("party.") == []


def test_suspending_a_state_signs_its_users_out(client, auth, users, app):
    member = users["member_nl"]
    other = app.test_client()
    AuthActions(other).login(member)
    assert other.get("/dashboard").status_code == 200
    assert count(WebSession, WebSession.user_id == member.id) == 1
    auth.login(users["admin"])
    nld = party("NLD")
    path = f"/admin/membership/states/{nld.id}"
    assert 'value="Netherlands (Kingdom of the)"' in text(client.get(path))
    response = post(
        client,
        path,
        {
            "name_en": nld.name_en,
            "name_fr": nld.name_fr,
            "regional_group": "weog",
            "status": "suspended",
            "reason": "Decision of the Bureau",
        },
    )
    assert response.status_code == 302
    assert refreshed(nld).status == PartyStatus.SUSPENDED
    assert count(WebSession, WebSession.user_id == member.id) == 0
    assert count(WebSession, WebSession.user_id == users["focal_nl"].id) == 0
    # The next request of the NLD user is signed out; the SEN focal point is untouched.
    response = other.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "party.status"))
    assert '"to":"suspended"' in event.details and "Decision of the Bureau" in event.details
    # Reactivation is recorded too; the users can sign in again.
    response = post(
        client,
        path,
        {
            "name_en": nld.name_en,
            "name_fr": nld.name_fr,
            "regional_group": "weog",
            "status": "active",
        },
    )
    assert response.status_code == 302 and refreshed(nld).status == PartyStatus.ACTIVE
    assert audit_actions("party.status") == ["party.status", "party.status"]
    AuthActions(other).login(member)
    assert other.get("/dashboard").status_code == 200


def test_edit_state_names_and_group(client, auth, users):
    auth.login(users["admin"])
    arg = party("ARG")
    response = post(
        client,
        f"/admin/membership/states/{arg.id}",
        {
            "name_en": "Argentine Republic",
            "name_fr": "République argentine",
            "regional_group": "grulac",
            "status": "active",
        },
    )
    assert response.status_code == 302
    arg = refreshed(arg)
    assert (arg.name_en, arg.name_fr, arg.status) == (
        "Argentine Republic",
        "République argentine",
        PartyStatus.ACTIVE,
    )
    assert audit_actions("party.") == ["party.update"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name_en": "", "name_fr": "Argentine", "regional_group": "grulac", "status": "active"},
            "Enter the English name.",
        ),
        (
            {
                "name_en": "Argentina",
                "name_fr": "F" * 201,
                "regional_group": "grulac",
                "status": "active",
            },
            "At most 200",
        ),
        (
            {
                "name_en": "Argentina",
                "name_fr": "Argentine",
                "regional_group": "x",
                "status": "active",
            },
            "Choose one of",
        ),
        (
            {
                "name_en": "Argentina",
                "name_fr": "Argentine",
                "regional_group": "grulac",
                "status": "gone",
            },
            "Choose one of",
        ),
        (
            {
                "name_en": "Argentina",
                "name_fr": "Argentine",
                "regional_group": "grulac",
                "status": "suspended",
                "reason": "r" * 501,
            },
            "At most 500",
        ),
    ],
)
def test_edit_state_refuses_bad_input(client, auth, users, data, message):
    auth.login(users["admin"])
    arg = party("ARG")
    response = post(client, f"/admin/membership/states/{arg.id}", data)
    assert response.status_code == 400 and message in text(response)
    arg = refreshed(arg)
    assert (arg.name_en, arg.name_fr, arg.status) == ("Argentina", "Argentine", PartyStatus.ACTIVE)
    assert audit_actions("party.") == []


def test_organisations_are_not_edited_as_states(client, auth, users):
    auth.login(users["admin"])
    assert client.get(f"/admin/membership/states/{party('ICC-REG').id}").status_code == 404


# -- users: roles and status -----------------------------------------------------------------------


def test_role_change_is_limited_by_party(client, auth, users):
    auth.login(users["admin"])
    member = users["member_nl"]
    path = f"/admin/membership/users/{member.id}"
    page = text(client.get(path))
    role_select = page[page.index('id="role-role"') :]
    role_select = role_select[: role_select.index("</select>")]
    assert "state_focal_point" in role_select and "secretariat_admin" not in role_select

    response = post(
        client, f"{path}/role", {"role-role": "secretariat_admin"}, page=path, prefix="role"
    )
    assert response.status_code == 400
    assert "This role cannot be given to a user of Netherlands (Kingdom of the)." in text(response)
    response = post(client, f"{path}/role", {"role-role": "superuser"}, page=path, prefix="role")
    assert response.status_code == 400 and "Choose one of the roles" in text(response)
    response = post(client, f"{path}/role", {"role-role": ""}, page=path, prefix="role")
    assert response.status_code == 400 and "Choose a role." in text(response)
    assert refreshed(member).role == Role.STATE_MEMBER
    assert audit_actions("user.role") == []

    response = post(
        client, f"{path}/role", {"role-role": "state_focal_point"}, page=path, prefix="role"
    )
    assert response.status_code == 302
    assert refreshed(member).role == Role.STATE_FOCAL_POINT
    assert audit_actions("user.role") == ["user.role"]
    # The registry editor may become a court member, not a State focal point.
    editor_path = f"/admin/membership/users/{users['editor'].id}"
    response = post(
        client,
        f"{editor_path}/role",
        {"role-role": "state_focal_point"},
        page=editor_path,
        prefix="role",
    )
    assert response.status_code == 400 and refreshed(users["editor"]).role == Role.REGISTRY_EDITOR
    response = post(
        client,
        f"{editor_path}/role",
        {"role-role": "court_member"},
        page=editor_path,
        prefix="role",
    )
    assert response.status_code == 302 and refreshed(users["editor"]).role == Role.COURT_MEMBER


def test_suspension_deletes_sessions_and_signs_the_user_out(client, auth, users, app):
    member = users["member_sn"]
    other = app.test_client()
    AuthActions(other).login(member)
    assert count(WebSession, WebSession.user_id == member.id) == 1
    auth.login(users["admin"])
    path = f"/admin/membership/users/{member.id}"
    response = post(
        client,
        f"{path}/status",
        {"status-status": "suspended", "status-reason": "Left the ministry"},
        page=path,
        prefix="status",
    )
    assert response.status_code == 302
    assert refreshed(member).status == UserStatus.SUSPENDED
    assert count(WebSession, WebSession.user_id == member.id) == 0
    response = other.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # The detail page shows the audit trail of the suspension, with its reason.
    assert "Left the ministry" in text(client.get(path))

    response = post(
        client, f"{path}/status", {"status-status": "active"}, page=path, prefix="status"
    )
    assert response.status_code == 302 and refreshed(member).status == UserStatus.ACTIVE
    response = post(
        client,
        f"{path}/status",
        {"status-status": "deactivated", "status-reason": "Retired"},
        page=path,
        prefix="status",
    )
    assert response.status_code == 302 and refreshed(member).status == UserStatus.DEACTIVATED
    response = post(
        client, f"{path}/status", {"status-status": "active"}, page=path, prefix="status"
    )
    assert response.status_code == 400 and "cannot be reopened" in text(response)
    assert refreshed(member).status == UserStatus.DEACTIVATED
    assert audit_actions("user.") == ["user.suspended", "user.active", "user.deactivated"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status-status": "suspended", "status-reason": ""}, "Give the reason for this change."),
        ({"status-status": "suspended", "status-reason": "x" * 501}, "At most 500 characters."),
        ({"status-status": "pending", "status-reason": "why"}, "Choose one of the options"),
        ({"status-status": "", "status-reason": "why"}, "Choose an action."),
    ],
)
def test_status_change_refuses_bad_input(client, auth, users, data, message):
    auth.login(users["admin"])
    member = users["member_nl"]
    path = f"/admin/membership/users/{member.id}"
    response = post(client, f"{path}/status", data, page=path, prefix="status")
    assert response.status_code == 400
    assert message in text(response), re.findall(r'class="error"[^>]*>([^<]*)', text(response))
    assert refreshed(member).status == UserStatus.ACTIVE
    assert audit_actions("user.") == []


def test_administrator_cannot_change_their_own_account(client, auth, users):
    admin = users["admin"]
    auth.login(admin)
    path = f"/admin/membership/users/{admin.id}"
    assert "You cannot change this account" in text(client.get(path))
    response = post(
        client,
        f"{path}/status",
        {"status-status": "suspended", "status-reason": "test"},
        page="/admin/membership/users/" + str(users["member_nl"].id),
        prefix="status",
    )
    assert response.status_code == 400 and refreshed(admin).status == UserStatus.ACTIVE


# -- invitations -----------------------------------------------------------------------------------


def invite(client, **fields: str):  # type: ignore[no-untyped-def]
    data = {
        "email": "new.person@example.org",
        "full_name": "New Person",
        "party": str(party("ARG").id),
        "role": "state_focal_point",
        **fields,
    }
    return post(client, "/admin/membership/invitations", data)


def test_secretariat_invitation_is_mailed_and_its_link_opens_acceptance(
    client, auth, users, mailbox, app
):
    auth.login(users["admin"])
    response = invite(client, email="New.Person@Example.org")
    assert response.status_code == 302
    invitation = db.session.scalar(select(Invitation))
    assert (invitation.email, invitation.party.code, invitation.role) == (
        "new.person@example.org",
        "ARG",
        Role.STATE_FOCAL_POINT,
    )
    message = mailbox.wait_for("new.person@example.org")
    link = re.search(r"https?://\S+/invitations/\S+", mailbox.body(message)).group(0)
    assert "Argentina" in mailbox.body(message) and "Argentine" in mailbox.body(message)
    listing = text(client.get("/admin/membership/invitations?state=open"))
    assert "new.person@example.org" in listing and "Revoke" in listing

    visitor = app.test_client()
    page = visitor.get(link.split("localhost", 1)[1])
    assert page.status_code == 200
    assert "Accept your invitation" in text(page) and "new.person@example.org" in text(page)
    assert audit_actions("invitation.") == ["invitation.create"]


def test_revoke_an_invitation(client, auth, users, mailbox):
    auth.login(users["admin"])
    assert invite(client).status_code == 302
    invitation = db.session.scalar(select(Invitation))
    response = post(
        client,
        f"/admin/membership/invitations/{invitation.id}/revoke",
        {},
        page="/admin/membership/invitations",
    )
    assert response.status_code == 302
    assert refreshed(invitation).revoked_at is not None
    assert "Revoked" in text(client.get("/admin/membership/invitations?state=revoked"))
    # A second revocation is refused with a message; nothing changes.
    response = post(
        client,
        f"/admin/membership/invitations/{invitation.id}/revoke",
        {},
        page="/admin/membership/invitations",
    )
    assert "no longer open" in text(client.get("/admin/membership/invitations"))
    assert audit_actions("invitation.revoke") == ["invitation.revoke"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": ""}, "Enter the e-mail address."),
        ({"email": "not-an-address"}, "This is not a valid e-mail address."),
        ({"email": "two@@example.org"}, "This is not a valid e-mail address."),
        ({"email": "a" * 250 + "@example.org"}, "At most 254 characters."),
        ({"full_name": ""}, "Enter the person's full name."),
        ({"full_name": "N" * 201}, "At most 200 characters."),
        ({"party": ""}, "Choose the State or organisation."),
        ({"party": "999999"}, "Choose one of the options"),
        (
            {"role": "secretariat_admin"},
            "A user of Argentina can only be: State member, State focal point.",
        ),
        ({"role": "superuser"}, "Choose one of the roles"),
        (
            {"email": "someone@example.test"},
            "This is not a valid e-mail address.",
        ),  # special-use domain
        ({"email": "Existing@Example.org"}, "An account with this e-mail address already exists."),
    ],
)
def test_invitation_refuses_bad_input(client, auth, users, mailbox, fields, message):
    make_user("ARG", Role.STATE_MEMBER, "existing@example.org")
    db.session.commit()
    auth.login(users["admin"])
    response = invite(client, **fields)
    assert response.status_code == 400
    assert message in text(response), re.findall(r'class="error"[^>]*>([^<]*)', text(response))
    assert count(Invitation) == 0
    assert audit_actions("invitation.") == []
    assert mailbox.messages == []


def test_withdrawn_state_is_not_offered_for_invitations(client, auth, users, mailbox):
    auth.login(users["admin"])
    hungary = party("HUN")
    assert f'value="{hungary.id}"' not in text(client.get("/admin/membership/invitations"))
    response = invite(client, party=str(hungary.id))
    assert response.status_code == 400 and count(Invitation) == 0


def test_mail_server_down_saves_nothing(make_app, users, mailbox):
    broken: Flask = make_app(mail_port=free_port(), mail_timeout=2)  # nothing listens there
    broken.test_client_class = CommittingClient
    browser = broken.test_client()
    AuthActions(browser).login(users["admin"])
    response = post(
        browser,
        "/admin/membership/invitations",
        {
            "email": "nobody@example.org",
            "full_name": "No Body",
            "party": str(party("SEN").id),
            "role": "state_member",
        },
    )
    assert response.status_code == 503
    assert "mail server did not answer. Nothing was saved." in text(response)
    assert count(Invitation) == 0
    failures = list(
        db.session.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.create"))
    )
    assert [e.outcome for e in failures] == ["failure"]
    assert mailbox.messages == []


def test_user_count_is_unchanged_by_invitation(client, auth, users, mailbox):
    before = count(User)
    auth.login(users["admin"])
    assert invite(client).status_code == 302
    assert count(User) == before
