"""E-mail reminders to States that have not submitted, at the interval the Secretariat set.
Operators run `flask --app cooperation questionnaires send-reminders` from cron; it sends only
what is due, records when, and audits (ids only, never answer content)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User, UserStatus
from cooperation.audit.service import Actor, record
from cooperation.mail import MailError, send_mail
from cooperation.permissions import Role
from cooperation.questionnaires.models import (
    Questionnaire,
    QuestionnaireStatus,
    Response,
    ResponseStatus,
    Target,
)
from cooperation.questionnaires.text import field


@dataclass(frozen=True)
class Due:
    questionnaire: Questionnaire
    target: Target


def due(session: Session, now: datetime) -> list[Due]:
    today = now.date()
    found: list[Due] = []
    questionnaires = session.scalars(select(Questionnaire).where(
        Questionnaire.status == QuestionnaireStatus.PUBLISHED,
        Questionnaire.reminder_interval_days.is_not(None)))
    for questionnaire in questionnaires:
        if not questionnaire.is_open(today) or not questionnaire.reminder_interval_days:
            continue
        submitted = set(session.scalars(select(Response.party_id).where(
            Response.questionnaire_id == questionnaire.id, Response.status == ResponseStatus.SUBMITTED)))
        interval = timedelta(days=questionnaire.reminder_interval_days)
        for target in session.scalars(select(Target).where(Target.questionnaire_id == questionnaire.id)
                                      .order_by(Target.id)):
            if target.party_id in submitted:
                continue
            since = target.last_reminded_at or questionnaire.published_at
            if since is None or now - since >= interval:
                found.append(Due(questionnaire, target))
    return found


def recipients(session: Session, party_id: int) -> list[User]:
    return list(session.scalars(select(User).where(
        User.party_id == party_id, User.status == UserStatus.ACTIVE,
        User.role.in_((Role.STATE_FOCAL_POINT, Role.STATE_MEMBER))).order_by(User.id)))


def remind(session: Session, item: Due, now: datetime, actor: Actor) -> int:
    """Mail the State's active users; returns how many were sent. The time is recorded even
    when the State has no user yet, so it is not retried every run."""
    questionnaire, target = item.questionnaire, item.target
    users = recipients(session, target.party_id)
    link = url_for("questionnaires.respond", questionnaire_id=questionnaire.id, _external=True)
    sent = 0
    failed = False
    for user in users:
        try:
            send_mail(user.email, _subject(questionnaire), _body(questionnaire, target, link))
            sent += 1
        except MailError:
            failed = True
    if failed and not sent:
        record(session, "questionnaire.reminder.send", actor, target_type="questionnaire",
               target_id=questionnaire.id, outcome="failure",
               details={"party": target.party.code, "recipients": len(users)})
        return 0
    target.last_reminded_at = now
    record(session, "questionnaire.reminder.send", actor, target_type="questionnaire", target_id=questionnaire.id,
           details={"party": target.party.code, "recipients": sent})
    return sent


def _subject(questionnaire: Questionnaire) -> str:
    return (f"Reminder / Rappel : {field(questionnaire, 'title', 'en').text}")[:200]


def _body(questionnaire: Questionnaire, target: Target, link: str) -> str:
    parts = []
    for locale in ("en", "fr"):
        with force_locale(locale):
            closes = questionnaire.closes_on.isoformat() if questionnaire.closes_on else "-"
            parts.append(_(
                "The questionnaire \"%(title)s\" is waiting for the response of %(state)s. "
                "It closes on %(day)s.\n\nYour colleagues' draft is saved on the platform; the focal "
                "point submits it when it is complete:\n\n%(link)s",
                title=field(questionnaire, "title", locale).text, state=target.party.name(locale),
                day=closes, link=link))
    return "\n\n----------\n\n".join(parts)
