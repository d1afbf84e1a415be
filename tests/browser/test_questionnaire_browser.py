"""A State's response in a real browser: a member drafts (autosave, conditional question, a
network cut that is retried), a colleague continues where the first stopped, the focal point
submits; the Secretariat sees the dashboard and downloads the Excel export, read back here."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete
from playwright.sync_api import Page, expect

from cooperation.extensions import db
from cooperation.permissions import Role
from cooperation.security.models import WebSession
from tests.browser.checks import PageMonitor
from tests.browser.pages import Navigator
from tests.functional.questionnaire_fixtures import build, questions

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _signed_in(new_context, live_server, accounts, account) -> tuple[Page, PageMonitor]:  # type: ignore[no-untyped-def]
    context = new_context(accept_downloads=True)
    monitor = PageMonitor(origin=live_server.url).attach(context)
    page = context.new_page()
    Navigator(page).sign_in(account.email, account.password, accounts.totp_code(account))
    return page, monitor


def _open_questionnaire(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Questionnaires").click()
    page.get_by_role("link", name=re.compile("National procedures")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("National procedures")


def test_state_drafts_together_focal_point_submits_secretariat_exports(new_context, accounts, live_server):
    ids = accounts.run(lambda: {code: q.id for code, q in questions(build(live_server.app, codes=("NLD", "SEN"))).items()})
    member = accounts.for_role("member_nl")
    colleague = accounts.create("NLD", Role.STATE_MEMBER, "colleague@nl.example.org", full_name="Collega Twee")
    focal = accounts.for_role("focal_nl")
    admin = accounts.for_role("admin")
    status = "#autosave-status"

    # 1. A member drafts: each answer is saved as it is typed or chosen.
    page, monitor = _signed_in(new_context, live_server, accounts, member)
    _open_questionnaire(page)
    page.locator(f"#q{ids['Q1']}").fill("Ministry of Justice and Security")
    expect(page.locator(status)).to_have_text("Saved")
    conditional = page.locator(f"#q-{ids['Q10']}")
    expect(conditional).to_be_hidden()
    page.locator(f"#q-{ids['Q3']}").get_by_label("Yes", exact=True).check()
    expect(conditional).to_be_visible()  # shown only when Q3 is "yes"
    expect(page.locator(status)).to_have_text("Saved")
    page.locator(f"#q{ids['Q6']}").fill("many")
    expect(page.locator(f"#q{ids['Q6']}-error")).to_have_text("Enter a number, for example 12 or 3.5.")
    page.locator(f"#q{ids['Q6']}").fill("45")
    expect(page.locator(status)).to_have_text("Saved")
    expect(page.locator(f"#q{ids['Q6']}-error")).to_have_text("")

    # The network drops while typing: nothing is lost, the answer is sent once it is back.
    page.context.set_offline(True)
    page.locator(f"#q{ids['Q2']}").fill("Requests go through the central authority.")
    expect(page.locator(status)).to_have_text("Not saved — retrying")
    stored = page.evaluate("() => JSON.stringify(sessionStorage)")
    assert "Requests go through the central authority." in stored
    page.context.set_offline(False)
    expect(page.locator(status)).to_have_text("Saved", timeout=20_000)
    assert monitor.problems_on(page) == [] or all("net::" in p or "Failed to fetch" in p
                                                  for p in monitor.problems_on(page))

    # The session ends while typing (idle timeout, or signed out elsewhere): the answer is
    # kept in the browser and sent once the member has signed in again.
    member_id = member.id
    accounts.run(lambda: db.session.execute(delete(WebSession).where(WebSession.user_id == member_id)))
    page.locator(f"#q{ids['Q2']}").fill("Asset tracing requests go to the financial intelligence unit.")
    expect(page.locator(status)).to_contain_text("your session has ended")
    assert "financial intelligence unit" in page.evaluate("() => JSON.stringify(sessionStorage)")
    page.goto(live_server.url + "/login")
    Navigator(page).sign_in(member.email, member.password, accounts.totp_code(member))
    _open_questionnaire(page)
    expect(page.locator(status)).to_have_text("Saved", timeout=20_000)
    expect(page.locator(f"#q{ids['Q2']}")).to_have_value(
        "Asset tracing requests go to the financial intelligence unit.")
    page.evaluate("() => sessionStorage.clear()")  # what shows next comes from the server
    page.reload()
    expect(page.locator(f"#q{ids['Q2']}")).to_have_value(
        "Asset tracing requests go to the financial intelligence unit.")
    page.context.close()

    # 2. A colleague continues where the member stopped.
    page, _ = _signed_in(new_context, live_server, accounts, colleague)
    _open_questionnaire(page)
    expect(page.locator(f"#q{ids['Q1']}")).to_have_value("Ministry of Justice and Security")
    expect(page.locator(f"#q{ids['Q2']}")).to_have_value(
        "Asset tracing requests go to the financial intelligence unit.")
    page.locator(f"#q{ids['Q10']}").fill("International Crimes Act")
    expect(page.locator(status)).to_have_text("Saved")
    expect(page.get_by_role("button", name="Submit the response")).to_have_count(0)  # members do not submit
    page.context.close()

    # 3. The focal point submits.
    page, _ = _signed_in(new_context, live_server, accounts, focal)
    _open_questionnaire(page)
    expect(page.locator(f"#q{ids['Q10']}")).to_have_value("International Crimes Act")
    page.get_by_role("button", name="Submit the response").click()
    expect(page.get_by_role("status").filter(has_text="was submitted")).to_be_visible()
    expect(page.locator("#response-status")).to_contain_text("Submitted")
    page.context.close()

    # 4. The Secretariat reads the dashboard and downloads the Excel export.
    page, monitor = _signed_in(new_context, live_server, accounts, admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Questionnaires").click()
    page.get_by_role("link", name="Analysis").first.click()
    expect(page.locator("#response-rate")).to_contain_text("1 of 2 States have submitted")
    expect(page.locator(f"#chart-{ids['Q3']}")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export (Excel)").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as handle:
        book = load_workbook(io.BytesIO(handle.read()))
    rows = list(book["Answers"].iter_rows(values_only=True))
    header, by_state = rows[0], {r[0]: r for r in rows[1:]}
    nld = dict(zip(header, by_state["NLD"], strict=True))
    assert nld["status"] == "submitted" and nld["revision"] == "1"
    assert nld["Q1"] == "Ministry of Justice and Security" and nld["Q3"] == "yes"
    assert nld["Q6"] == "45" and nld["Q10"] == "International Crimes Act"
    assert by_state["SEN"][3] == "not_started"
    assert [r[0] for r in book["Codebook"].iter_rows(values_only=True)][1:4] == ["Q1", "Q2", "Q3"]
    assert monitor.problems_on(page) == []


def test_answer_form_and_dashboard_pass_axe(new_context, accounts, live_server):
    from tests.browser.checks import assert_accessible

    ids = accounts.run(lambda: {c: q.id for c, q in questions(build(live_server.app, codes=("NLD",))).items()})
    focal = accounts.for_role("focal_nl")
    context = new_context(bypass_csp=True)  # only to inject axe-core
    page = context.new_page()
    Navigator(page).sign_in(focal.email, focal.password, accounts.totp_code(focal))
    _open_questionnaire(page)
    page.locator(f"#q{ids['Q6']}").fill("many")
    expect(page.locator(f"#q{ids['Q6']}-error")).not_to_be_empty()
    assert_accessible(page)
    page.get_by_role("button", name="Submit the response").click()  # refused: required answers missing
    expect(page.locator(".missing-list")).to_contain_text("Q1")
    assert_accessible(page)
