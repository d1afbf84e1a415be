"""Keyboard-only sign-in (WCAG 2.1.1, 2.4.1) and the language switch (WCAG 3.1.1)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import DashboardPage, LoginPage

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _focused(page: Page) -> dict[str, str]:
    return page.evaluate("""() => {
        const el = document.activeElement;
        return {tag: el.tagName.toLowerCase(), id: el.id || '', cls: el.className || '',
                href: el.getAttribute('href') || '', text: (el.textContent || '').trim()};
    }""")


def _skip_to_main(page: Page) -> None:
    """From a fresh page: the first Tab reaches the skip link, Enter moves focus to <main>."""
    page.keyboard.press("Tab")
    first = _focused(page)
    assert first["cls"] == "skip-link" and first["href"] == "#main", first
    assert first["text"] == "Skip to main content"
    page.keyboard.press("Enter")
    assert _focused(page)["id"] == "main"


def test_skip_link_is_the_first_focusable_element_and_visible_on_focus(page: Page):
    LoginPage(page).open()
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    # Visually hidden until focused, then shown (WCAG 2.4.7): it must have a real box on screen.
    box = skip.bounding_box()
    assert box is not None and box["width"] > 1 and box["height"] > 1, box
    assert box["x"] >= 0 and box["y"] >= 0, box


def test_sign_in_with_the_keyboard_only(page: Page, accounts):
    member = accounts.for_role("member_nl")
    LoginPage(page).open()
    _skip_to_main(page)

    page.keyboard.press("Tab")
    assert _focused(page)["id"] == "email"
    page.keyboard.type(member.email)
    page.keyboard.press("Tab")
    assert _focused(page)["id"] == "password"
    page.keyboard.type(member.password)
    page.keyboard.press("Enter")  # implicit submission, as a keyboard user does

    expect(page).to_have_url(re.compile(r"/login/verify(#main)?$"))
    # The skip link's #main may follow the redirect, which moves the focus start into <main>:
    # either way a few Tabs reach the code field.
    _tab_to(page, "totp-code")
    page.keyboard.type(accounts.totp_code(member))
    page.keyboard.press("Enter")

    DashboardPage(page).expect_open()
    # Signed-in pages keep the skip link first, before the navigation.
    page.goto("/dashboard")
    _skip_to_main(page)


def _tab_to(page: Page, element_id: str, limit: int = 8) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page)["id"] == element_id:
            return
    raise AssertionError(f"#{element_id} not reached with {limit} Tab presses")


def test_keyboard_user_reaches_every_login_control_in_order(page: Page):
    LoginPage(page).open()
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        f = _focused(page)
        order.append(f["id"] or f["cls"] or f["tag"])
    # Skip link, home link, language chooser and its button, then the form in reading order.
    expected = ["skip-link", "a", "lang-select", "button", "email", "password", "button"]
    assert order[:7] == expected, order


def test_switching_to_french_sets_the_page_language(page: Page):
    login = LoginPage(page).open()
    assert page.locator("html").get_attribute("lang") == "en"
    login.choose_language("Français")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    # The choice sticks for the next page of the same browser.
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
