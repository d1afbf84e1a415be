"""The Content-Security-Policy holds in a real browser: on every screen, no violation is
reported, no script error is thrown, and there is no inline code the policy would have had to
stop (no <script> without src, no style= or <style>, no on*= handler)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.checks import PageMonitor
from tests.browser.conftest import ROLE_ACCOUNTS
from tests.browser.tours import anonymous_tour, role_tour

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


class CspCheck:
    def __init__(self, monitor: PageMonitor) -> None:
        self.monitor = monitor
        self.failures: list[str] = []
        self.checked: list[str] = []

    def __call__(self, page: Page, label: str) -> None:
        self.checked.append(label)
        problems = self.monitor.problems_on(page)
        if problems:
            self.failures.append(f"== {label} ({page.url}) ==\n  " + "\n  ".join(problems))
        self.monitor.reset()

    def assert_clean(self) -> None:
        assert self.monitor.documents_without_csp == [], self.monitor.documents_without_csp
        assert not self.failures, "\n".join(self.failures)


@pytest.fixture
def monitored(new_context, live_server) -> tuple[Page, CspCheck]:  # type: ignore[no-untyped-def]
    context = new_context()
    monitor = PageMonitor(origin=live_server.url).attach(context)
    return context.new_page(), CspCheck(monitor)


def test_signed_out_and_onboarding_pages_respect_the_csp(monitored, accounts):
    page, check = monitored
    anonymous_tour(page, accounts, check)
    assert len(check.checked) >= 12, check.checked
    check.assert_clean()


@pytest.mark.parametrize("role_key", list(ROLE_ACCOUNTS))
def test_pages_of_each_role_respect_the_csp(monitored, accounts, role_key: str):
    page, check = monitored
    role_tour(page, accounts, role_key, check)
    check.assert_clean()


def test_the_monitor_catches_inline_code(monitored, live_server):
    """The check itself can fail: a login page altered to carry inline code is reported, and
    the real policy (not the monitor) is what stopped the script."""
    page, check = monitored

    def tamper(route) -> None:  # type: ignore[no-untyped-def]
        response = route.fetch()
        body = response.text().replace(
            "</main>", '<script>document.title = "pwned"</script><p style="color:red">x</p>'
                       '<button onclick="document.title = 1">y</button></main>')
        route.fulfill(response=response, body=body)

    page.route(live_server.url + "/login", tamper)
    page.goto("/login")
    problems = check.monitor.problems_on(page)
    assert page.title() != "pwned", "the CSP did not block the inline script"
    text = "\n".join(problems)
    assert "securitypolicyviolation: script-src-elem" in text, text
    assert "console:" in text and "inline <script>" in text and "style= attribute" in text, text
    assert "1 inline event handler" in text, text
