"""Security keys in a real browser: Chromium's virtual authenticator (DevTools protocol) plays
the key, so navigator.credentials.create()/get(), static/js/webauthn.js and the server's
verification run exactly as for a person with a YubiKey or a passkey.

WebAuthn refuses an IP address as relying-party id, so these pages are opened at
http://localhost:<port> (LiveServer.localhost_url), a secure context even over plain HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, CDPSession, Locator, Page, expect
from sqlalchemy import select

from cooperation.audit.models import AuditEvent
from cooperation.extensions import db
from cooperation.security.models import LoginFailure, WebAuthnCredential
from tests.browser.checks import PageMonitor
from tests.browser.conftest import Account, Accounts, LiveServer
from tests.browser.pages import BasePage, DashboardPage, LoginPage, Navigator, SecondFactorPage

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

KEY_NAME = "Blue YubiKey"


class SecurityPage(BasePage):
    """Sign-in security: the registration form of a new security key."""

    PATH = "/account/security"

    def expect_open(self) -> SecurityPage:
        expect(self.page).to_have_url(re.compile(r"/account/security(#main)?$"))
        self.expect_heading("Sign-in security")
        return self

    @property
    def form(self) -> Locator:
        return self.page.locator("form#webauthn-register")

    @property
    def status(self) -> Locator:
        return self.form.get_by_role("status")

    @property
    def keys_table(self) -> Locator:
        return self.page.get_by_role("table")

    def register_key(self, name: str, password: str) -> None:
        self.form.get_by_label("Name for the new key").fill(name)
        self.form.get_by_label("Current password").fill(password)
        self.form.get_by_role("button", name="Register a security key or passkey").click()


class VirtualAuthenticator:
    """A CTAP2 key with a fingerprint reader (user verification) attached to one page."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.cdp: CDPSession = context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        answer = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "usb", "hasResidentKey": True,
            "hasUserVerification": True, "isUserVerified": True,
            "automaticPresenceSimulation": True}})
        self.id = answer["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        return list(self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"])


def _browser_with_key(new_context: Callable[..., Any], server: LiveServer) -> tuple[Page, VirtualAuthenticator,
                                                                                 PageMonitor]:
    context = new_context(base_url=server.localhost_url)
    monitor = PageMonitor(origin=server.localhost_url).attach(context)
    page = context.new_page()
    return page, VirtualAuthenticator(context, page), monitor


def _stored_keys(accounts: Accounts, account: Account) -> list[tuple[str, int, bool]]:
    def read() -> list[tuple[str, int, bool]]:
        rows = db.session.scalars(select(WebAuthnCredential).where(WebAuthnCredential.user_id == account.id))
        return [(k.name, k.sign_count, k.last_used_at is not None) for k in rows]

    return accounts.run(read)  # type: ignore[return-value]


def _key_logins(accounts: Accounts, account: Account) -> int:
    def read() -> int:
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "auth.login", AuditEvent.outcome == "success",
            AuditEvent.actor_id == account.id))
        return sum('"mfa":"webauthn"' in (e.details or "") for e in events)

    return accounts.run(read)  # type: ignore[return-value]


def _failures(accounts: Accounts) -> int:
    return len(accounts.run(lambda: list(db.session.scalars(select(LoginFailure)))))  # type: ignore[arg-type]


def _sign_in_with_key(page: Page, account: Account) -> SecondFactorPage:
    LoginPage(page).open().submit(account.email, account.password)
    second = SecondFactorPage(page).expect_open()
    page.get_by_role("button", name="Use my security key").click()
    return second


