"""Building in the browser's forms, bilingual text with visible fallback, publication, frozen
editions and pre-filling, access across States, reminders, analysis and exports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.questionnaires.models import (
    Answer,
    Question,
    Questionnaire,
    QuestionnaireStatus,
    QuestionType,
    Section,
    Target,
)
from tests.conftest import csrf_from
from tests.functional.questionnaire_fixtures import autosave, build, page_csrf, questions


def _count(model) -> int:  # type: ignore[no-untyped-def]
    return int(db.session.scalar(select(func.count()).select_from(model)))


def test_secretariat_builds_and_publishes_in_the_browser_forms(app, client, auth, users):
    auth.login(users["admin"])
    token = auth.csrf("/questionnaires/manage/new")
    empty = client.post("/questionnaires/manage/new", data={"csrf_token": token, "title_en": " ", "title_fr": ""})
    assert empty.status_code == 400 and "Enter the title in English or in French" in empty.get_data(as_text=True)
    assert _count(Questionnaire) == 0
    created = client.post("/questionnaires/manage/new", data={"csrf_token": token, "title_en": "Procedures 2026",
                                                              "title_fr": "Procédures 2026"})
    assert created.status_code == 302
    q = db.session.scalar(select(Questionnaire))
    assert client.post(f"/questionnaires/manage/{q.id}/sections/new",
                       data={"csrf_token": token, "title_en": "Assets", "title_fr": ""}).status_code == 302
    section = db.session.scalar(select(Section))
    base = {"csrf_token": token, "section_id": str(section.id), "condition_question_id": "", "condition_value": ""}
    bad = client.post(f"/questionnaires/manage/{q.id}/questions/new",
                      data={**base, "qtype": "single_choice", "text_en": "Channel?", "options": "Only one"})
    assert bad.status_code == 400 and "Give at least two options" in bad.get_data(as_text=True)
    bad_line = client.post(f"/questionnaires/manage/{q.id}/questions/new",
                           data={**base, "qtype": "single_choice", "text_en": "Channel?",
                                 "options": "a | A | B | C\nb | B | B"})
    assert bad_line.status_code == 400 and "Line 1" in bad_line.get_data(as_text=True)
    assert _count(Question) == 0
    ok = client.post(f"/questionnaires/manage/{q.id}/questions/new",
                     data={**base, "qtype": "single_choice", "text_en": "Channel?", "text_fr": "Voie ?",
                           "guidance_en": "As designated", "required": "y",
                           "options": "diplomatic | Diplomatic | Diplomatique\ncentral | Central authority |"})
    assert ok.status_code == 302
    channel = db.session.scalar(select(Question))
    assert channel.code == "Q1" and [o.value for o in channel.options] == ["diplomatic", "central"]
    wrong_condition = client.post(f"/questionnaires/manage/{q.id}/questions/new",
                                  data={**base, "qtype": "text", "text_en": "Which?",
                                        "condition_question_id": str(channel.id), "condition_value": "consular"})
    assert wrong_condition.status_code == 400 and "diplomatic, central" in wrong_condition.get_data(as_text=True)
    assert client.post(f"/questionnaires/manage/{q.id}/questions/new",
                       data={**base, "qtype": "text", "text_en": "Which authority?",
                             "condition_question_id": str(channel.id), "condition_value": "central"}
                       ).status_code == 302
    today = utcnow().date()
    late = client.post(f"/questionnaires/manage/{q.id}/publish",
                       data={"csrf_token": token, "audience": "some", "opens_on": today.isoformat(),
                             "closes_on": (today - timedelta(days=1)).isoformat()})
    assert late.status_code == 400 and "on or after the opening date" in late.get_data(as_text=True)
    nobody = client.post(f"/questionnaires/manage/{q.id}/publish",
                         data={"csrf_token": token, "audience": "some", "opens_on": today.isoformat(),
                               "closes_on": (today + timedelta(days=9)).isoformat()})
    assert nobody.status_code == 400 and "Choose the States" in nobody.get_data(as_text=True)
    published = client.post(f"/questionnaires/manage/{q.id}/publish",
                            data={"csrf_token": token, "audience": "some", "states": ["NLD"], "groups": ["african"],
                                  "opens_on": today.isoformat(),
                                  "closes_on": (today + timedelta(days=9)).isoformat()})
    assert published.status_code == 302
    codes = set(db.session.scalars(select(Target.party_id)))
    assert len(codes) > 30  # NLD and every African State
    db.session.refresh(q)
    assert q.status == QuestionnaireStatus.PUBLISHED
    # Frozen: no edit reaches the database.
    edit = client.post(f"/questionnaires/manage/questions/{channel.id}/edit",
                       data={**base, "qtype": "text", "text_en": "Changed"})
    assert edit.status_code == 302
    db.session.refresh(channel)
    assert channel.text_en == "Channel?"
    assert client.post(f"/questionnaires/manage/questions/{channel.id}/delete",
                       data={"csrf_token": token}).status_code == 400
    # New edition: a draft copy with the same codes and the condition remapped.
    assert client.post(f"/questionnaires/manage/{q.id}/new-edition", data={"csrf_token": token}).status_code == 302
    second = db.session.scalar(select(Questionnaire).where(Questionnaire.edition == 2))
    copied = {qq.code: qq for qq in second.questions}
    assert set(copied) == {"Q1", "Q2"} and copied["Q2"].condition_question_id == copied["Q1"].id
    assert second.status == QuestionnaireStatus.DRAFT and second.series_id == q.series_id
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"questionnaire.create", "questionnaire.question.create", "questionnaire.publish",
            "questionnaire.edition.create"} <= actions


def test_state_users_cannot_build(app, client, auth, users):
    q = build(app)
    auth.login(users["focal_nl"])
    for path in ("/questionnaires/manage/", "/questionnaires/manage/new", f"/questionnaires/manage/{q.id}",
                 f"/questionnaires/analysis/{q.id}", f"/questionnaires/manage/{q.id}/tracking"):
        assert client.get(path).status_code == 404, path
    token = page_csrf(client, q)
    assert client.post("/questionnaires/manage/new", data={"csrf_token": token, "title_en": "x"}).status_code == 404
    assert _count(Questionnaire) == 1


def test_missing_translation_is_marked_and_never_dropped(app, client, auth, users):
    q = build(app, title_fr="")
    question = questions(q)["Q1"]  # guidance only in English
    auth.login(users["member_nl"])
    from cooperation.accounts.models import User

    db.session.get(User, users["member_nl"].id).locale = "fr"
    db.session.commit()
    html = client.get(f"/questionnaires/{q.id}/response").get_data(as_text=True)
    assert "Name the office." in html and 'class="fallback-marker"' in html
    assert 'lang="en">National procedures</span>' in html
    auth.logout()
    auth.login(users["editor"])
    draft = build(app, publish=False, title_fr="")
    target = questions(draft)["Q1"]
    page = client.get(f"/questionnaires/manage/questions/{target.id}/edit").get_data(as_text=True)
    assert "Name the office." in page
    token = csrf_from(page)
    response = client.post(f"/questionnaires/manage/questions/{target.id}/edit",
                           data={"csrf_token": token, "section_id": str(target.section_id), "qtype": "text",
                                 "text_en": "Central authority?", "text_fr": "", "guidance_en": "Name the office.",
                                 "guidance_fr": "", "condition_question_id": "", "condition_value": ""})
    assert response.status_code == 302
    db.session.refresh(target)
    assert target.text_en == "Central authority?" and target.text_fr == "" and target.guidance_en == "Name the office."
    del question


def test_access_between_states_and_sharing(app, client, auth, users):
    q = build(app, share=False)
    qs = questions(q)
    auth.login(users["focal_nl"])
    csrf = page_csrf(client, q)
    autosave(client, csrf, qs["Q1"], "NL authority")
    autosave(client, csrf, qs["Q3"], "no")
    auth.logout()
    auth.login(users["member_sn"])
    # Draft of another State: 404 everywhere.
    assert client.get(f"/questionnaires/{q.id}/states/NLD").status_code == 404
    assert client.get(f"/questionnaires/{q.id}/states/NLD/compare?a=1&b=1").status_code == 404
    # Not sent to Argentina: 404 for SEN too on a questionnaire not sent to SEN.
    other = build(app, codes=("NLD",))
    assert client.get(f"/questionnaires/{other.id}/response").status_code == 404
    assert client.get(f"/questionnaires/{other.id}/export.csv").status_code == 404
    assert autosave(client, csrf_from(client.get("/questionnaires/").get_data(as_text=True)),
                    questions(other)["Q1"], "x").status_code == 404
    auth.logout()
    auth.login(users["focal_nl"])
    token = page_csrf(client, q)
    client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": token})
    auth.logout()
    auth.login(users["member_sn"])
    assert client.get(f"/questionnaires/{q.id}/states/NLD").status_code == 404  # not shared
    q.share_responses = True
    db.session.commit()
    shared = client.get(f"/questionnaires/{q.id}/states/NLD")
    assert shared.status_code == 200 and "NL authority" in shared.get_data(as_text=True)
    assert client.get(f"/questionnaires/{q.id}/states/NLD/compare?a=1&b=1").status_code == 404
    # The Secretariat sees everything, drafts included.
    auth.logout()
    auth.login(users["admin"])
    assert client.get(f"/questionnaires/{q.id}/states/NLD").status_code == 200
    assert client.get(f"/questionnaires/{q.id}/states/SEN").status_code == 200


def test_country_profile_needs_consent(app, client, auth, users):
    q = build(app)
    qs = questions(q)
    auth.login(users["focal_nl"])
    csrf = page_csrf(client, q)
    autosave(client, csrf, qs["Q1"], "NL authority")
    autosave(client, csrf, qs["Q3"], "no")
    client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": csrf})
    auth.logout()
    auth.login(users["member_sn"])
    hidden = client.get("/questionnaires/profiles/NLD").get_data(as_text=True)
    assert "has not agreed" in hidden and "NL authority" not in hidden
    auth.logout()
    auth.login(users["member_nl"])
    token = csrf_from(client.get("/questionnaires/").get_data(as_text=True))
    assert client.post("/questionnaires/consent", data={"csrf_token": token, "share_profile": "y"}).status_code == 404
    auth.logout()
    auth.login(users["focal_nl"])
    token = csrf_from(client.get("/questionnaires/").get_data(as_text=True))
    assert client.post("/questionnaires/consent", data={"csrf_token": token, "share_profile": "y"}).status_code == 302
    auth.logout()
    auth.login(users["court"])
    shown = client.get("/questionnaires/profiles/NLD").get_data(as_text=True)
    assert "NL authority" in shown
    assert "Netherlands" in client.get("/questionnaires/profiles").get_data(as_text=True)


def test_new_edition_is_prefilled_from_the_previous_response(app, client, auth, users):
    from cooperation.audit.service import Actor
    from cooperation.questionnaires import services

    q = build(app)
    qs = questions(q)
    auth.login(users["focal_nl"])
    csrf = page_csrf(client, q)
    autosave(client, csrf, qs["Q1"], "NL authority")
    autosave(client, csrf, qs["Q3"], "yes")
    autosave(client, csrf, qs["Q10"], "ICC Act")
    client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": csrf})
    second = services.new_edition(db.session, q, user=None, actor=Actor.system("test"))
    today = utcnow().date()
    services.publish(db.session, second, everyone=False, state_codes=["NLD"], groups=[], opens_on=today,
                     closes_on=today + timedelta(days=5), actor=Actor.system("test"))
    db.session.commit()
    page = client.get(f"/questionnaires/{second.id}/response").get_data(as_text=True)
    assert "Pre-fill from our previous response" in page
    assert client.post(f"/questionnaires/{second.id}/response/prefill",
                       data={"csrf_token": csrf_from(page)}).status_code == 302
    new = questions(second)
    values = dict(list(db.session.execute(select(Answer.question_id, Answer.value)
                                          .where(Answer.question_id.in_([x.id for x in new.values()]))).tuples()))
    assert values == {new["Q1"].id: "NL authority", new["Q3"].id: "yes", new["Q10"].id: "ICC Act"}


def test_reminders_go_only_to_states_that_have_not_submitted_and_only_when_due(app, client, auth, users, mailbox):
    q = build(app, codes=("NLD", "SEN"), reminder_days=7)
    q.published_at = utcnow() - timedelta(days=8)
    db.session.commit()
    qs = questions(q)
    auth.login(users["focal_nl"])
    csrf = page_csrf(client, q)
    autosave(client, csrf, qs["Q1"], "x")
    autosave(client, csrf, qs["Q3"], "no")
    client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": csrf})
    runner = CliRunner()
    result = runner.invoke(app.cli, ["questionnaires", "send-reminders"])
    assert result.exit_code == 0, result.output
    assert "Reminders sent to 1 States (2 messages)" in result.output
    for email in ("focal@sn.test", "member@sn.test"):
        body = mailbox.body(mailbox.wait_for(email))
        assert "National procedures" in body and f"/questionnaires/{q.id}/response" in body
    assert not [m for m in mailbox.messages if "nl.test" in str(m["To"])]
    target = db.session.scalar(select(Target).join(Target.party).where(Target.party.has(code="SEN")))
    assert target.last_reminded_at is not None
    mailbox.clear()
    again = runner.invoke(app.cli, ["questionnaires", "send-reminders"])
    assert "Reminders sent to 0 States" in again.output and mailbox.messages == []
    details = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "questionnaire.reminder.send")).all()
    assert len(details) == 1 and '"party":"SEN"' in details[0]


def test_analysis_dashboard_comparison_tracking(app, client, auth, users):
    q = build(app, codes=("NLD", "SEN", "ARG"))
    qs = questions(q)
    for user, answer in ((users["focal_nl"], "yes"), (users["focal_sn"], "no")):
        auth.login(user)
        csrf = page_csrf(client, q)
        autosave(client, csrf, qs["Q1"], "authority")
        autosave(client, csrf, qs["Q3"], answer)
        autosave(client, csrf, qs["Q10"], "Act") if answer == "yes" else None
        client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": csrf})
        auth.logout()
    auth.login(users["editor"])
    page = client.get(f"/questionnaires/analysis/{q.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "2 of 3 States have submitted" in html
    assert '<svg class="chart" id="chart-%d" role="img"' % qs["Q3"].id in html
    assert "<td>1</td><td>50%</td>" in html  # the data table next to the chart
    weog = client.get(f"/questionnaires/analysis/{q.id}?group=weog").get_data(as_text=True)
    assert "1 of 1 States have submitted" in weog
    assert client.get(f"/questionnaires/analysis/{q.id}?group=martian").status_code == 400
    table = client.get(f"/questionnaires/analysis/questions/{qs['Q3'].id}").get_data(as_text=True)
    assert "Argentina" in table and "Not started" in table and "Senegal" in table
    tracking = client.get(f"/questionnaires/manage/{q.id}/tracking").get_data(as_text=True)
    assert "Not started" in tracking and "Submitted" in tracking


def test_exports_csv_and_xlsx_with_codebook_and_no_formulas(app, client, auth, users):
    q = build(app)
    qs = questions(q)
    auth.login(users["focal_nl"])
    csrf = page_csrf(client, q)
    autosave(client, csrf, qs["Q1"], "=HYPERLINK(\"http://evil\")")
    autosave(client, csrf, qs["Q3"], "no")
    autosave(client, csrf, qs["Q5"], ["en", "fr"])
    client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": csrf})
    own = client.get(f"/questionnaires/{q.id}/export.csv")
    rows = list(csv.reader(io.StringIO(own.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r[0] for r in rows[1:]] == ["NLD"]  # a State exports only its own
    auth.logout()
    auth.login(users["admin"])
    response = client.get(f"/questionnaires/{q.id}/export.csv")
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header = rows[0]
    assert header[:6] == ["state_code", "state", "regional_group", "status", "submitted_at", "revision"]
    assert header[6:] == [f"Q{i}" for i in range(1, 11)]
    by_state = {r[0]: r for r in rows[1:]}
    assert set(by_state) == {"NLD", "SEN"}
    assert by_state["NLD"][6] == "'=HYPERLINK(\"http://evil\")" and by_state["NLD"][10] == "en; fr"
    assert by_state["SEN"][3] == "not_started"
    xlsx = client.get(f"/questionnaires/{q.id}/export.xlsx")
    book = load_workbook(io.BytesIO(xlsx.data))
    answers = list(book["Answers"].iter_rows(values_only=True))
    assert answers[0][6] == "Q1"
    nld = next(r for r in answers if r[0] == "NLD")
    assert nld[6] == "'=HYPERLINK(\"http://evil\")"
    assert all(cell.data_type != "f" for row in book["Answers"].iter_rows() for cell in row)
    codebook = list(book["Codebook"].iter_rows(values_only=True))
    assert codebook[0][:5] == ("question_id", "section", "text_en", "text_fr", "type")
    assert ("Q4" in [c[0] for c in codebook]) and any("diplomatic = Diplomatic / Diplomatique" in (c[6] or "")
                                                       for c in codebook)
    assert any(c[0] == "Q10" and c[7] == "Q3 = yes" for c in codebook)
    exports = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "questionnaire.export")).all()
    assert len(exports) == 3 and all("HYPERLINK" not in d for d in exports)


def test_question_types_listed_in_the_builder(app, client, auth, users):
    auth.login(users["admin"])
    q = build(app, publish=False)
    page = client.get(f"/questionnaires/manage/{q.id}/questions/new").get_data(as_text=True)
    for kind in QuestionType:
        assert f'value="{kind.value}"' in page
