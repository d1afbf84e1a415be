"""Non-cooperation case files: confidential to the Secretariat, the Court and the designated
Bureau focal points until a public summary is released to all members; a State's users never
see a confidential case file (not even about their own State); the steps' deadlines on the
page; CSV export; the reminder command (idempotent per step per day); audit of every change."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.audit.service import Actor
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation_noncooperation import services
from cooperation_noncooperation.deadlines import Scenario, StepKind
from cooperation_noncooperation.models import (
    AssemblySession,
    Case,
    FocalPointDesignation,
    Interaction,
    Reminder,
)
from tests.conftest import csrf_from
from tests.factories import party

SYSTEM = Actor.system("test")


def open_case(code: str, admin, *, situation: str = "Darfur, Sudan (ICC-02/05)",  # type: ignore[no-untyped-def]
              decision: date | None = None, scenario: Scenario = Scenario.REFERRAL, **values: str) -> Case:
    data = services.CaseData(requested_party_id=party(code).id, scenario=scenario, situation=situation,
                             decision_reference="ICC-02/05-01/09", decision_date=decision or utcnow().date(),
                             urgent_information=values.get("urgent_information", ""))
    case = services.open_case(db.session, data, admin, SYSTEM, utcnow().date())
    db.session.commit()
    return case


def release(case: Case, summary: str = "The Court referred the matter; the requested State responded.") -> None:
    case.public_summary = summary
    case.released_at = utcnow()
    db.session.commit()


def post_form(client, path: str, data: dict[str, str], expect_page: int = 200):  # type: ignore[no-untyped-def]
    page = client.get(path)
    assert page.status_code == expect_page, (path, page.status_code)
    return client.post(path, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))})


def audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def designate(user, group: str = "african") -> FocalPointDesignation:  # type: ignore[no-untyped-def]
    from cooperation.membership.models import RegionalGroup

    found = FocalPointDesignation(user_id=user.id, regional_group=RegionalGroup(group), designated_at=utcnow())
    db.session.add(found)
    db.session.commit()
    return found


def step_of(case: Case, kind: StepKind):  # type: ignore[no-untyped-def]
    db.session.refresh(case)
    return next(s for s in case.steps if s.kind == kind)


# -- opening a case file ---------------------------------------------------------------------------

def test_secretariat_opens_a_case_file_with_the_seven_steps(client, auth, users):
    auth.login(users["admin"])
    response = post_form(client, "/noncooperation/cases/new", {
        "requested_state": str(party("SEN").id), "scenario": "referral", "situation": "Darfur, Sudan (ICC-02/05)",
        "decision_reference": "ICC-02/05-01/09", "decision_date": (utcnow().date() - timedelta(days=10)).isoformat(),
        "urgent_information": "", "status": "open"})
    assert response.status_code == 302, response.get_data(as_text=True)
    case = db.session.scalar(select(Case))
    assert case is not None and case.requested_party.code == "SEN" and not case.is_released
    assert [s.kind for s in sorted(case.steps, key=lambda s: s.id)] == list(StepKind)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Court decision forwarded to all States Parties" in page and "Overdue" in page
    [event] = audit("noncooperation.case.create")
    assert json.loads(event.details) == {"requested_party_id": party("SEN").id, "scenario": "referral"}


@pytest.mark.parametrize(("changes", "message"), [
    ({"decision_date": ""}, "Enter the date of the Court&#39;s decision"),
    ({"decision_date": "2999-01-01"}, "cannot be in the future"),
    ({"scenario": "urgent", "decision_date": ""}, "Describe the information"),
    ({"requested_state": str(10**6)}, "Not a valid choice"),
    ({"situation": ""}, "Enter the situation"),
])
def test_bad_case_files_are_refused(client, auth, users, changes, message):
    auth.login(users["admin"])
    data = {"requested_state": str(party("SEN").id), "scenario": "referral", "situation": "Darfur",
            "decision_reference": "", "decision_date": "2026-01-09", "urgent_information": "", "status": "open"}
    response = post_form(client, "/noncooperation/cases/new", {**data, **changes})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0


# -- who sees a confidential case file -------------------------------------------------------------

def test_confidential_case_file_only_for_secretariat_court_and_focal_points(client, auth, users):
    case = open_case("SEN", users["admin"], situation="Confidential matter X")
    path = f"/noncooperation/cases/{case.id}"
    for who in ("admin", "court", "editor"):
        auth.login(users[who])
        assert client.get(path).status_code == 200, who
        assert "Confidential matter X" in client.get("/noncooperation/").get_data(as_text=True), who
        auth.logout()
    # Neither the requested State's users nor any other State's see it, in any form.
    for who in ("member_sn", "focal_sn", "member_nl", "focal_nl"):
        auth.login(users[who])
        assert client.get(path).status_code == 404, who
        listing = client.get("/noncooperation/").get_data(as_text=True)
        assert "Confidential matter X" not in listing and "No public summary has been released." in listing
        export = client.get("/noncooperation/export.csv").get_data(as_text=True)
        assert "Confidential matter X" not in export and len(list(csv.reader(io.StringIO(export)))) == 1
        step = step_of(case, StepKind.OPEN_LETTER)
        for other in (f"{path}/steps/{step.id}", f"{path}/interactions/new", f"{path}/summary", f"{path}/edit"):
            assert client.get(other).status_code == 404, (who, other)
        auth.logout()


def test_designated_focal_point_sees_records_and_loses_access_when_the_designation_ends(client, auth, users):
    case = open_case("SEN", users["admin"], situation="Matter seen by the focal point")
    path = f"/noncooperation/cases/{case.id}"
    auth.login(users["admin"])
    response = post_form(client, "/noncooperation/focal-points",
                         {"user": str(users["focal_nl"].id), "regional_group": "weog"})
    assert response.status_code == 302
    designation = db.session.scalar(select(FocalPointDesignation))
    assert designation.user_id == users["focal_nl"].id and designation.is_active
    auth.logout()

    auth.login(users["focal_nl"])
    assert "Matter seen by the focal point" in client.get(path).get_data(as_text=True)
    yesterday = (utcnow().date() - timedelta(days=1)).isoformat()
    response = post_form(client, f"{path}/interactions/new", {
        "occurred_on": yesterday, "conducted_by": "focal_point", "regional_group": "weog",
        "participants": "Focal point for WEOG", "counterpart": "Minister of Foreign Affairs",
        "summary": "Recalled the obligation to cooperate.", "reported_to_bureau_on": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    interaction = db.session.scalar(select(Interaction))
    assert interaction.recorded_by_id == users["focal_nl"].id
    response = post_form(client, f"{path}/interactions/{interaction.id}", {
        "occurred_on": yesterday, "conducted_by": "focal_point", "regional_group": "weog",
        "participants": "Focal point for WEOG", "counterpart": "Minister of Foreign Affairs",
        "summary": "Recalled the obligation to cooperate.", "reported_to_bureau_on": utcnow().date().isoformat()})
    assert response.status_code == 302
    db.session.refresh(interaction)
    assert interaction.reported_to_bureau_on == utcnow().date()
    # A focal point does not keep the steps: that stays with the Secretariat.
    step = step_of(case, StepKind.OPEN_LETTER)
    assert client.get(f"{path}/steps/{step.id}").status_code == 404
    # Another State user of the same State is not designated: nothing.
    auth.logout()
    auth.login(users["member_nl"])
    assert client.get(path).status_code == 404
    auth.logout()

    auth.login(users["admin"])
    page = client.get("/noncooperation/focal-points").get_data(as_text=True)
    response = client.post("/noncooperation/focal-points/end",
                           data={"designation": str(designation.id), "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    auth.logout()
    auth.login(users["focal_nl"])
    assert client.get(path).status_code == 404
    assert client.get(f"{path}/interactions/new").status_code == 404
    for action in ("designate", "end"):
        [event] = audit(f"noncooperation.focal_point.{action}")
        assert event.target_id == str(users["focal_nl"].id)
    created, updated = audit("noncooperation.interaction.create"), audit("noncooperation.interaction.update")
    assert len(created) == len(updated) == 1
    # Audit entries carry ids and field names, never what was said.
    assert "Recalled" not in created[0].details and "Minister" not in updated[0].details


def test_released_public_summary_is_visible_to_all_members_and_only_the_summary(client, auth, users):
    case = open_case("SEN", users["admin"], situation="Darfur, Sudan (ICC-02/05)")
    db.session.add(Interaction(case_id=case.id, occurred_on=utcnow().date(), conducted_by="president",
                               counterpart="Secret counterpart", summary="Secret good offices"))
    db.session.commit()
    path = f"/noncooperation/cases/{case.id}"
    auth.login(users["admin"])
    refused = post_form(client, f"{path}/summary", {"summary": "", "released": "y"})
    assert refused.status_code == 400 and "Write the public summary" in refused.get_data(as_text=True)
    response = post_form(client, f"{path}/summary", {"summary": "Public account of the matter.", "released": "y"})
    assert response.status_code == 302
    auth.logout()

    for who in ("member_sn", "member_nl", "focal_nl"):
        auth.login(users[who])
        page = client.get(path)
        assert page.status_code == 200, who
        html = page.get_data(as_text=True)
        assert "Public account of the matter." in html and "Senegal" in html
        assert "Secret good offices" not in html and "Secret counterpart" not in html
        assert "Formal procedure" not in html
        assert case.reference in client.get("/noncooperation/").get_data(as_text=True)
        auth.logout()

    auth.login(users["admin"])
    response = post_form(client, f"{path}/summary", {"summary": "Public account of the matter."})  # unticked
    assert response.status_code == 302
    auth.logout()
    auth.login(users["member_nl"])
    assert client.get(path).status_code == 404
    assert [len(audit(f"noncooperation.case.{a}")) for a in ("release", "withdraw")] == [1, 1]


def test_a_state_user_never_sees_another_states_confidential_file(client, auth, users):
    public = open_case("NLD", users["admin"], situation="Released matter")
    release(public)
    hidden = open_case("SEN", users["admin"], situation="Hidden matter")
    auth.login(users["focal_nl"])
    listing = client.get("/noncooperation/").get_data(as_text=True)
    assert "Released matter" in listing and "Hidden matter" not in listing
    rows = list(csv.DictReader(io.StringIO(client.get("/noncooperation/export.csv").get_data(as_text=True))))
    assert [r["situation"] for r in rows] == ["Released matter"]
    assert "steps_overdue" not in rows[0]  # members get the public columns only
    assert client.get(f"/noncooperation/cases/{hidden.id}").status_code == 404
    page = client.get(f"/noncooperation/cases/{public.id}")
    assert page.status_code == 200 and "Released matter" in page.get_data(as_text=True)


# -- steps and deadlines ---------------------------------------------------------------------------

def test_open_letter_time_limit_is_checked_and_deadlines_show(client, auth, users):
    today = utcnow().date()
    case = open_case("SEN", users["admin"], decision=today - timedelta(days=30))
    letter = step_of(case, StepKind.OPEN_LETTER)
    path = f"/noncooperation/cases/{case.id}/steps/{letter.id}"
    auth.login(users["admin"])
    sent = today - timedelta(days=20)
    base = {"owner_body": "president", "owner_user": str(users["admin"].id), "planned_on": "",
            "completed_on": sent.isoformat(), "notes": "Copy to all States Parties.",
            "response_received_on": ""}
    too_late = post_form(client, path, {**base, "response_deadline": (sent + timedelta(days=15)).isoformat()})
    assert too_late.status_code == 400
    assert "no more than two weeks after the open letter" in too_late.get_data(as_text=True)
    future = post_form(client, path, {**base, "completed_on": (today + timedelta(days=1)).isoformat(),
                                      "response_deadline": ""})
    assert future.status_code == 400 and "cannot be done on a date in the future" in future.get_data(as_text=True)
    assert not audit("noncooperation.step.update")

    deadline = sent + timedelta(days=10)
    response = post_form(client, path, {**base, "response_deadline": deadline.isoformat()})
    assert response.status_code == 302
    db.session.refresh(case)
    assert case.response_deadline == deadline and step_of(case, StepKind.OPEN_LETTER).completed_on == sent
    page = client.get(f"/noncooperation/cases/{case.id}").get_data(as_text=True)
    # The Bureau meeting was due when the time limit expired, ten days ago.
    assert deadline.isoformat() in page and "Overdue" in page
    assert "Upon the response or the expiry of the time limit" in page
    [event] = audit("noncooperation.step.update")
    details = json.loads(event.details)
    assert details["fields"] == ["completed_on", "notes", "owner_user_id", "response_deadline"]
    assert "Copy to all" not in event.details


def test_assembly_sessions_are_kept_by_the_secretariat(client, auth, users):
    auth.login(users["admin"])
    ok = post_form(client, "/noncooperation/sessions", {"label": "Twenty-fifth session", "opens_on": "2026-12-07",
                                                         "closes_on": "2026-12-12", "place": "The Hague"})
    assert ok.status_code == 302
    overlap = post_form(client, "/noncooperation/sessions", {"label": "Other", "opens_on": "2026-12-10",
                                                              "closes_on": "2026-12-15", "place": ""})
    assert overlap.status_code == 400 and "overlap" in overlap.get_data(as_text=True)
    backwards = post_form(client, "/noncooperation/sessions", {"label": "Other", "opens_on": "2027-12-10",
                                                                "closes_on": "2027-12-01", "place": ""})
    assert backwards.status_code == 400
    found = db.session.scalar(select(AssemblySession))
    page = client.get("/noncooperation/sessions").get_data(as_text=True)
    removed = client.post("/noncooperation/sessions/remove", data={"session": str(found.id),
                                                                   "csrf_token": csrf_from(page)})
    assert removed.status_code == 302 and db.session.scalar(select(func.count()).select_from(AssemblySession)) == 0
    assert len(audit("noncooperation.session.create")) == len(audit("noncooperation.session.delete")) == 1
    auth.logout()
    auth.login(users["court"])
    assert client.get("/noncooperation/sessions").status_code == 404


# -- export ----------------------------------------------------------------------------------------

def test_csv_export_for_the_secretariat_has_the_procedure_and_neutralises_formulas(client, auth, users):
    open_case("SEN", users["admin"], situation="=HYPERLINK(\"http://evil.example\")")
    auth.login(users["admin"])
    response = client.get("/noncooperation/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="non-cooperation-')
    [row] = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert row["situation"].startswith("'=") and row["requested_state_code"] == "SEN"
    assert row["released"] == "no" and row["steps_overdue"] == "0" and row["regional_group"] == "african"
    assert row["next_step"] == "forward_decision"
    [event] = audit("noncooperation.case.export")
    assert json.loads(event.details)["confidential"] is True
    assert client.get("/noncooperation/export.csv?status=bogus").status_code == 400


# -- reminders -------------------------------------------------------------------------------------

def test_reminders_are_sent_once_per_step_per_day(app, users, mailbox):
    decision = date(2026, 5, 14)  # Thursday: forwarding due Friday 15 May
    case = open_case("SEN", users["admin"], decision=decision, situation="Reminded matter")
    runner = app.test_cli_runner()
    early = runner.invoke(args=["noncooperation", "send-reminders", "--today", "2026-05-14"])
    assert early.exit_code == 0, early.output
    # Due on Friday, within two working days: reminded as "due soon" to the Secretariat.
    assert "Reminders sent for 1 steps (1 messages)" in early.output
    body = mailbox.body(mailbox.wait_for("admin@asp.test"))
    assert case.reference in body and "Court decision forwarded to all States Parties" in body
    assert "2026-05-15" in body and f"/noncooperation/cases/{case.id}" in body
    # The mail never names the requested State nor the matter.
    assert "Senegal" not in body and "Reminded matter" not in body
    mailbox.clear()
    again = runner.invoke(args=["noncooperation", "send-reminders", "--today", "2026-05-14"])
    assert "Reminders sent for 0 steps (0 messages); 1 already reminded today." in again.output
    assert mailbox.messages == []

    # Next Monday it is overdue; the step's follow-up person alone gets it now.
    step = step_of(case, StepKind.FORWARD_DECISION)
    step.owner_user_id = users["admin"].id
    db.session.commit()
    monday = runner.invoke(args=["noncooperation", "send-reminders", "--today", "2026-05-18"])
    assert "Reminders sent for 1 steps (1 messages)" in monday.output
    assert "overdue" in str(mailbox.wait_for("admin@asp.test")["Subject"])
    assert db.session.scalar(select(func.count()).select_from(Reminder)) == 2
    events = audit("noncooperation.reminder.send")
    assert [json.loads(e.details)["flag"] for e in events] == ["due_soon", "overdue"]
    # Done: no more reminders.
    step = step_of(case, StepKind.FORWARD_DECISION)
    step.completed_on = date(2026, 5, 18)
    db.session.commit()
    mailbox.clear()
    done = runner.invoke(args=["noncooperation", "send-reminders", "--today", "2026-05-19"])
    assert "Reminders sent for 0 steps" in done.output and mailbox.messages == []
    bad = runner.invoke(args=["noncooperation", "send-reminders", "--today", "19/05/2026"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
