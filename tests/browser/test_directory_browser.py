"""The Court's urgent channel in the directory of contact points, as people enter and find it in
real Chromium: the Registry editor opens Contact points, goes to the Registry's page, is told
what is missing in the form, enters the Court's urgent (after-hours) channel for arrest and
surrender and confirms the Registry's entries; a State's member then finds it through the "State
or organ of the Court" filter and the "The Court" group. The editor's pages are checked with
axe-core (WCAG 2.1 AA); the member's run under the enforced CSP with the CSP monitor."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.checks import PageMonitor, assert_accessible
from tests.browser.conftest import Accounts, LiveServer
from tests.browser.pages import Navigator

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

AUTHORITY = "Registry and Office of the Prosecutor, joint channel for travel information"
URGENT = "travel-duty@icc-cpi.example.org"


def test_the_registry_enters_the_courts_urgent_channel_and_a_state_finds_it(
        new_context, accounts: Accounts, live_server: LiveServer) -> None:
    editor = accounts.for_role("editor")
    page = new_context(bypass_csp=True).new_page()  # bypass only to inject axe-core
    Navigator(page).sign_in(editor.email, editor.password, accounts.totp_code(editor))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contact points").click()
    page.get_by_role("link", name="Contact points of International Criminal Court — Registry").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Contact points of International Criminal Court — Registry")
    expect(page.get_by_text("The Court", exact=True)).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Add a contact point").click()
    expect(page.get_by_text("Organ of the Court: International Criminal Court — Registry")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".error-summary")).to_contain_text("Enter the name of the authority or office.")
    assert_accessible(page)

    page.get_by_label("Topic").select_option(label="Arrest and surrender")
    page.get_by_label("Authority or office").fill(AUTHORITY)
    page.get_by_label("E-mail address", exact=True).fill("travel@icc-cpi.example.org")
    page.get_by_label("Working languages").fill("English, French")
    page.get_by_label("Urgent e-mail address (after hours)").fill(URGENT)
    page.get_by_label("When the urgent channel is staffed").fill("24/7")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The contact point was added.")).to_be_visible()
    arrest = page.get_by_role("region", name="Arrest and surrender")
    expect(arrest.get_by_role("link", name=URGENT)).to_be_visible()
    assert_accessible(page)

    page.get_by_label("I confirm these entries are current").check()
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_text("Thank you: 1 entry is confirmed as current.")).to_be_visible()

    # A State's member finds it, under the application's real CSP.
    member = accounts.for_role("member_nl")
    context = new_context()
    monitor = PageMonitor(origin=live_server.url).attach(context)
    reader = context.new_page()
    Navigator(reader).sign_in(member.email, member.password, accounts.totp_code(member))
    reader.get_by_role("navigation", name="Main").get_by_role("link", name="Contact points").click()
    reader.get_by_label("State or organ of the Court").select_option(label="International Criminal Court — Registry")
    reader.get_by_role("button", name="Search").click()
    table = reader.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(2)  # the header and the Court's entry
    expect(table.get_by_role("rowheader", name="International Criminal Court — Registry")).to_be_visible()
    expect(table.get_by_role("link", name=URGENT)).to_be_visible()
    assert monitor.problems_on(reader) == []

    reader.get_by_label("State or organ of the Court").select_option("")
    reader.get_by_label("Regional group").select_option(label="The Court")
    reader.get_by_role("button", name="Search").click()
    expect(table.get_by_text(AUTHORITY)).to_be_visible()
    reader.get_by_role("rowheader", name="International Criminal Court — Registry").get_by_role("link").click()
    expect(reader.get_by_role("heading", level=1)).to_have_text(
        "Contact points of International Criminal Court — Registry")
    expect(reader.get_by_role("link", name="Add a contact point")).to_have_count(0)
    assert monitor.problems_on(reader) == []
