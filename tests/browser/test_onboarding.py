"""Journeys in a real browser: a newcomer's onboarding from the invitation mail to the
dashboard, and a suspension that throws an open session out at its next click."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from cooperation.accounts.models import Invitation, User, UserStatus
from cooperation.extensions import db
from tests.browser.pages import (
    DashboardPage,
    EnrolTotpPage,
    InvitationPage,
    LoginPage,
    MembershipPages,
    Navigator,
    RecoveryCodesPage,
)
from tests.mailbox import Mailbox

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

NEWCOMER = "newcomer@justice.example.nl"  # .test is refused (special-use domain)
NEWCOMER_PASSWORD = "tulip canal bicycle herring"


def _open_invitations(accounts) -> int:  # type: ignore[no-untyped-def]
    count = select(func.count()).select_from(Invitation)
    return int(accounts.run(lambda: db.session.scalar(count)))


def _user_status(accounts, email: str) -> UserStatus | None:  # type: ignore[no-untyped-def]
    return accounts.run(lambda: db.session.scalar(select(User.status).where(User.email == email)))


def test_newcomer_goes_from_invitation_mail_to_dashboard(new_context, accounts, mailbox: Mailbox,
                                                         live_server):
    admin = accounts.for_role("admin")
    admin_page = new_context().new_page()
    Navigator(admin_page).sign_in(admin.email, admin.password, accounts.totp_code(admin))
    membership = MembershipPages(admin_page).open_from_nav().section("Invitations")

    # A mistyped address is refused with a message, and nothing is sent or stored.
    membership.invite("newcomer.justice.example.nl", "Nieuwe Collega", "NLD", "State focal point")
    expect(membership.error_summary).to_contain_text("This is not a valid e-mail address.")
    assert _open_invitations(accounts) == 0 and mailbox.messages == []

    membership.invite(NEWCOMER, "Nieuwe Collega", "NLD", "State focal point")
    expect(admin_page.get_by_role("status")).to_contain_text(
        f"The invitation was sent to {NEWCOMER}.")
    expect(admin_page.get_by_role("table")).to_contain_text(NEWCOMER)

    body = Mailbox.body(mailbox.wait_for(NEWCOMER))
    match = re.search(re.escape(live_server.url) + r"/invitations/[\w-]+", body)
    assert match, body
    link = match.group(0)

    # The newcomer opens the link in their own browser (no cookie of the administrator's).
    page = new_context().new_page()
    invitation = InvitationPage(page).open(link)
    expect(page.get_by_text(NEWCOMER)).to_be_visible()

    invitation.accept("too short")
    expect(invitation.password_error()).to_contain_text("at least 12 characters")
    expect(invitation.error_summary).to_be_visible()
    expect(page.get_by_label("Choose a password")).to_have_attribute("aria-invalid", "true")
    assert _user_status(accounts, NEWCOMER) is None, "a refused password created the account"

    invitation.accept(NEWCOMER_PASSWORD)
    enrol = EnrolTotpPage(page).expect_open()
    secret = enrol.secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    assert _user_status(accounts, NEWCOMER) == UserStatus.PENDING

    # A wrong code is refused and the account stays pending.
    right = pyotp.TOTP(secret).now()
    enrol.confirm(f"{(int(right) + 5) % 1_000_000:06d}")
    expect(page.locator("#code-error")).to_contain_text("That code is not valid")
    assert _user_status(accounts, NEWCOMER) == UserStatus.PENDING

    # The newcomer types what the phone would show for the key on the page.
    enrol.confirm(pyotp.TOTP(secret).now())
    recovery = RecoveryCodesPage(page).expect_open()
    codes = recovery.codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", c) for c in codes), codes
    recovery.continue_()

    dashboard = DashboardPage(page).expect_open()
    expect(page.get_by_text("Welcome, Nieuwe Collega.")).to_be_visible()
    # A focal point of the Netherlands sees their State's users, not the Secretariat's pages.
    paths = dashboard.nav_paths()
    assert "/my-state/users" in paths
    assert "/admin/membership" not in paths and "/admin/audit/" not in paths
    assert _user_status(accounts, NEWCOMER) == UserStatus.ACTIVE

    # The invitation link was spent.
    spent = new_context().new_page()
    response = spent.goto(link)
    assert response is not None and response.status == 404


def test_suspension_ends_an_open_session_at_the_next_click(new_context, accounts):
    admin = accounts.for_role("admin")
    member = accounts.for_role("member_nl")

    member_page = new_context().new_page()
    Navigator(member_page).sign_in(member.email, member.password, accounts.totp_code(member))
    member_page.get_by_role("link", name="My account").click()
    expect(member_page.get_by_role("heading", level=1)).to_have_text("My account")

    admin_page = new_context().new_page()
    Navigator(admin_page).sign_in(admin.email, admin.password, accounts.totp_code(admin))
    membership = MembershipPages(admin_page).open_from_nav()
    membership.open_user(member.full_name)
    # Suspending without a reason is refused; the member stays active and signed in.
    membership.set_status("Suspend (can be reactivated)", "")
    expect(membership.error_summary).to_contain_text("Give the reason for this change.")
    assert _user_status(accounts, member.email) == UserStatus.ACTIVE

    membership.set_status("Suspend (can be reactivated)", "Left the ministry")
    expect(admin_page.get_by_role("status")).to_contain_text(f"{member.full_name}: Suspended.")
    assert _user_status(accounts, member.email) == UserStatus.SUSPENDED

    # The member's tab is still open on their account page; the next click leads to sign-in.
    member_page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(member_page).to_have_url(re.compile(r"/login(\?.*)?$"))
    LoginPage(member_page).expect_heading("Sign in")
    # And signing in again is refused for the suspended account.
    LoginPage(member_page).submit(member.email, member.password)
    expect(member_page.get_by_role("alert")).to_contain_text("This account is not active")
    expect(member_page).to_have_url(re.compile(r"/login(\?.*)?$"))
