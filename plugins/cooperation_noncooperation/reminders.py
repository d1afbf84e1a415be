"""Reminders of steps that are overdue or due within two working days, by e-mail, once per step
per day at most. Operators run `flask --app cooperation noncooperation send-reminders` from cron
(daily). "Today" is the UTC date unless the command is given one.

Recipients: the person following the step up (if still allowed to see the case file), otherwise
every active Secretariat user. The mail names the case file by its reference and the step, with
a link; it never names the requested State nor carries any content of the case file (mail is not
a confidential channel).

Idempotence: a `Reminder` row (unique per step and day) is claimed BEFORE the mail is sent, so a
second run on the same day -- or an overlapping one -- sends nothing again. If no mail could be
sent, the claim is withdrawn so that a later run that day tries again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cooperation.accounts.models import User, UserStatus
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.mail import MailError, send_mail
from cooperation.permissions import Role
from cooperation_noncooperation import deadlines as d
from cooperation_noncooperation.forms import FLAG_LABELS, STEP_LABELS
from cooperation_noncooperation.models import Case, CaseStatus, Reminder, Step
from cooperation_noncooperation.services import assembly_sessions, eligible_owners, schedule_for, session_dates


@dataclass(frozen=True)
class Due:
    case: Case
    step: Step
    timing: d.Timing


def due(session: Session, today: date) -> list[Due]:
    sessions = session_dates(assembly_sessions(session))
    found = []
    for case in session.scalars(select(Case).where(Case.status == CaseStatus.OPEN).order_by(Case.id)):
        timings = schedule_for(case, sessions, today)
        for step in sorted(case.steps, key=lambda s: d.STEP_ORDER.index(s.kind)):
            if d.needs_reminder(timings[step.kind]):
                found.append(Due(case, step, timings[step.kind]))
    return found


def recipients(session: Session, step: Step) -> list[User]:
    allowed = {u.id: u for u in eligible_owners(session)}
    if step.owner_user_id in allowed:
        return [allowed[step.owner_user_id]]
    return list(session.scalars(select(User).where(User.role == Role.SECRETARIAT_ADMIN,
                                                   User.status == UserStatus.ACTIVE).order_by(User.id)))


def _claim(session: Session, step: Step, today: date) -> Reminder | None:
    already = session.scalar(select(Reminder.id).where(Reminder.step_id == step.id, Reminder.sent_on == today))
    if already is not None:
        return None
    claim = Reminder(step_id=step.id, sent_on=today, recipients=0, created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(claim)
    except IntegrityError:  # another run claimed it in the meantime
        return None
    return claim


def remind(session: Session, item: Due, today: date, actor: Actor) -> int | None:
    """Send the reminder of one step; returns the number of mails sent, or None if it was sent
    today already. The caller commits."""
    claim = _claim(session, item.step, today)
    if claim is None:
        return None
    users = recipients(session, item.step)
    link = url_for("noncooperation.case", case_id=item.case.id, _external=True,
                   _anchor=f"step-{item.step.kind.value}")
    sent = 0
    for user in users:
        try:
            send_mail(user.email, _subject(item), _body(item, link))
            sent += 1
        except MailError:
            continue
    details = {"case_id": item.case.id, "kind": item.step.kind.value, "flag": item.timing.flag.value,
               "recipients": sent, "sent_on": today.isoformat()}
    if not sent:
        session.delete(claim)
        session.flush()
        record(session, "noncooperation.reminder.send", actor, target_type="noncooperation_step",
               target_id=item.step.id, outcome="failure", details={**details, "tried": len(users)})
        return 0
    claim.recipients = sent
    session.flush()
    record(session, "noncooperation.reminder.send", actor, target_type="noncooperation_step",
           target_id=item.step.id, details=details)
    return sent


def _subject(item: Due) -> str:
    parts = []
    for locale in ("en", "fr"):
        with force_locale(locale):
            parts.append(_("Non-cooperation %(ref)s: %(flag)s", ref=item.case.reference,
                           flag=str(FLAG_LABELS[item.timing.flag]).lower()))
    return " / ".join(parts)[:200]


def _body(item: Due, link: str) -> str:
    deadline = item.timing.deadline.isoformat() if item.timing.deadline else "-"
    parts = []
    for locale in ("en", "fr"):
        with force_locale(locale):
            parts.append(_(
                "A step of the non-cooperation case file %(ref)s needs your attention.\n\n"
                "Step: %(step)s\nDeadline: %(day)s (%(flag)s)\n\n"
                "Sign in to the platform to see the case file; for its confidentiality this mail "
                "carries no content:\n\n%(link)s",
                ref=item.case.reference, step=str(STEP_LABELS[item.step.kind]), day=deadline,
                flag=str(FLAG_LABELS[item.timing.flag]).lower(), link=link))
    return "\n\n----------\n\n".join(parts)
