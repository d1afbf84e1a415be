"""A travel report as people send and receive it, in real Chromium contexts (one per person):
the Netherlands' member, a Court user (Office of the Prosecutor), Senegal's focal point
(designated Bureau focal point) and Senegal's member (not designated) each set up encryption;
NL reports confirmed travel on "Report travel"; the browser encrypts it into a thread whose
members are NL, the Court and the focal point -- not Senegal's other user; the Court user gets
the content-free alert mail, opens the link, sees the decrypted report (its first reading is
recorded), acknowledges receipt and records the outcome; the focal point reads it under the
real CSP; NL's page then shows the acknowledgement and who read the report when.

The reporter's and the Court's pages are checked with axe-core (WCAG 2.1 AA); the focal point's
run under the enforced CSP with the CSP monitor."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.membership.models import RegionalGroup
from cooperation.permissions import Role
from tests.browser.checks import PageMonitor, assert_accessible
from tests.browser.conftest import Account, Accounts, LiveServer
from tests.browser.pages import Navigator
from tests.browser.test_threads_browser import _enrol

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PERSONS = "Jane Fugitive-Example"
ITINERARY = "From Khartoum to Amsterdam, via Cairo"
DATES = "Arrival 14 March, 09:40 CET"
FLIGHT = "Flight XY 123"


def _signed_in(new_context, accounts: Accounts, account: Account, **options: Any) -> Page:  # type: ignore[no-untyped-def]
    page = new_context(**options).new_page()
    Navigator(page).sign_in(account.email, account.password, accounts.totp_code(account))
    return page


def _designate(accounts: Accounts, account: Account) -> None:
    from cooperation_noncooperation.models import FocalPointDesignation

    def work() -> None:
        db.session.add(FocalPointDesignation(user_id=account.id, regional_group=RegionalGroup.AFRICAN,
                                             designated_at=utcnow()))

    accounts.run(work)


def test_a_state_reports_travel_and_the_court_acknowledges(new_context, accounts: Accounts, mailbox,
                                                            live_server: LiveServer) -> None:
    reporter = accounts.create("NLD", Role.STATE_MEMBER, "member@nl.example.org", full_name="Noor de Vries")
    court = accounts.create("ICC-OTP", Role.COURT_MEMBER, "court@otp.example.org", full_name="Olga Prosecutor")
    focal = accounts.create("SEN", Role.STATE_FOCAL_POINT, "focal@sn.example.org", full_name="Awa Diop")
    other = accounts.create("SEN", Role.STATE_MEMBER, "member@sn.example.org", full_name="Moussa Sarr")
    _designate(accounts, focal)

    # Everyone sets up encryption first (the report can only reach people with keys).
    court_page = _signed_in(new_context, accounts, court, bypass_csp=True)  # bypass only to inject axe-core
    _enrol(court_page)
    focal_context = new_context()
    monitor = PageMonitor(origin=live_server.url).attach(focal_context)
    focal_page = focal_context.new_page()
    Navigator(focal_page).sign_in(focal.email, focal.password, accounts.totp_code(focal))
    _enrol(focal_page)
    _enrol(_signed_in(new_context, accounts, other))
    nl = _signed_in(new_context, accounts, reporter, bypass_csp=True)
    _enrol(nl)

    # The reporter fills in "Report travel"; a missing field is refused in the page first.
    nl.get_by_role("link", name="Travel reports").click()
    expect(nl.get_by_role("heading", level=1)).to_have_text("Travel reports")
    nl.get_by_role("link", name="Report travel").click()
    expect(nl.get_by_role("heading", level=1)).to_have_text("Report travel")
    expect(nl.get_by_text("The Court (Registry and Office of the Prosecutor): 1 person can read it.")).to_be_visible()
    expect(nl.get_by_text("1 Bureau focal point on non-cooperation.")).to_be_visible()
    send = nl.get_by_role("button", name="Encrypt and send the report")
    expect(send).to_be_enabled()
    assert_accessible(nl)
    nl.get_by_label("Potential or confirmed travel").select_option("confirmed")
    send.click()
    expect(nl.locator("#threads-error")).to_contain_text("Fill in: Person or persons subject to an arrest warrant.")
    expect(nl.get_by_label("Person or persons subject to an arrest warrant")).to_be_focused()
    nl.get_by_label("Person or persons subject to an arrest warrant").fill(PERSONS)
    nl.get_by_label("Arrest warrant or case reference (optional)").fill("ICC-00/00-01/00")
    nl.get_by_label("Itinerary: from, to, via").fill(ITINERARY)
    nl.get_by_label("Dates and times, with the time zone").fill(DATES)
    nl.get_by_label("Means of travel (optional)").fill(FLIGHT)
    nl.get_by_label("Handling code").select_option("court-only")
    mailbox.clear()
    send.click()
    nl.wait_for_url(re.compile(r"/travel/reports/\d+$"))
    path = nl.url.removeprefix(live_server.url)
    expect(nl.locator("#report-title")).to_have_text(f"Confirmed travel: {PERSONS}")
    expect(nl.locator("#report-text")).to_contain_text(f"Itinerary: {ITINERARY}")
    expect(nl.locator("#report-content .handling-label")).to_have_text("For the Court only")
    expect(nl.locator("#acknowledgement")).to_contain_text("Awaiting acknowledgement by the Court")
    assert_accessible(nl)

    # The server got ciphertext and the routing record only; the thread's members are NL, the
    # Court and the designated focal point -- not Senegal's other user.
    def stored() -> dict[str, Any]:
        from cooperation.threads.models import Message, Thread, ThreadMember
        from cooperation_travel.models import Report

        report = db.session.scalars(select(Report)).one()
        members = set(db.session.scalars(select(ThreadMember.user_id).where(ThreadMember.thread_id == report.thread_id)))
        envelopes = [m.envelope for m in db.session.scalars(select(Message).where(Message.thread_id == report.thread_id))]
        meta = db.session.get(Thread, report.thread_id).meta
        return {"id": report.id, "thread": report.thread_id, "members": members, "envelopes": envelopes, "meta": meta,
                "recipients": {r.user_id: r.kind.value for r in report.recipients}}

    saved = accounts.run(stored)
    assert path == f"/travel/reports/{saved['id']}"
    assert saved["members"] == {reporter.id, court.id, focal.id}
    assert saved["recipients"] == {court.id: "court", focal.id: "focal_point"}
    assert len(saved["envelopes"]) == 1
    for blob in [*saved["envelopes"], saved["meta"]]:
        for secret in (PERSONS, ITINERARY, FLIGHT, "Confirmed"):
            assert secret.encode() not in blob

    # The Court user is alerted by a mail without content, follows its link and reads the report.
    alert = mailbox.wait_for(court.email)
    body = mailbox.body(alert)
    assert PERSONS not in body and "Netherlands" not in body and saved["thread"] not in body
    link = re.search(r"http://\S+/travel/reports/\d+", body)
    assert link is not None and link.group(0).endswith(path)
    mailbox.wait_for(focal.email)
    court_page.goto(path)
    expect(court_page.locator("#report-text")).to_contain_text(f"Persons: {PERSONS}")
    expect(court_page.locator("#report-text")).to_contain_text(f"Means of travel: {FLIGHT}")
    expect(court_page.locator("#report-content .sender")).to_have_text("Sent by Noor de Vries")
    mine = court_page.locator(f'#recipients tr[data-user-id="{court.id}"] .first-read')
    expect(mine).not_to_have_text("Not yet")
    expect(court_page.locator("#threads-status")).to_have_text(re.compile("Your reading was recorded"))
    assert_accessible(court_page)
    court_page.get_by_role("button", name="Acknowledge receipt").click()
    expect(court_page.get_by_role("status").filter(has_text="Receipt acknowledged")).to_be_visible()
    expect(court_page.locator("#acknowledgement")).to_contain_text("Acknowledged by the Court")
    expect(court_page.locator("#acknowledgement")).to_contain_text("Olga Prosecutor")
    assert PERSONS not in mailbox.body(mailbox.wait_for(reporter.email))
    court_page.get_by_label("Outcome").select_option(label="Travelled without being arrested")
    court_page.get_by_role("button", name="Record the outcome").click()
    expect(court_page.locator("#report-outcome")).to_contain_text("Travelled without being arrested")
    assert_accessible(court_page)

    # The focal point reads it too, under the real CSP.
    focal_page.goto(path)
    expect(focal_page.locator("#report-text")).to_contain_text(f"Dates and times: {DATES}")
    expect(focal_page.locator(f'#recipients tr[data-user-id="{focal.id}"] .first-read')).not_to_have_text("Not yet")
    assert monitor.problems_on(focal_page) == []

    # The reporter sees the acknowledgement and who read the report, and when.
    nl.reload()
    expect(nl.locator("#acknowledgement")).to_contain_text("Acknowledged by the Court")
    for account in (court, focal):
        row = nl.locator(f'#recipients tr[data-user-id="{account.id}"]')
        expect(row).to_contain_text(account.full_name)
        expect(row.locator(".first-read time")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$"))
    nl.get_by_role("link", name="All travel reports").click()
    expect(nl.locator("#travel-reports tbody tr")).to_contain_text("2 of 2 recipients")
    assert_accessible(nl)
