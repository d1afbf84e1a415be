"""Page objects: what a person sees and does on each screen, in one place, so the tests read as
user journeys and a template change is fixed here once. Locators prefer what a person (or a
screen reader) perceives: labels, roles and headings, not CSS internals."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect


class BasePage:
    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    def expect_heading(self, text: str) -> None:
        expect(self.heading).to_have_text(text)

    @property
    def error_summary(self) -> Locator:
        return self.page.locator(".error-summary")

    @property
    def alert(self) -> Locator:
        return self.page.get_by_role("alert")

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()


class LoginPage(BasePage):
    PATH = "/login"

    def open(self) -> LoginPage:
        self.page.goto(self.PATH)
        self.expect_heading("Sign in")
        return self

    @property
    def email(self) -> Locator:
        return self.page.get_by_label("E-mail address")

    @property
    def password(self) -> Locator:
        return self.page.get_by_label("Password", exact=True)

    def submit(self, email: str, password: str) -> None:
        self.email.fill(email)
        self.password.fill(password)
        self.page.get_by_role("button", name="Continue").click()

    def choose_language(self, label: str) -> None:
        self.page.get_by_label("Language").select_option(label=label)
        # The button's name changes with the language; it is the language form's only button.
        self.page.locator("form.language-form button[type=submit]").click()


class SecondFactorPage(BasePage):
    PATH = "/login/verify"

    def expect_open(self) -> SecondFactorPage:
        expect(self.page).to_have_url(re.compile(r"/login/verify(#main)?$"))
        self.expect_heading("Confirm it is you")
        return self

    @property
    def code(self) -> Locator:
        return self.page.get_by_label("6-digit code from your authenticator app")

    def submit_totp(self, code: str) -> None:
        self.code.fill(code)
        self.page.get_by_role("button", name="Verify").click()


class InvitationPage(BasePage):
    def open(self, link: str) -> InvitationPage:
        self.page.goto(link)
        self.expect_heading("Accept your invitation")
        return self

    def accept(self, password: str, confirm: str | None = None,
               full_name: str | None = None) -> None:
        if full_name is not None:
            self.page.get_by_label("Full name").fill(full_name)
        self.page.get_by_label("Choose a password").fill(password)
        self.page.get_by_label("Repeat the password").fill(password if confirm is None else confirm)
        self.page.get_by_role("button", name="Continue").click()

    def password_error(self) -> Locator:
        return self.page.locator("#password-error")


class EnrolTotpPage(BasePage):
    def expect_open(self) -> EnrolTotpPage:
        expect(self.page).to_have_url(re.compile(r"/enrol/authenticator(#main)?$"))
        self.expect_heading("Set up your authenticator app")
        return self

    def secret(self) -> str:
        """The key for manual entry, as a person would type it into an authenticator app."""
        return "".join(self.page.locator("#totp-secret").inner_text().split())

    def confirm(self, code: str) -> None:
        self.page.get_by_label("6-digit code from your authenticator app").fill(code)
        self.page.get_by_role("button", name="Confirm").click()


class RecoveryCodesPage(BasePage):
    def expect_open(self) -> RecoveryCodesPage:
        self.expect_heading("Your recovery codes")
        return self

    def codes(self) -> list[str]:
        return [c.strip() for c in self.page.locator("ul.recovery-codes li").all_inner_texts()]

    def continue_(self) -> None:
        self.page.get_by_role("link", name="I have stored my codes, continue").click()


class DashboardPage(BasePage):
    PATH = "/dashboard"

    def expect_open(self) -> DashboardPage:
        expect(self.page).to_have_url(re.compile(r"/dashboard(#main)?$"))
        self.expect_heading("Dashboard")
        return self

    def nav_paths(self) -> list[str]:
        """Paths of the main navigation, which follows the role."""
        links = self.page.get_by_role("navigation", name="Main").get_by_role("link")
        return [str(href) for href in (a.get_attribute("href") for a in links.all()) if href]


class MembershipPages(BasePage):
    """The Secretariat's membership administration: invitations and users."""

    def open_from_nav(self) -> MembershipPages:
        main_nav = self.page.get_by_role("navigation", name="Main")
        main_nav.get_by_role("link", name="Membership").click()
        self.expect_heading("Membership")
        return self

    def section(self, name: str) -> MembershipPages:
        self.page.get_by_role("navigation", name="Membership administration").get_by_role(
            "link", name=name).click()
        self.page.wait_for_load_state()
        self.expect_heading(name)
        return self

    def invite(self, email: str, full_name: str, party_code: str, role_label: str) -> None:
        """On the Invitations page (also after a refused attempt, whose form is shown again)."""
        form = self.page.locator("form.stacked", has=self.page.get_by_label("E-mail address"))
        form.get_by_label("E-mail address").fill(email)
        form.get_by_label("Full name").fill(full_name)
        party = form.get_by_label("State or organisation")
        # Options read "CODE · Name"; pick by the code a person would look for.
        value = party.locator("option", has_text=f"{party_code} · ").first.get_attribute("value")
        party.select_option(value=value)
        form.get_by_label("Role").select_option(label=role_label)
        form.get_by_role("button", name="Send the invitation").click()

    def open_user(self, full_name: str) -> None:
        self.section("Users")
        self.page.get_by_role("table").get_by_role("link", name=full_name, exact=True).click()
        self.expect_heading(full_name)

    def set_status(self, action_label: str, reason: str) -> None:
        self.page.get_by_label("Action").select_option(label=action_label)
        self.page.get_by_label("Reason").fill(reason)
        self.page.get_by_role("button", name="Apply").click()


class Navigator:
    """Multi-page journeys (after SecureDrop's functional-test navigators)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.login = LoginPage(page)
        self.second_factor = SecondFactorPage(page)
        self.dashboard = DashboardPage(page)

    def sign_in(self, email: str, password: str, code: str) -> DashboardPage:
        self.login.open().submit(email, password)
        self.second_factor.expect_open().submit_totp(code)
        return self.dashboard.expect_open()

    def enrol_newcomer(self, link: str, password: str, *, code_for: object) -> list[str]:
        """Invitation link -> password -> authenticator -> recovery codes; returns the codes.
        `code_for(secret)` plays the phone: it turns the key on the page into a code."""
        InvitationPage(self.page).open(link).accept(password)
        enrol = EnrolTotpPage(self.page).expect_open()
        enrol.confirm(code_for(enrol.secret()))  # type: ignore[operator]
        recovery = RecoveryCodesPage(self.page).expect_open()
        return recovery.codes()
