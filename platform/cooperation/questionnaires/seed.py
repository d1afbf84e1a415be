"""Demo content (marked as demo): a questionnaire on national procedures for cooperation and on
financial investigations and asset recovery, written from the Assembly's reports, published to
all States, with demo responses for the Netherlands, Senegal (submitted) and Argentina (draft).
Idempotent: does nothing when a demo questionnaire exists. Called by `seed-demo`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User
from cooperation.audit.service import Actor
from cooperation.db import utcnow
from cooperation.membership.models import Party
from cooperation.questionnaires import responses, services
from cooperation.questionnaires.models import Questionnaire, QuestionType
from cooperation.questionnaires.services import Bilingual, OptionData, QuestionData

DATA = Path(__file__).resolve().parent / "data" / "demo_questionnaire.json"


def seed_demo(session: Session, echo: Callable[[str], None] = print) -> Questionnaire | None:
    # Outside a request (the CLI): messages of the services are rendered in English.
    with force_locale("en"):
        return _seed(session, echo)


def _seed(session: Session, echo: Callable[[str], None]) -> Questionnaire | None:
    if session.scalar(select(Questionnaire.id).where(Questionnaire.is_demo.is_(True))) is not None:
        echo("Demo questionnaire already present.")
        return None
    content = json.loads(DATA.read_text(encoding="utf-8"))
    actor = Actor.system("seed-demo")
    questionnaire = build(session, content, actor)
    today = utcnow().date()
    services.publish(session, questionnaire, everyone=True, state_codes=(), groups=(),
                     opens_on=today - timedelta(days=30), closes_on=today + timedelta(days=60), actor=actor)
    questionnaire.reminder_interval_days = 14
    answered = _demo_responses(session, questionnaire, content["responses"], actor, today)
    echo(f"Demo questionnaire published to all States, with demo responses for {', '.join(answered)}.")
    return questionnaire


def build(session: Session, content: dict[str, Any], actor: Actor, *, is_demo: bool = True) -> Questionnaire:
    questionnaire = services.create_questionnaire(
        session, title=Bilingual(content["title_en"], content["title_fr"]),
        description=Bilingual(content["description_en"], content["description_fr"]), user=None, actor=actor,
        is_demo=is_demo)
    keys: dict[str, int] = {}
    for section_data in content["sections"]:
        section = services.add_section(session, questionnaire,
                                       title=Bilingual(section_data["title_en"], section_data["title_fr"]), actor=actor)
        for item in section_data["questions"]:
            condition = item.get("condition")
            question = services.add_question(session, questionnaire, QuestionData(
                section_id=section.id, qtype=QuestionType(item["type"]),
                text=Bilingual(item["text_en"], item["text_fr"]),
                guidance=Bilingual(item.get("guidance_en", ""), item.get("guidance_fr", "")),
                required=bool(item.get("required")),
                options=[OptionData(*o) for o in item.get("options", [])],
                condition_question_id=keys[condition[0]] if condition else None,
                condition_value=condition[1] if condition else ""), actor)
            keys[item["key"]] = question.id
    session.flush()
    session.refresh(questionnaire)
    questionnaire.demo_keys = keys  # type: ignore[attr-defined]  # used just below, not stored
    return questionnaire


def _demo_responses(session: Session, questionnaire: Questionnaire, data: dict[str, Any], actor: Actor,
                    today: Any) -> list[str]:
    keys: dict[str, int] = questionnaire.demo_keys  # type: ignore[attr-defined]
    by_id = {q.id: q for q in questionnaire.questions}
    done = []
    for code, spec in data.items():
        party = session.scalar(select(Party).where(Party.code == code))
        if party is None:
            continue
        author = session.scalar(select(User).where(User.party_id == party.id).order_by(User.id))
        if author is None:
            continue  # seed-demo creates the demo accounts first; without one, no response
        for key, value in spec["answers"].items():
            responses.save_answer(session, question=by_id[keys[key]], party=party, raw=value, base_version=0,
                                  user=author, locale="en", actor=actor, today=today)
        if spec.get("submit"):
            responses.submit(session, questionnaire=questionnaire, party=party, user=author, actor=actor, today=today)
        if spec.get("share_profile"):
            responses.set_profile_consent(session, party=party, share=True, user=author, actor=actor)
        done.append(code)
    return done

