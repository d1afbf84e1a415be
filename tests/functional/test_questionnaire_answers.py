"""Answering: every question type checks its input with a clear message (and nothing changes),
documents (type, size, magic bytes) without losing the rest of the draft, conditional questions,
conflicts between two colleagues (409), submission, reopening and revisions."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.extensions import db
from cooperation.questionnaires.models import Answer, Response, ResponseStatus, Revision, StoredFile
from tests.conftest import csrf_from
from tests.functional.questionnaire_fixtures import PDF, autosave, build, docx_bytes, odt_bytes, page_csrf, questions


def _answers() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Answer)))


@pytest.mark.parametrize(("code", "bad", "message"), [
    ("Q1", 12, "Enter text."),
    ("Q1", "x" * 2001, "Keep this answer under 2,000 characters"),
    ("Q3", "maybe", "Choose yes, no or unknown."),
    ("Q4", "consular", "Choose one of the options in the list."),
    ("Q5", ["en", "de"], "Choose only options from the list."),
    ("Q6", "twelve", "Enter a number, for example 12 or 3.5."),
    ("Q6", "1e20", "Enter a number"),
    ("Q7", "14/02/2020", "Enter a date as YYYY-MM-DD"),
    ("Q7", "1850-01-01", "Enter a date between 1900 and 2100."),
    ("Q8", {"file_id": 999}, "Upload the document with the file field."),
    ("Q9", {"kind": "statute", "article": "200"}, "articles 1 to 128"),
    ("Q9", {"kind": "statute", "article": "ninety-three"}, "such as 93(1)(k)"),
    ("Q9", {"kind": "national", "title": ""}, "Enter the title of the national act."),
    ("Q9", {"kind": "treaty", "title": "x"}, "Choose the Rome Statute or a national act"),
])
def test_each_type_refuses_bad_input_with_a_message(app, client, auth, users, code, bad, message):
    q = build(app)
    auth.login(users["member_nl"])
    response = autosave(client, page_csrf(client, q), questions(q)[code], bad)
    assert response.status_code == 422
    assert message in response.get_json()["error"]
    assert _answers() == 0


@pytest.mark.parametrize(("code", "good", "stored"), [
    ("Q1", "  Ministry of Justice ", "Ministry of Justice"),
    ("Q2", "Line 1\r\nLine 2", "Line 1\nLine 2"),
    ("Q3", "unknown", "unknown"),
    ("Q4", "central", "central"),
    ("Q5", ["fr", "en", "fr"], ["en", "fr"]),
    ("Q6", "3,5", "3.5"),
    ("Q6", 12, "12"),
    ("Q7", "2002-06-20", "2002-06-20"),
    ("Q9", {"kind": "statute", "article": "Article 93(1)(k)"}, {"kind": "statute", "article": "93(1)(k)"}),
    ("Q9", {"kind": "national", "title": "ICC Act", "provision": "s. 12"},
     {"kind": "national", "title": "ICC Act", "provision": "s. 12"}),
])
def test_each_type_stores_valid_input(app, client, auth, users, code, good, stored):
    q = build(app)
    auth.login(users["member_nl"])
    response = autosave(client, page_csrf(client, q), questions(q)[code], good)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["version"] == 1
    assert db.session.scalar(select(Answer.value)) == stored
    actions = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "questionnaire.answer.save"))
    assert all("Ministry" not in d and "ICC Act" not in d for d in actions)  # ids only, never content


def test_upload_checks_type_size_and_content_and_keeps_the_draft(app, client, auth, users):
    q = build(app)
    qs = questions(q)
    auth.login(users["member_nl"])
    csrf = page_csrf(client, q)
    assert autosave(client, csrf, qs["Q1"], "Ministry").status_code == 200

    def upload(name: str, data: bytes, version: int = 0):  # type: ignore[no-untyped-def]
        return client.post(f"/questionnaires/api/answers/{qs['Q8'].id}/file",
                           data={"file": (io.BytesIO(data), name), "version": str(version)},
                           headers={"X-CSRFToken": csrf, "Accept": "application/json"},
                           content_type="multipart/form-data")

    refused = upload("law.exe", b"MZ\x90\x00")
    assert refused.status_code == 422 and "Only PDF, DOCX, ODT or TXT" in refused.get_json()["error"]
    disguised = upload("law.pdf", b"MZ\x90\x00 not a pdf")
    assert disguised.status_code == 422 and "not a valid PDF document" in disguised.get_json()["error"]
    fake_docx = upload("law.docx", PDF)
    assert fake_docx.status_code == 422
    too_big = _large_upload(client, csrf, qs["Q8"].id, b"a" * (20 * 1024 * 1024 + 1))
    assert too_big.status_code in (413, 422) and "20 MiB" in too_big.get_json()["error"]
    assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 0
    assert db.session.scalar(select(Answer.value).where(Answer.question_id == qs["Q1"].id)) == "Ministry"
    storage = app.instance_path + "/questionnaire_files"
    import os

    before = set(os.listdir(storage)) if os.path.isdir(storage) else set()

    for name, data in (("law.pdf", PDF), ("law.docx", docx_bytes()), ("law.odt", odt_bytes()),
                       ("notes.txt", "Loi n° 2020-1".encode())):
        version = db.session.scalar(select(Answer.version).where(Answer.question_id == qs["Q8"].id)) or 0
        ok = upload(name, data, version)
        assert ok.status_code == 200, ok.get_json()
        assert ok.get_json()["file"]["name"] == name
    stored = db.session.scalars(select(StoredFile)).all()
    assert len(stored) == 4 and all(s.stored_name not in ("law.pdf",) and len(s.stored_name) == 48 for s in stored)
    assert len(set(os.listdir(storage)) - before) == 4

    download = client.get(f"/questionnaires/files/{stored[-1].id}")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.data == "Loi n° 2020-1".encode()
    download.close()
    # Another State's user cannot fetch it.
    auth.logout()
    auth.login(users["member_sn"])
    assert client.get(f"/questionnaires/files/{stored[-1].id}").status_code == 404


def _large_upload(client, csrf: str, question_id: int, data: bytes):  # type: ignore[no-untyped-def]
    """Werkzeug's test client spools a large body to a temporary file it never closes: build
    the environ here and close it (a test-client artefact, not the application's)."""
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=f"/questionnaires/api/answers/{question_id}/file", method="POST",
                             data={"file": (io.BytesIO(data), "big.txt"), "version": "0"},
                             headers={"X-CSRFToken": csrf, "Accept": "application/json"})
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


