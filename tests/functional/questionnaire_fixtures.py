"""Builders for questionnaire tests (and for tests/security/world.py): a published questionnaire
with one question of every type, and a few helpers that act like the autosave client."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select

from cooperation.audit.service import Actor
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.membership.models import Party
from cooperation.questionnaires import services
from cooperation.questionnaires.models import Question, Questionnaire, QuestionType
from cooperation.questionnaires.services import Bilingual, OptionData, QuestionData

ACTOR = Actor.system("test")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def docx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def odt_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


def party(code: str) -> Party:
    found = db.session.scalar(select(Party).where(Party.code == code))
    assert found is not None
    return found


def build(app: Flask, *, codes: tuple[str, ...] = ("NLD", "SEN"), share: bool = False, publish: bool = True,
          reminder_days: int | None = None, title_fr: str = "Procédures nationales") -> Questionnaire:
    """Sections and one question of each type; Q10 is shown only when Q3 is "yes"."""
    with force_locale("en"):
        q = services.create_questionnaire(db.session, title=Bilingual("National procedures", title_fr),
                                          description=Bilingual("Intro", "Intro FR"), user=None, actor=ACTOR)
        s1 = services.add_section(db.session, q, title=Bilingual("Central authority", "Autorité centrale"), actor=ACTOR)
        s2 = services.add_section(db.session, q, title=Bilingual("Assets", "Avoirs"), actor=ACTOR)

        def add(section: int, kind: QuestionType, en: str, fr: str = "", **kw: Any) -> Question:
            return services.add_question(db.session, q, QuestionData(section_id=section, qtype=kind,
                                                                     text=Bilingual(en, fr), **kw), ACTOR)

        add(s1.id, QuestionType.TEXT, "Central authority?", "Autorité centrale ?", required=True,
            guidance=Bilingual("Name the office.", ""))
        add(s1.id, QuestionType.LONG_TEXT, "Describe the procedure", "Décrivez la procédure")
        q3 = add(s1.id, QuestionType.YES_NO, "Implementing law?", "Loi de mise en œuvre ?", required=True)
        add(s1.id, QuestionType.SINGLE,
            "Channel", "Voie", options=[OptionData("diplomatic", "Diplomatic", "Diplomatique"),
                                        OptionData("central", "Central authority", "")])
        add(s1.id, QuestionType.MULTIPLE, "Languages", "Langues",
            options=[OptionData("en", "English", "Anglais"), OptionData("fr", "French", "Français"),
                     OptionData("es", "Spanish", "Espagnol")])
        add(s2.id, QuestionType.NUMBER, "Days to execute", "Jours")
        add(s2.id, QuestionType.DATE, "Adopted on", "Adoptée le")
        add(s2.id, QuestionType.FILE, "Copy of the law", "Copie de la loi")
        add(s2.id, QuestionType.LEGAL_REFERENCE, "Legal basis", "Base juridique")
        add(s2.id, QuestionType.TEXT, "Which act?", "Quelle loi ?", required=True,
            condition_question_id=q3.id, condition_value="yes")
        if publish:
            today = utcnow().date()
            services.publish(db.session, q, everyone=False, state_codes=codes, groups=(),
                             opens_on=today - timedelta(days=1), closes_on=today + timedelta(days=30), actor=ACTOR)
            q.published_at = utcnow() - timedelta(days=1)
        q.share_responses = share
        q.reminder_interval_days = reminder_days
        db.session.commit()
        return q


def questions(q: Questionnaire) -> dict[str, Question]:
    return {question.code: question for question in q.ordered_questions()}


def autosave(client: Any, csrf: str, question: Question, value: Any, version: int = 0):  # type: ignore[no-untyped-def]
    return client.post(f"/questionnaires/api/answers/{question.id}", json={"value": value, "version": version},
                       headers={"X-CSRFToken": csrf, "Accept": "application/json"})


def page_csrf(client: Any, questionnaire: Questionnaire) -> str:
    from tests.conftest import csrf_from

    return csrf_from(client.get(f"/questionnaires/{questionnaire.id}/response").get_data(as_text=True))


# -- objects for tests/security/world.py --------------------------------------------------------

WORLD_ARGS = ("questionnaire_id", "question_id", "section_id", "document_id")


def make_world_object(app: Flask, arg: str, party_code: str) -> int:
    """A published questionnaire sent only to party_code (and its objects), so another State's
    user gets 404 and the State's own users and the Secretariat reach it."""
    state = party_code if party(party_code).is_state else "NLD"
    q = build(app, codes=(state,))
    if arg == "questionnaire_id":
        return q.id
    if arg == "question_id":
        return questions(q)["Q1"].id
    if arg == "section_id":
        draft = build(app, codes=(state,), publish=False)
        return draft.sections[0].id
    from cooperation.questionnaires import files
    from cooperation.questionnaires.models import StoredFile

    with force_locale("en"):
        checked = files.check(io.BytesIO(PDF), "law.pdf")
        stored = StoredFile(party_id=party(state).id, questionnaire_id=q.id, stored_name=files.store(checked),
                            original_name="law.pdf", content_type=checked.content_type, size=len(PDF),
                            sha256=checked.sha256)
        db.session.add(stored)
        db.session.flush()
        return stored.id
