"""Walks through every screen a person meets, calling `check(page, label)` on each one as it
is shown (the accessibility and CSP tests pass their own check). Signed-in tours also follow
the role's navigation, so a page added later (by a plugin too) is checked without a new test."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
from playwright.sync_api import Page

from cooperation.accounts import services as account_services
from cooperation.audit.service import Actor
from cooperation.extensions import db
from cooperation.membership.models import Party
from cooperation.permissions import Role
from tests.browser.pages import (
    DashboardPage,
    EnrolTotpPage,
    InvitationPage,
    LoginPage,
    Navigator,
    RecoveryCodesPage,
    SecondFactorPage,
)

Check = Callable[[Page, str], None]

# Pages of one's own account, for every role.
ACCOUNT_PATHS = ("/account", "/account/password", "/account/security", "/account/sessions")
# Threads pages outside the navigation (the list is in it), as a person without keys yet sees
# them; one role suffices (same templates for every role). The thread page itself needs a thread
# and keys: tests/browser/test_threads_browser.py checks it with axe-core and under the CSP.
THREAD_PATHS = ("/threads/new", "/threads/keys")
THREAD_PAGES_FOR = ("member_nl",)
# Plugin pages outside the navigation (the travel plugin's report form; the report page itself
# needs a report: tests/browser/test_travel_browser.py checks it).
PLUGIN_PATHS: dict[str, tuple[str, ...]] = {"member_nl": ("/travel/new",)}


def invitation_link(accounts, email: str, party_code: str, role: Role) -> str:  # type: ignore[no-untyped-def]
    """An invitation as the Secretariat's bootstrap makes it (no mail needed for a tour)."""
    from sqlalchemy import select

    def make() -> str:
        party = db.session.scalar(select(Party).where(Party.code == party_code))
        issued = account_services.create_invitation(
            db.session, email=email, full_name="Tour Guide", party=party, role=role, inviter=None,
            actor=Actor(None, "browser-tests", "", "127.0.0.1"), send=False)
        return issued.link

    return str(accounts.run(make))


def anonymous_tour(page: Page, accounts, check: Check) -> None:  # type: ignore[no-untyped-def]
    """Sign-in pages, their error states, onboarding from invitation to recovery codes."""
    login = LoginPage(page).open()
    check(page, "login")
    login.submit("nobody@nowhere.test", "not the right password")
    login.alert.first.wait_for()
    check(page, "login, wrong password")
    login.submit("", "")
    login.error_summary.wait_for()
    check(page, "login, empty form")

    member = accounts.for_role("member_nl")
    login.submit(member.email, member.password)
    SecondFactorPage(page).expect_open()
    check(page, "second factor")

    page.goto("/invitations/not-a-valid-token")
    check(page, "invalid invitation")
    page.goto("/no-such-page")
    check(page, "not found")

    link = invitation_link(accounts, "tour@sn.test", "SEN", Role.STATE_MEMBER)
    invitation = InvitationPage(page).open(link)
    check(page, "invitation")
    invitation.accept("too short")
    invitation.password_error().wait_for()
    check(page, "invitation, password refused")
    invitation.accept("baobab river kora sunrise")
    enrol = EnrolTotpPage(page).expect_open()
    check(page, "authenticator enrolment")
    secret = enrol.secret()
    enrol.confirm(f"{(int(pyotp.TOTP(secret).now()) + 5) % 1_000_000:06d}")  # a wrong code
    page.locator("#code-error").wait_for()
    check(page, "authenticator enrolment, wrong code")
    enrol.confirm(pyotp.TOTP(secret).now())
    RecoveryCodesPage(page).expect_open()
    check(page, "recovery codes")
    RecoveryCodesPage(page).continue_()
    DashboardPage(page).expect_open()
    check(page, "dashboard of a newcomer")


def role_tour(page: Page, accounts, role_key: str, check: Check,  # type: ignore[no-untyped-def]
              account_pages: bool = True) -> list[str]:
    """Sign in as the role, then every page of its navigation and (unless told otherwise) of
    its own account. Returns the paths visited."""
    account = accounts.for_role(role_key)
    code = accounts.totp_code(account)
    dashboard = Navigator(page).sign_in(account.email, account.password, code)
    check(page, f"{role_key}: dashboard")
    paths = [p for p in dashboard.nav_paths() if p != DashboardPage.PATH]
    visited = [DashboardPage.PATH]
    extra = (*(THREAD_PATHS if role_key in THREAD_PAGES_FOR else ()), *PLUGIN_PATHS.get(role_key, ()))
    for path in [*paths, *(ACCOUNT_PATHS if account_pages else ()), *extra]:
        if path in visited:
            continue
        response = page.goto(path)
        status = response.status if response is not None else "nothing"
        assert response is not None and response.ok, f"{role_key}: {path} answered {status}"
        check(page, f"{role_key}: {path}")
        visited.append(path)
    return visited
