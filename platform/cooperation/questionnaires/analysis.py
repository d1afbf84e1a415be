"""Analysis for the Secretariat and the Registry: per-question counts and shares over the States'
latest submissions (filterable by regional group), a comparison of all States for one question,
response tracking and response rates over time. Reads snapshots in a few queries, whatever the
number of questions, so a 125-State, 150-question questionnaire stays fast."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, selectinload

from cooperation.membership.models import Party, RegionalGroup
from cooperation.questionnaires import values
from cooperation.questionnaires.models import (
    Question,
    Questionnaire,
    QuestionType,
    Response,
    ResponseStatus,
    Revision,
    Target,
)

STATUS_LABELS = {
    "not_started": _l("Not started"),
    "in_progress": _l("In progress"),
    "submitted": _l("Submitted"),
}


@dataclass(frozen=True)
class Submission:
    party: Party
    response: Response
    revision: Revision
    values: dict[int, Any]


def targets(session: Session, questionnaire: Questionnaire, group: RegionalGroup | None = None) -> list[Party]:
    query = (select(Party).join(Target, Target.party_id == Party.id)
             .where(Target.questionnaire_id == questionnaire.id).order_by(Party.name_en))
    if group is not None:
        query = query.where(Party.regional_group == group)
    return list(session.scalars(query))


def latest_submissions(session: Session, questionnaire: Questionnaire,
                       group: RegionalGroup | None = None) -> list[Submission]:
    latest = (select(Revision.response_id, func.max(Revision.number).label("number"))
              .join(Response, Response.id == Revision.response_id)
              .where(Response.questionnaire_id == questionnaire.id)
              .group_by(Revision.response_id).subquery())
    query = (select(Response, Revision)
             .join(latest, latest.c.response_id == Response.id)
             .join(Revision, and_(Revision.response_id == Response.id, Revision.number == latest.c.number))
             .join(Party, Party.id == Response.party_id)
             .where(Response.questionnaire_id == questionnaire.id).order_by(Party.name_en))
    if group is not None:
        query = query.where(Party.regional_group == group)
    return [Submission(response.party, response, revision, {int(k): v for k, v in (revision.answers or {}).items()})
            for response, revision in session.execute(query).tuples()]


@dataclass
class Bar:
    key: str
    label: str
    count: int
    share: float  # of the States that answered the question


@dataclass
class QuestionStats:
    question: Question
    answered: int
    submissions: int
    bars: list[Bar] = field(default_factory=list)
    numbers: dict[str, str] | None = None


def load(session: Session, questionnaire_id: int) -> Questionnaire | None:
    """The questionnaire with its sections, questions, options and conditions in four queries
    (not one per question)."""
    return session.scalar(select(Questionnaire).where(Questionnaire.id == questionnaire_id).options(
        selectinload(Questionnaire.sections),
        selectinload(Questionnaire.questions).selectinload(Question.options),
        selectinload(Questionnaire.questions).selectinload(Question.condition_question)))


def answers_by_question(submissions: list[Submission]) -> dict[int, list[Any]]:
    """One pass over the snapshots (which hold only non-empty answers)."""
    out: dict[int, list[Any]] = {}
    for submission in submissions:
        for question_id, value in submission.values.items():
            out.setdefault(question_id, []).append(value)
    return out


def question_stats(question: Question, submissions: list[Submission], locale: str,
                   answered: list[Any] | None = None) -> QuestionStats:
    if answered is None:
        answered = [s.values[question.id] for s in submissions if not values.is_empty(s.values.get(question.id))]
    stats = QuestionStats(question, len(answered), len(submissions))
    kind = question.qtype
    if kind.can_be_condition:
        counts: Counter[str] = Counter()
        for value in answered:
            counts.update(value if isinstance(value, list) else [value])
        stats.bars = [Bar(key, values.option_label(question, key, locale), counts[key],
                          counts[key] / len(answered) if answered else 0.0)
                      for key in question.option_values()]
    elif kind == QuestionType.LEGAL_REFERENCE:
        counts = Counter(v.get("kind", "") for v in answered if isinstance(v, dict))
        labels = {"statute": str(_l("Rome Statute")), "national": str(_l("National act"))}
        stats.bars = [Bar(k, labels[k], counts[k], counts[k] / len(answered) if answered else 0.0)
                      for k in ("statute", "national")]
    elif kind == QuestionType.NUMBER and answered:
        numbers = sorted(Decimal(str(v)) for v in answered)
        stats.numbers = {"min": format(numbers[0], "f"), "median": format(statistics.median(numbers), "f"),
                         "max": format(numbers[-1], "f")}
    return stats


def dashboard(session: Session, questionnaire: Questionnaire, group: RegionalGroup | None,
              locale: str) -> tuple[list[QuestionStats], int, int]:
    """Per-question statistics, the number of submissions and of States it was sent to."""
    submissions = latest_submissions(session, questionnaire, group)
    sent_to = len(targets(session, questionnaire, group))
    by_question = answers_by_question(submissions)
    return ([question_stats(q, submissions, locale, by_question.get(q.id, []))
             for q in questionnaire.ordered_questions()], len(submissions), sent_to)


@dataclass(frozen=True)
class ComparisonRow:
    party: Party
    status: str
    value: Any
    submitted_on: date | None


def comparison(session: Session, question: Question, group: RegionalGroup | None) -> list[ComparisonRow]:
    questionnaire = question.questionnaire
    by_party = {s.party.id: s for s in latest_submissions(session, questionnaire, group)}
    statuses = response_statuses(session, questionnaire)
    rows = []
    for party in targets(session, questionnaire, group):
        submission = by_party.get(party.id)
        rows.append(ComparisonRow(party, statuses.get(party.id, "not_started"),
                                  submission.values.get(question.id) if submission else None,
                                  submission.revision.submitted_at.date() if submission else None))
    return rows


def response_statuses(session: Session, questionnaire: Questionnaire) -> dict[int, str]:
    rows = session.execute(select(Response.party_id, Response.status)
                           .where(Response.questionnaire_id == questionnaire.id)).tuples()
    return {party_id: ("submitted" if status == ResponseStatus.SUBMITTED else "in_progress")
            for party_id, status in rows}


@dataclass(frozen=True)
class TrackingRow:
    party: Party
    status: str
    response: Response | None


def tracking(session: Session, questionnaire: Questionnaire,
             group: RegionalGroup | None = None) -> tuple[list[TrackingRow], dict[str, Counter[str]]]:
    responses = {r.party_id: r for r in session.scalars(
        select(Response).where(Response.questionnaire_id == questionnaire.id))}
    rows: list[TrackingRow] = []
    by_group: dict[str, Counter[str]] = {}
    for party in targets(session, questionnaire, group):
        response = responses.get(party.id)
        status = "not_started" if response is None else (
            "submitted" if response.status == ResponseStatus.SUBMITTED else "in_progress")
        rows.append(TrackingRow(party, status, response))
        key = party.regional_group.value if party.regional_group else ""
        by_group.setdefault(key, Counter())[status] += 1
    return rows, by_group


def response_rates(session: Session, questionnaire: Questionnaire,
                   group: RegionalGroup | None = None) -> list[tuple[date, int, float]]:
    """(day, States that had submitted by then, share of the States it was sent to), one entry
    per day on which a first submission arrived."""
    first = (select(func.min(Revision.submitted_at))
             .join(Response, Response.id == Revision.response_id)
             .join(Party, Party.id == Response.party_id)
             .where(Response.questionnaire_id == questionnaire.id))
    if group is not None:
        first = first.where(Party.regional_group == group)
    first = first.group_by(Revision.response_id)
    days = Counter(moment.date() for moment in session.scalars(first) if moment is not None)
    total = len(targets(session, questionnaire, group)) or 1
    out, running = [], 0
    for day in sorted(days):
        running += days[day]
        out.append((day, running, running / total))
    return out
