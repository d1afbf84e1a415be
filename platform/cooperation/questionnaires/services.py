"""Building questionnaires (Secretariat, Registry): sections, questions, options, conditions;
publishing to all States or a selection; new editions. A published questionnaire is frozen.

Services take a Session, audit in the same transaction and never commit (the view does)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.membership.models import Party, PartyKind, PartyStatus, RegionalGroup
from cooperation.questionnaires.models import (
    Option,
    Question,
    Questionnaire,
    QuestionnaireStatus,
    QuestionType,
    Section,
    Target,
)


class BuilderError(ValueError):
    """A refused change; `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Bilingual:
    en: str = ""
    fr: str = ""

    def require_one(self, message: str, field_name: str) -> None:
        if not (self.en.strip() or self.fr.strip()):
            raise BuilderError(message, field_name)


@dataclass(frozen=True)
class OptionData:
    value: str
    label_en: str
    label_fr: str


@dataclass(frozen=True)
class QuestionData:
    section_id: int
    qtype: QuestionType
    text: Bilingual
    guidance: Bilingual = Bilingual()
    required: bool = False
    options: Sequence[OptionData] = field(default_factory=tuple)
    condition_question_id: int | None = None
    condition_value: str = ""


def _frozen_check(questionnaire: Questionnaire) -> None:
    if questionnaire.is_frozen:
        raise BuilderError(_("This questionnaire is published and can no longer be changed. "
                             "Start a new edition to change its questions."))


def list_questionnaires(session: Session) -> list[Questionnaire]:
    return list(session.scalars(select(Questionnaire).order_by(Questionnaire.created_at.desc(),
                                                               Questionnaire.id.desc())))


def create_questionnaire(session: Session, *, title: Bilingual, description: Bilingual, user: User | None,
                         actor: Actor, is_demo: bool = False) -> Questionnaire:
    title.require_one(_("Enter the title in English or in French (ideally both)."), "title_en")
    questionnaire = Questionnaire(series_id=uuid.uuid4().hex, edition=1, title_en=title.en.strip(),
                                  title_fr=title.fr.strip(), description_en=description.en.strip(),
                                  description_fr=description.fr.strip(),
                                  created_by_id=user.id if user else None, is_demo=is_demo)
    session.add(questionnaire)
    session.flush()
    record(session, "questionnaire.create", actor, target_type="questionnaire", target_id=questionnaire.id)
    return questionnaire


def update_details(session: Session, questionnaire: Questionnaire, *, title: Bilingual,
                   description: Bilingual, actor: Actor) -> None:
    _frozen_check(questionnaire)
    title.require_one(_("Enter the title in English or in French (ideally both)."), "title_en")
    questionnaire.title_en, questionnaire.title_fr = title.en.strip(), title.fr.strip()
    questionnaire.description_en = description.en.strip()
    questionnaire.description_fr = description.fr.strip()
    record(session, "questionnaire.update", actor, target_type="questionnaire", target_id=questionnaire.id)


def update_settings(session: Session, questionnaire: Questionnaire, *, share_responses: bool,
                    reminder_interval_days: int | None, closes_on: date | None, actor: Actor) -> None:
    """Settings that may change after publication (they do not change the questions)."""
    if reminder_interval_days is not None and not 1 <= reminder_interval_days <= 365:
        raise BuilderError(_("Choose an interval between 1 and 365 days."), "reminder_interval_days")
    if closes_on is not None and questionnaire.opens_on is not None and closes_on < questionnaire.opens_on:
        raise BuilderError(_("The closing date must be on or after the opening date."), "closes_on")
    questionnaire.share_responses = share_responses
    questionnaire.reminder_interval_days = reminder_interval_days
    if closes_on is not None or not questionnaire.is_frozen:
        questionnaire.closes_on = closes_on
    record(session, "questionnaire.settings", actor, target_type="questionnaire", target_id=questionnaire.id,
           details={"share_responses": share_responses, "reminder_interval_days": reminder_interval_days,
                    "closes_on": closes_on.isoformat() if closes_on else None})


# -- sections -----------------------------------------------------------------------------------

def add_section(session: Session, questionnaire: Questionnaire, *, title: Bilingual, actor: Actor) -> Section:
    _frozen_check(questionnaire)
    title.require_one(_("Enter the section title in English or in French (ideally both)."), "title_en")
    position = max((s.position for s in questionnaire.sections), default=0) + 1
    section = Section(questionnaire=questionnaire, position=position, title_en=title.en.strip(),
                      title_fr=title.fr.strip())
    session.add(section)
    session.flush()
    record(session, "questionnaire.section.create", actor, target_type="questionnaire_section",
           target_id=section.id, details={"questionnaire": questionnaire.id})
    return section


def update_section(session: Session, section: Section, *, title: Bilingual, actor: Actor) -> None:
    _frozen_check(section.questionnaire)
    title.require_one(_("Enter the section title in English or in French (ideally both)."), "title_en")
    section.title_en, section.title_fr = title.en.strip(), title.fr.strip()
    record(session, "questionnaire.section.update", actor, target_type="questionnaire_section",
           target_id=section.id, details={"questionnaire": section.questionnaire_id})


def delete_section(session: Session, section: Section, actor: Actor) -> None:
    _frozen_check(section.questionnaire)
    if section.questions:
        raise BuilderError(_("Move or delete the questions of this section first."))
    questionnaire = section.questionnaire
    questionnaire.sections.remove(section)
    session.delete(section)
    record(session, "questionnaire.section.delete", actor, target_type="questionnaire_section",
           target_id=section.id, details={"questionnaire": questionnaire.id})


# -- questions ---------------------------------------------------------------------------------

_OPTION_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def parse_options(text: str) -> list[OptionData]:
    """One option a line: `code | English label | French label`; the code may be left out
    (`English | French`) and is then made from the English label."""
    options: list[OptionData] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3:
            code, en, fr = parts
        elif len(parts) == 2:
            code, en, fr = "", parts[0], parts[1]
        elif len(parts) == 1:
            code, en, fr = "", parts[0], ""
        else:
            raise BuilderError(_("Line %(n)d: write code | English label | French label.", n=number), "options")
        if not (en or fr):
            raise BuilderError(_("Line %(n)d: give a label in English or French.", n=number), "options")
        code = code.lower() or re.sub(r"[^a-z0-9]+", "-", (en or fr).lower()).strip("-")[:64] or f"option-{number}"
        if not _OPTION_CODE.match(code):
            raise BuilderError(_("Line %(n)d: the code may contain only lower-case letters, digits, - and _.",
                                 n=number), "options")
        if len(en) > 300 or len(fr) > 300:
            raise BuilderError(_("Line %(n)d: keep labels under 300 characters.", n=number), "options")
        if any(o.value == code for o in options):
            raise BuilderError(_("Line %(n)d: the code %(code)s is used twice.", n=number, code=code), "options")
        options.append(OptionData(code, en, fr))
    return options


def options_text(question: Question) -> str:
    return "\n".join(f"{o.value} | {o.label_en} | {o.label_fr}" for o in question.options)


def _next_code(questionnaire: Questionnaire) -> str:
    numbers = [int(q.code[1:]) for q in questionnaire.questions if re.fullmatch(r"Q\d+", q.code)]
    return f"Q{max(numbers, default=0) + 1}"


def _check_question(questionnaire: Questionnaire, data: QuestionData, question: Question | None) -> Section:
    section = next((s for s in questionnaire.sections if s.id == data.section_id), None)
    if section is None:
        raise BuilderError(_("Choose a section of this questionnaire."), "section_id")
    data.text.require_one(_("Enter the question in English or in French (ideally both)."), "text_en")
    if data.qtype.has_options and len(data.options) < 2:
        raise BuilderError(_("Give at least two options, one a line."), "options")
    if data.condition_question_id is not None:
        ordered = questionnaire.ordered_questions()
        condition = next((q for q in ordered if q.id == data.condition_question_id), None)
        if condition is None or (question is not None and condition.id == question.id):
            raise BuilderError(_("Choose an earlier question of this questionnaire."), "condition_question_id")
        if not condition.qtype.can_be_condition:
            raise BuilderError(_("Only a yes/no or choice question can decide whether another is shown."),
                               "condition_question_id")
        if question is not None and ordered.index(condition) > ordered.index(question):
            raise BuilderError(_("The deciding question must come before this one."), "condition_question_id")
        if data.condition_value not in condition.option_values():
            raise BuilderError(_("Choose one of the deciding question's values: %(values)s.",
                                 values=", ".join(condition.option_values())), "condition_value")
    return section


def add_question(session: Session, questionnaire: Questionnaire, data: QuestionData, actor: Actor) -> Question:
    _frozen_check(questionnaire)
    section = _check_question(questionnaire, data, None)
    position = max((q.position for q in section.questions), default=0) + 1
    question = Question(questionnaire=questionnaire, section=section, position=position,
                        code=_next_code(questionnaire), qtype=data.qtype)
    _apply(question, data)
    session.add(question)
    session.flush()
    record(session, "questionnaire.question.create", actor, target_type="questionnaire_question",
           target_id=question.id, details={"questionnaire": questionnaire.id})
    return question


def update_question(session: Session, question: Question, data: QuestionData, actor: Actor) -> None:
    questionnaire = question.questionnaire
    _frozen_check(questionnaire)
    section = _check_question(questionnaire, data, question)
    if section.id != question.section_id:
        question.section = section
        question.position = max((q.position for q in section.questions if q.id != question.id), default=0) + 1
    question.qtype = data.qtype
    _apply(question, data)
    session.flush()
    record(session, "questionnaire.question.update", actor, target_type="questionnaire_question",
           target_id=question.id, details={"questionnaire": questionnaire.id})


def _apply(question: Question, data: QuestionData) -> None:
    question.text_en, question.text_fr = data.text.en.strip(), data.text.fr.strip()
    question.guidance_en, question.guidance_fr = data.guidance.en.strip(), data.guidance.fr.strip()
    question.required = data.required
    question.condition_question_id = data.condition_question_id
    question.condition_value = data.condition_value if data.condition_question_id else ""
    wanted = list(data.options) if data.qtype.has_options else []
    existing = {o.value: o for o in question.options}
    question.options = []
    for position, item in enumerate(wanted, start=1):
        option = existing.get(item.value) or Option(value=item.value)
        option.position, option.label_en, option.label_fr = position, item.label_en, item.label_fr
        question.options.append(option)


def delete_question(session: Session, question: Question, actor: Actor) -> None:
    questionnaire = question.questionnaire
    _frozen_check(questionnaire)
    if any(q.condition_question_id == question.id for q in questionnaire.questions):
        raise BuilderError(_("Another question is shown depending on this one; change that first."))
    questionnaire.questions.remove(question)
    question.section.questions.remove(question)
    session.delete(question)
    record(session, "questionnaire.question.delete", actor, target_type="questionnaire_question",
           target_id=question.id, details={"questionnaire": questionnaire.id})


def move_question(session: Session, question: Question, direction: str, actor: Actor) -> None:
    _frozen_check(question.questionnaire)
    siblings = sorted(question.section.questions, key=lambda q: (q.position, q.id))
    index = siblings.index(question)
    other_index = index - 1 if direction == "up" else index + 1
    if not 0 <= other_index < len(siblings):
        return
    other = siblings[other_index]
    # A condition must stay after the question it depends on.
    first, second = (other, question) if direction == "up" else (question, other)
    if second.condition_question_id == first.id:
        raise BuilderError(_("A question cannot move above the question that decides whether it is shown."))
    for position, q in enumerate(siblings, start=1):
        q.position = position
    question.position, other.position = other.position, question.position
    record(session, "questionnaire.question.move", actor, target_type="questionnaire_question",
           target_id=question.id, details={"questionnaire": question.questionnaire_id, "direction": direction})


# -- publication -------------------------------------------------------------------------------

def active_states(session: Session) -> list[Party]:
    return list(session.scalars(select(Party).where(Party.kind == PartyKind.STATE,
                                                    Party.status == PartyStatus.ACTIVE).order_by(Party.name_en)))


def publish(session: Session, questionnaire: Questionnaire, *, everyone: bool, state_codes: Iterable[str],
            groups: Iterable[RegionalGroup], opens_on: date, closes_on: date, actor: Actor) -> list[Party]:
    _frozen_check(questionnaire)
    if not questionnaire.questions:
        raise BuilderError(_("Add at least one question before publishing."))
    if closes_on < opens_on:
        raise BuilderError(_("The closing date must be on or after the opening date."), "closes_on")
    states = active_states(session)
    if everyone:
        chosen = states
    else:
        codes, wanted_groups = set(state_codes), set(groups)
        chosen = [s for s in states if s.code in codes or s.regional_group in wanted_groups]
    if not chosen:
        raise BuilderError(_("Choose the States to send it to: all States, some States or a regional group."),
                           "audience")
    for party in chosen:
        session.add(Target(questionnaire_id=questionnaire.id, party_id=party.id))
    questionnaire.status = QuestionnaireStatus.PUBLISHED
    questionnaire.opens_on, questionnaire.closes_on = opens_on, closes_on
    questionnaire.published_at = utcnow()
    session.flush()
    record(session, "questionnaire.publish", actor, target_type="questionnaire", target_id=questionnaire.id,
           details={"states": len(chosen), "everyone": everyone, "opens_on": opens_on.isoformat(),
                    "closes_on": closes_on.isoformat()})
    return chosen


def new_edition(session: Session, questionnaire: Questionnaire, *, user: User | None, actor: Actor) -> Questionnaire:
    """A draft copy of a published questionnaire; question codes are kept, so each State's
    response can be pre-filled from its previous one."""
    if not questionnaire.is_frozen:
        raise BuilderError(_("Publish this edition before starting a new one."))
    latest = session.scalar(select(func.max(Questionnaire.edition))
                            .where(Questionnaire.series_id == questionnaire.series_id)) or 1
    copy = Questionnaire(series_id=questionnaire.series_id, edition=latest + 1, previous_id=questionnaire.id,
                         title_en=questionnaire.title_en, title_fr=questionnaire.title_fr,
                         description_en=questionnaire.description_en,
                         description_fr=questionnaire.description_fr,
                         reminder_interval_days=questionnaire.reminder_interval_days,
                         share_responses=questionnaire.share_responses, is_demo=questionnaire.is_demo,
                         created_by_id=user.id if user else None)
    session.add(copy)
    session.flush()
    sections = {}
    for s in questionnaire.sections:
        sections[s.id] = Section(questionnaire=copy, position=s.position, title_en=s.title_en, title_fr=s.title_fr)
        session.add(sections[s.id])
    session.flush()
    mapping: dict[int, Question] = {}
    for q in questionnaire.ordered_questions():
        new = Question(questionnaire=copy, section=sections[q.section_id], position=q.position, code=q.code,
                       qtype=q.qtype, text_en=q.text_en, text_fr=q.text_fr, guidance_en=q.guidance_en,
                       guidance_fr=q.guidance_fr, required=q.required, condition_value=q.condition_value,
                       options=[Option(position=o.position, value=o.value, label_en=o.label_en,
                                       label_fr=o.label_fr) for o in q.options])
        if q.condition_question_id in mapping:
            new.condition_question = mapping[q.condition_question_id]
        session.add(new)
        mapping[q.id] = new
    session.flush()
    record(session, "questionnaire.edition.create", actor, target_type="questionnaire", target_id=copy.id,
           details={"previous": questionnaire.id, "edition": copy.edition})
    return copy