def test_form_without_javascript_saves_the_rest_when_one_answer_is_refused(app, client, auth, users):
    q = build(app)
    qs = questions(q)
    auth.login(users["member_nl"])
    csrf = page_csrf(client, q)
    data = {"csrf_token": csrf, f"q{qs['Q1'].id}": "Ministry of Justice", f"q{qs['Q6'].id}": "many",
            f"q{qs['Q3'].id}": "yes", f"q{qs['Q5'].id}": ["en", "fr"],
            f"q{qs['Q8'].id}-file": (io.BytesIO(b"\x7fELF binary"), "law.pdf")}
    response = client.post(f"/questionnaires/{q.id}/response", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Enter a number, for example 12 or 3.5." in html
    assert "not a valid PDF document" in html
    assert 'value="many"' in html  # what was typed is shown again
    saved = dict(list(db.session.execute(select(Answer.question_id, Answer.value)).tuples()))
    assert saved == {qs["Q1"].id: "Ministry of Justice", qs["Q3"].id: "yes", qs["Q5"].id: ["en", "fr"]}


def test_conditional_question_is_required_only_when_shown(app, client, auth, users):
    q = build(app)
    qs = questions(q)
    auth.login(users["focal_nl"])
    csrf = page_csrf(client, q)
    autosave(client, csrf, qs["Q1"], "Ministry")
    reply = autosave(client, csrf, qs["Q3"], "no")
    assert qs["Q10"].id not in reply.get_json()["visible"]
    page = client.get(f"/questionnaires/{q.id}/response").get_data(as_text=True)
    assert f'id="q-{qs["Q10"].id}"' in page and "hidden>" in page.split(f'id="q-{qs["Q10"].id}"')[1][:400]
    # Hidden: not required, so the response can be submitted.
    token = csrf_from(page)
    assert client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": token}).status_code == 302
    reopen = client.post(f"/questionnaires/{q.id}/response/reopen", data={"csrf_token": token})
    assert reopen.status_code == 302
    reply = autosave(client, csrf, qs["Q3"], "yes", version=1)
    assert qs["Q10"].id in reply.get_json()["visible"]
    refused = client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": token})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "1 required questions have no answer yet" in html
    assert f'href="#q-{qs["Q10"].id}"' in html and "Which act?" in html
    assert db.session.scalar(select(func.count()).select_from(Revision)) == 1


def test_two_colleagues_never_overwrite_each_other(app, client, auth, users):
    from tests.conftest import AuthActions, CommittingClient

    q = build(app)
    qs = questions(q)
    auth.login(users["member_nl"])
    csrf_a = page_csrf(client, q)
    app.test_client_class = CommittingClient
    other = app.test_client()
    AuthActions(other).login(users["focal_nl"])
    csrf_b = page_csrf(other, q)

    first = autosave(client, csrf_a, qs["Q2"], "Text by the member", version=0)
    assert first.status_code == 200
    stale = autosave(other, csrf_b, qs["Q2"], "Text by the focal point", version=0)
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["value"] == "Text by the member" and body["version"] == 1 and body["by"] == users["member_nl"].full_name
    assert db.session.scalar(select(Answer.value)) == "Text by the member"
    # After merging, the focal point saves on top of version 1.
    merged = autosave(other, csrf_b, qs["Q2"], "Text by the member, completed", version=1)
    assert merged.status_code == 200 and merged.get_json()["version"] == 2
    again = autosave(client, csrf_a, qs["Q2"], "Older edit", version=1)
    assert again.status_code == 409
    assert db.session.scalar(select(Answer.value)) == "Text by the member, completed"


def test_submit_reopen_and_revisions(app, client, auth, users):
    q = build(app)
    qs = questions(q)
    auth.login(users["member_nl"])
    csrf = page_csrf(client, q)
    # A member drafts but cannot submit.
    autosave(client, csrf, qs["Q1"], "Ministry")
    assert client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": csrf}).status_code == 404
    auth.logout()
    auth.login(users["focal_nl"])
    csrf = page_csrf(client, q)
    missing = client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": csrf})
    assert missing.status_code == 400 and "Implementing law?" in missing.get_data(as_text=True)
    autosave(client, csrf, qs["Q3"], "no")
    assert client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": csrf}).status_code == 302
    response = db.session.scalar(select(Response))
    assert response.status == ResponseStatus.SUBMITTED
    # Submitted: frozen until reopened.
    locked = autosave(client, csrf, qs["Q1"], "Other", version=1)
    assert locked.status_code == 423 and "reopen" in locked.get_json()["error"]
    client.post(f"/questionnaires/{q.id}/response/reopen", data={"csrf_token": csrf})
    assert autosave(client, csrf, qs["Q1"], "Ministry of Justice and Security", version=1).status_code == 200
    client.post(f"/questionnaires/{q.id}/response/submit", data={"csrf_token": csrf})
    revisions = db.session.scalars(select(Revision).order_by(Revision.number)).all()
    assert [r.number for r in revisions] == [1, 2]
    assert revisions[0].answers[str(qs["Q1"].id)] == "Ministry"
    assert revisions[1].answers[str(qs["Q1"].id)] == "Ministry of Justice and Security"
    page = client.get(f"/questionnaires/{q.id}/states/NLD/compare?a=1&b=2")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "1 answers differ." in html and 'class="changed"' in html
    assert client.get(f"/questionnaires/{q.id}/states/NLD/compare?a=1&b=9").status_code == 400
    assert client.get(f"/questionnaires/{q.id}/states/NLD?revision=1").status_code == 200
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"questionnaire.response.submit", "questionnaire.response.reopen"} <= actions


def test_closed_questionnaire_refuses_answers(app, client, auth, users):
    from datetime import timedelta

    from cooperation.db import utcnow

    q = build(app)
    auth.login(users["member_nl"])
    csrf = page_csrf(client, q)
    q.closes_on = utcnow().date() - timedelta(days=1)
    db.session.commit()
    response = autosave(client, csrf, questions(q)["Q1"], "late")
    assert response.status_code == 423 and "closed on" in response.get_json()["error"]
    assert _answers() == 0