def test_member_registers_a_key_then_signs_in_with_it(new_context, live_server, accounts):
    member = accounts.for_role("member_nl")
    page, authenticator, monitor = _browser_with_key(new_context, live_server)
    Navigator(page).sign_in(member.email, member.password, accounts.totp_code(member))
    page.goto(SecurityPage.PATH)
    security = SecurityPage(page).expect_open()
    expect(security.keys_table).to_contain_text("No security key registered yet.")

    # A wrong password: refused before the key is asked, said so, counted.
    security.register_key(KEY_NAME, "not my password")
    expect(security.status).to_have_text("Your current password is not correct.")
    assert authenticator.credentials() == [] and _stored_keys(accounts, member) == []
    assert _failures(accounts) == 1

    security.register_key(KEY_NAME, member.password)
    security.expect_open()
    expect(page.get_by_text(f"The security key “{KEY_NAME}” was registered.")).to_be_visible()
    expect(security.keys_table.get_by_role("cell", name=KEY_NAME, exact=True)).to_be_visible()
    [on_key] = authenticator.credentials()
    assert on_key["rpId"] == "localhost" and on_key["isResidentCredential"] is True
    assert _stored_keys(accounts, member) == [(KEY_NAME, on_key["signCount"], False)]

    BasePage(page).sign_out()
    _sign_in_with_key(page, member)
    DashboardPage(page).expect_open()
    [(name, sign_count, used)] = _stored_keys(accounts, member)
    assert name == KEY_NAME and used and sign_count == authenticator.credentials()[0]["signCount"] > 0
    assert _key_logins(accounts, member) == 1
    assert monitor.page_errors == [] and monitor.console_violations == []


def test_administrator_must_register_a_key_and_then_use_it(new_context, admin_key_server,
                                                           admin_key_accounts):
    accounts = admin_key_accounts
    admin = accounts.for_role("admin")
    page, authenticator, monitor = _browser_with_key(new_context, admin_key_server)
    LoginPage(page).open().submit(admin.email, admin.password)
    SecondFactorPage(page).expect_open().submit_totp(accounts.totp_code(admin))

    # Held on the security page until a key is registered, wherever they try to go.
    security = SecurityPage(page).expect_open()
    notice = "As an administrator you must register a security key or passkey before you can continue."
    expect(page.get_by_text(notice)).to_be_visible()
    page.goto(DashboardPage.PATH)
    security.expect_open()
    expect(page.get_by_text("Administrators must register a security key before continuing.")).to_be_visible()

    security.register_key("Admin key", admin.password)
    security.expect_open()
    expect(security.keys_table.get_by_role("cell", name="Admin key", exact=True)).to_be_visible()
    expect(page.get_by_text(notice)).to_have_count(0)
    assert len(authenticator.credentials()) == 1
    page.goto(DashboardPage.PATH)
    DashboardPage(page).expect_open()

    # Next sign-in: the key only, no authenticator-app form.
    BasePage(page).sign_out()
    LoginPage(page).open().submit(admin.email, admin.password)
    second = SecondFactorPage(page).expect_open()
    expect(second.code).to_have_count(0)
    expect(page.get_by_role("button", name="Verify")).to_have_count(0)
    page.get_by_role("button", name="Use my security key").click()
    DashboardPage(page).expect_open()
    assert _key_logins(accounts, admin) == 1
    assert monitor.page_errors == [] and monitor.console_violations == []


def test_without_javascript_registration_says_so_and_puts_nothing_in_the_url(new_context, live_server,
                                                                            accounts):
    member = accounts.for_role("member_nl")
    signed_in = new_context().new_page()
    Navigator(signed_in).sign_in(member.email, member.password, accounts.totp_code(member))
    # Same cookies, scripts off: what a person with JavaScript disabled gets.
    context = new_context(java_script_enabled=False, storage_state=signed_in.context.storage_state())
    page = context.new_page()
    page.goto(SecurityPage.PATH)
    security = SecurityPage(page).expect_open()
    # (The <noscript> notice is not asserted: Chromium's script emulation keeps the parser's
    # scripting flag on, so it is not rendered here; the functional tests check it is there.)
    security.register_key(KEY_NAME, member.password)
    expect(page).to_have_url(f"{live_server.url}/webauthn/register")  # no query string
    expect(security.alert.first).to_contain_text("JavaScript is required to register a security key")
    assert _stored_keys(accounts, member) == [] and _failures(accounts) == 0
