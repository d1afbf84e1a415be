"""axe-core in a real browser: no WCAG 2.0/2.1 A or AA violation on any screen, signed out or
signed in as each role, error states included."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.checks import AXE_JS, VENDOR, AccessibilityViolations, assert_accessible
from tests.browser.conftest import ROLE_ACCOUNTS
from tests.browser.tours import anonymous_tour, role_tour

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "dev" / "js" / "package.json"


class Collector:
    """Checks every page and reports all violations at the end, not only the first page's."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.checked: list[str] = []

    def __call__(self, page: Page, label: str) -> None:
        self.checked.append(label)
        try:
            assert_accessible(page)
        except AccessibilityViolations as exc:
            self.failures.append(f"== {label} ==\n{exc}")

    def assert_clean(self) -> None:
        assert not self.failures, "\n\n".join(self.failures)


@pytest.fixture
def axe_page(new_context) -> Page:  # type: ignore[no-untyped-def]
    # Only axe needs the CSP bypass; every other test runs under the application's real policy.
    return new_context(bypass_csp=True).new_page()


def test_signed_out_and_onboarding_pages_are_accessible(axe_page: Page, accounts):
    check = Collector()
    anonymous_tour(axe_page, accounts, check)
    assert len(check.checked) >= 12, check.checked
    check.assert_clean()


# The account pages are the same template for every role: checked for two roles, which keeps
# the browser suite within its time budget; the CSP tests still walk them for every role.
ACCOUNT_PAGES_FOR = ("admin", "member_nl")


@pytest.mark.parametrize("role_key", list(ROLE_ACCOUNTS))
def test_pages_of_each_role_are_accessible(axe_page: Page, accounts, role_key: str):
    check = Collector()
    visited = role_tour(axe_page, accounts, role_key, check,
                        account_pages=role_key in ACCOUNT_PAGES_FOR)
    if role_key in ACCOUNT_PAGES_FOR:
        assert {"/account", "/account/security", "/account/sessions"} <= set(visited), visited
    if role_key == "admin":
        assert {"/admin/audit/", "/admin/membership"} <= set(visited), visited
    if role_key == "focal_nl":
        assert "/my-state/users" in visited, visited
    assert visited[0] == "/dashboard"
    check.assert_clean()


def test_axe_reports_a_real_violation(axe_page: Page):
    """The check itself can fail: an unlabelled field and an image without text are caught."""
    axe_page.set_content('<!doctype html><html lang="en"><head><title>Broken</title></head>'
                         '<body><main><h1>Form</h1><input type="text"><img src="x.png"></main>'
                         '</body></html>')
    with pytest.raises(AccessibilityViolations) as caught:
        assert_accessible(axe_page)
    assert "label" in str(caught.value) and "image-alt" in str(caught.value)


def test_vendored_axe_is_the_pinned_release():
    """tests/browser/vendor/ is what deploy/dev/vendor-js.sh made from the pinned version."""
    pinned = json.loads(MANIFEST.read_text(encoding="utf-8"))["devDependencies"]["axe-core"]
    head = AXE_JS.read_text(encoding="utf-8")[:200]
    assert f"axe v{pinned}" in head, head
    assert (VENDOR / "axe-core.VERSION").read_text(encoding="utf-8").strip() == pinned
    recorded = (VENDOR / "axe.min.js.sha256").read_text(encoding="utf-8").split()[0]
    assert hashlib.sha256(AXE_JS.read_bytes()).hexdigest() == recorded
