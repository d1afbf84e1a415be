"""The non-cooperation and agreements pages beyond the navigation (which the role tours already
check): case file, step, interaction, summary, focal points, sessions, public summary, agreement
and its forms -- axe-core (WCAG 2.1 AA) on each, error states included, then the same pages under
the application's real CSP with no violation or console error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from cooperation.audit.service import Actor
from cooperation.db import utcnow
from cooperation.extensions import db
from tests.browser.checks import PageMonitor, assert_accessible
from tests.browser.pages import Navigator

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _seed(admin_id: int, focal_id: int) -> dict[str, int]:
    from cooperation.accounts.models import User
    from cooperation.membership.models import Party, RegionalGroup
    from cooperation_agreements.models import Agreement, AgreementFile, AgreementKind, AgreementStatus
    from cooperation_noncooperation import services
    from cooperation_noncooperation.deadlines import Scenario, StepKind
    from cooperation_noncooperation.models import AssemblySession, FocalPointDesignation, Interaction

    today = utcnow().date()
    parties = {p.code: p for p in db.session.query(Party).filter(Party.code.in_(("SEN", "NLD", "NOR")))}
    admin = db.session.get(User, admin_id)
    data = services.CaseData(requested_party_id=parties["SEN"].id, scenario=Scenario.REFERRAL,
                             situation="Darfur, Sudan (ICC-02/05)", decision_reference="ICC-02/05-01/09",
                             decision_date=today - timedelta(days=20))
    case = services.open_case(db.session, data, admin, Actor.system("browser-tests"), today)
    letter = next(s for s in case.steps if s.kind == StepKind.OPEN_LETTER)
    letter.completed_on = today - timedelta(days=18)
    db.session.add(Interaction(case_id=case.id, occurred_on=today - timedelta(days=19),
                               conducted_by="president", counterpart="Minister of Foreign Affairs",
                               summary="Recalled the obligation to cooperate."))
    released = services.open_case(db.session, services.CaseData(
        requested_party_id=parties["NLD"].id, scenario=Scenario.URGENT, situation="Public matter",
        urgent_information="Expected travel."), admin, Actor.system("browser-tests"), today)
    released.public_summary = "A public account.\n\nA second paragraph."
    released.released_at = utcnow()
    db.session.add(AssemblySession(label="Next session", opens_on=today + timedelta(days=150),
                                   closes_on=today + timedelta(days=156), place="The Hague"))
    db.session.add(FocalPointDesignation(user_id=focal_id, regional_group=RegionalGroup.WEOG))
    agreement = Agreement(party_id=parties["NOR"].id, kind=AgreementKind.ENFORCEMENT_OF_SENTENCES,
                          status=AgreementStatus.IN_FORCE, in_force_on=today.replace(year=2016, month=8, day=1),
                          confidential=False, title="Enforcement of sentences")
    agreement.files = [AgreementFile(title="Published text", url="https://www.icc-cpi.int/agreement")]
    db.session.add(agreement)
    db.session.flush()
    return {"case": case.id, "letter": letter.id, "interaction": case.interactions[0].id,
            "released": released.id, "agreement": agreement.id}


def _pages(ids: dict[str, int]) -> dict[str, list[str]]:
    case = f"/noncooperation/cases/{ids['case']}"
    return {
        "admin": [case, f"{case}/steps/{ids['letter']}", f"{case}/summary", f"{case}/edit",
                  f"{case}/interactions/new", f"{case}/interactions/{ids['interaction']}",
                  "/noncooperation/cases/new", "/noncooperation/focal-points", "/noncooperation/sessions"],
        "focal_nl": ["/noncooperation/", case, f"{case}/interactions/new"],
        "member_nl": ["/noncooperation/", f"/noncooperation/cases/{ids['released']}",
                      f"/agreements/{ids['agreement']}"],
        "editor": ["/agreements/", f"/agreements/{ids['agreement']}", "/agreements/new",
                   f"/agreements/{ids['agreement']}/edit", f"/agreements/{ids['agreement']}/delete"],
    }


def _sign_in(context, accounts, account) -> Page:  # type: ignore[no-untyped-def]
    page = context.new_page()
    Navigator(page).sign_in(account.email, account.password, accounts.totp_code(account))
    return page


def _setup(accounts):  # type: ignore[no-untyped-def]
    """The objects' ids, and one account per role of _pages (each made once)."""
    people = {key: accounts.for_role(key) for key in ("admin", "focal_nl", "member_nl", "editor")}
    ids = accounts.run(lambda: _seed(people["admin"].id, people["focal_nl"].id))
    return ids, people


def test_plugin_pages_and_their_error_states_pass_axe(new_context, accounts):
    ids, people = _setup(accounts)
    failures = []
    for key, paths in _pages(ids).items():
        page = _sign_in(new_context(bypass_csp=True), accounts, people[key])  # only to inject axe-core
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.ok, (key, path, response.status if response else None)
            try:
                assert_accessible(page)
            except AssertionError as exc:
                failures.append(f"{key} {path}: {exc}")
        if key == "admin":
            # Error states: a refused time limit and an empty case file.
            page.goto(f"/noncooperation/cases/{ids['case']}/steps/{ids['letter']}")
            page.get_by_label("Response deadline set in the letter").fill(
                (utcnow().date() + timedelta(days=30)).isoformat())
            page.get_by_role("button", name="Save").click()
            expect(page.locator(".error-summary")).to_contain_text("two weeks")
            assert_accessible(page)
            page.goto("/noncooperation/cases/new")
            page.get_by_role("button", name="Open the case file").click()
            expect(page.locator(".error-summary")).to_be_visible()
            assert_accessible(page)
        if key == "editor":
            page.goto("/agreements/new")
            page.get_by_label("Status").select_option("in_force")
            page.get_by_role("button", name="Save").click()
            expect(page.locator(".error-summary")).to_be_visible()
            assert_accessible(page)
            page.goto(f"/agreements/{ids['agreement']}")
            page.get_by_role("button", name="Add the document").click()
            expect(page.locator(".error-summary")).to_contain_text("Choose a file")
            assert_accessible(page)
    assert not failures, "\n\n".join(failures)


def test_plugin_pages_run_under_the_real_csp(new_context, accounts, live_server):
    ids, people = _setup(accounts)
    for key, paths in _pages(ids).items():
        context = new_context()
        monitor = PageMonitor(origin=live_server.url).attach(context)
        page = _sign_in(context, accounts, people[key])
        for path in paths:
            page.goto(path)
            assert monitor.problems_on(page) == [], (key, path)
