"""Travel reports: who receives them, who sees them, and the audited steps of their follow-up.

Recipients. A report goes to the Court (every user of the Registry and the Office of the
Prosecutor who takes part in threads) and to the designated Bureau focal points on
non-cooperation -- persons, not their States (cooperation_noncooperation.models). The reporting
State's own users take part in the thread too (it is their State's report), but they are not
"recipients": nobody alerts them and their reading is not tracked. Only people with published
keys can be members of an encrypted thread; the report page names those who could not be reached.

Who sees a report (list, status, follow-up): the reporting State's users, its recipients, and
every Court user (the Court sees every report it received). Everyone else -- other States, the
Secretariat -- gets NotFound, which the views answer with 404. Seeing the routing record is not
reading the report: only the thread's members can decrypt it, in their browser.

Services never commit; audit details carry ids, counts and categories, never report content
(the server has none) nor contact data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User, UserStatus
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.membership.models import OrganisationType, Party, PartyKind, PartyStatus
from cooperation.threads import services as threads
from cooperation.threads.models import Message, Thread, ThreadMember
from cooperation_travel.models import Outcome, Recipient, RecipientKind, Report
from cooperation_travel.permissions import COURT_ROLES, STATE_ROLES

COURT_ORGANISATIONS = (OrganisationType.REGISTRY, OrganisationType.PROSECUTOR)


class NotFound(LookupError):
    """Missing, or not visible to this user: the views answer 404 either way."""


class Invalid(ValueError):
    """A request breaks a rule; the message says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def plugin_enabled(name: str) -> bool:
    """Whether another plugin is enabled on this application: the focal points come from the
    non-cooperation plugin, the urgent channels from the directory; without them the report
    still reaches the Court (and the users' own addresses)."""
    return name in current_app.extensions["cooperation.plugins"].plugins


# -- who is who --------------------------------------------------------------------------------

def court_parties(session: Session) -> list[Party]:
    return list(session.scalars(select(Party).where(
        Party.kind == PartyKind.ORGANISATION, Party.organisation_type.in_(COURT_ORGANISATIONS),
        Party.status == PartyStatus.ACTIVE).order_by(Party.code)))


def is_court_user(user: User) -> bool:
    return (user.role in COURT_ROLES and user.party.kind == PartyKind.ORGANISATION
            and user.party.organisation_type in COURT_ORGANISATIONS)


def court_users(session: Session) -> list[User]:
    """Active Court users who may take part in threads."""
    ids = [p.id for p in court_parties(session)]
    users = session.scalars(select(User).where(User.party_id.in_(ids), User.role.in_(COURT_ROLES),
                                               User.status == UserStatus.ACTIVE).order_by(User.id))
    return [u for u in users if threads.may_participate(u)]


def focal_points(session: Session) -> list[User]:
    """The designated Bureau focal points (active designations of active State users of active
    States); none when the non-cooperation plugin is switched off."""
    if not plugin_enabled("noncooperation"):
        return []
    from cooperation_noncooperation.models import FocalPointDesignation

    users = session.scalars(
        select(User).join(FocalPointDesignation, FocalPointDesignation.user_id == User.id).join(User.party)
        .where(FocalPointDesignation.ended_at.is_(None), User.status == UserStatus.ACTIVE,
               User.role.in_(STATE_ROLES), Party.status == PartyStatus.ACTIVE)
        .order_by(User.id)).unique()
    return [u for u in users if threads.may_participate(u)]


def _has_keys(session: Session, user: User) -> bool:
    return threads.current_generation(session, user.id) is not None


@dataclass(frozen=True)
class Plan:
    """What the reporter's browser needs to build the encrypted thread: the parties to take
    part (besides the reporter's own) and, for the focal points' States, which of their users
    are members (the focal points only, never their whole State)."""

    court_codes: tuple[str, ...]
    focal_party_codes: tuple[str, ...]
    focal_user_ids: tuple[int, ...]
    reachable_court_users: int
    without_keys: tuple[User, ...] = field(default=())

    @property
    def parties(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.court_codes, *self.focal_party_codes]))


def plan(session: Session, reporter: User) -> Plan:
    court = court_users(session)
    focal = [u for u in focal_points(session) if u.id != reporter.id]
    missing = [u for u in [*court, *focal] if not _has_keys(session, u)]
    focal_parties = [u.party.code for u in focal if u.party_id != reporter.party_id]
    return Plan(court_codes=tuple(p.code for p in court_parties(session)),
                focal_party_codes=tuple(dict.fromkeys(focal_parties)),
                focal_user_ids=tuple(u.id for u in focal),
                reachable_court_users=sum(1 for u in court if _has_keys(session, u)),
                without_keys=tuple(missing))


# -- sending -------------------------------------------------------------------------------------

def register(session: Session, reporter: User, thread_id: str, actor: Actor) -> Report:
    """Record a report whose thread the reporter's browser has just created and filled: the
    thread must exist, be the reporter's own, carry its first message, reach at least one Court
    user, and not be registered already. Its recipients are the thread's members who are Court
    users or designated focal points."""
    try:
        thread, _member = threads.membership(session, reporter, thread_id)
    except threads.NotFound:
        raise Invalid(_("This encrypted thread does not exist or is not yours.")) from None
    if thread.created_by_id != reporter.id:
        raise Invalid(_("Only the person who created the encrypted thread can send it as a report."))
    if session.scalar(select(Report.id).where(Report.thread_id == thread.id)) is not None:
        raise Invalid(_("This report was sent already."))
    has_message = session.scalar(select(exists().where(Message.thread_id == thread.id,
                                                       Message.sender_id == reporter.id)))
    if thread.epoch < 1 or not has_message:
        raise Invalid(_("The report's encrypted content is missing: write the report before sending it."))
    members = {m.user_id for m in threads.thread_members(session, thread)} - {reporter.id}
    court = {u.id for u in court_users(session)} & members
    if not court:
        raise Invalid(_("Nobody at the Court could read this report: no Court user has set up "
                        "encryption. Use the Court's urgent telephone line."))
    focal = {u.id for u in focal_points(session)} & members
    now = utcnow()
    report = Report(thread_id=thread.id, reporting_party_id=reporter.party_id, reported_by_id=reporter.id,
                    created_at=now, urgent_channels=0)
    report.recipients = [Recipient(user_id=uid, kind=RecipientKind.COURT if uid in court else RecipientKind.FOCAL_POINT)
                         for uid in sorted(court | focal)]
    session.add(report)
    session.flush()
    record(session, "travel.report.send", actor, target_type="travel_report", target_id=report.id,
           details={"thread_id": thread.id, "court_recipients": len(court), "focal_points": len(focal - court)})
    return report


# -- reading -------------------------------------------------------------------------------------

def _visible_clause(user: User):  # type: ignore[no-untyped-def]
    received = select(Recipient.id).where(Recipient.report_id == Report.id, Recipient.user_id == user.id)
    return or_(Report.reporting_party_id == user.party_id, exists(received))


def sees_all(user: User) -> bool:
    return is_court_user(user)


def visible_reports(session: Session, user: User) -> list[Report]:
    stmt = select(Report)
    if not sees_all(user):
        if user.role not in STATE_ROLES:
            return []
        stmt = stmt.where(_visible_clause(user))
    return list(session.scalars(stmt.order_by(Report.created_at.desc(), Report.id.desc())).unique())


def readable_report(session: Session, user: User, report_id: int) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(report_id)
    if sees_all(user):
        return report
    if user.role in STATE_ROLES and (report.reporting_party_id == user.party_id
                                     or any(r.user_id == user.id for r in report.recipients)):
        return report
    raise NotFound(report_id)


def recipient(report: Report, user: User) -> Recipient | None:
    return next((r for r in report.recipients if r.user_id == user.id), None)


def is_member(session: Session, report: Report, user: User) -> bool:
    """Whether the user is a current member of the report's thread (can decrypt it)."""
    try:
        threads.membership(session, user, report.thread_id)
    except threads.NotFound:
        return False
    return True


def thread_of(session: Session, report: Report) -> Thread | None:
    return session.get(Thread, report.thread_id)


def member_ids(session: Session, report: Report) -> set[int]:
    return set(session.scalars(select(ThreadMember.user_id).where(ThreadMember.thread_id == report.thread_id,
                                                                  ThreadMember.removed_at.is_(None))))


# -- follow-up -----------------------------------------------------------------------------------

def mark_read(session: Session, report: Report, user: User, actor: Actor) -> bool:
    """The recipient's browser decrypted and showed the report: keep the first time. Returns
    whether anything was recorded (not for the reporting State's own users, nor twice)."""
    found = recipient(report, user)
    if found is None or found.first_read_at is not None:
        return False
    found.first_read_at = utcnow()
    session.flush()
    record(session, "travel.report.read", actor, target_type="travel_report", target_id=report.id,
           details={"kind": found.kind.value})
    return True


def _check_court_member(session: Session, report: Report, user: User) -> None:
    if not is_court_user(user):
        raise NotFound(report.id)
    if not is_member(session, report, user):
        raise Invalid(_("Only a Court participant of the report's encrypted thread, who can read it, "
                        "can do this."))


def acknowledge(session: Session, report: Report, user: User, actor: Actor) -> bool:
    """The Court acknowledges receipt (once: a second acknowledgement changes nothing and
    returns False)."""
    _check_court_member(session, report, user)
    if report.acknowledged_at is not None:
        return False
    report.acknowledged_at = utcnow()
    report.acknowledged_by_id = user.id
    session.flush()
    record(session, "travel.report.acknowledge", actor, target_type="travel_report", target_id=report.id,
           details={"minutes_after_report": int((report.acknowledged_at - report.created_at).total_seconds() // 60)})
    return True


def record_outcome(session: Session, report: Report, user: User, outcome: Outcome, actor: Actor) -> bool:
    """Record (or correct) the outcome category; returns False if it was that already."""
    _check_court_member(session, report, user)
    if report.acknowledged_at is None:
        raise Invalid(_("Acknowledge receipt of the report before recording its outcome."))
    if report.outcome == outcome:
        return False
    previous = report.outcome
    report.outcome = outcome
    report.outcome_recorded_at = utcnow()
    report.outcome_recorded_by_id = user.id
    session.flush()
    record(session, "travel.report.outcome", actor, target_type="travel_report", target_id=report.id,
           details={"outcome": outcome.value, "previous": previous.value if previous else None})
    return True


# -- alerts --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Channel:
    """An urgent channel of the directory of contact points: its entry id (for the audit log)
    and its address (for the mail only)."""

    contact_id: int
    address: str


def urgent_channels(session: Session, report: Report) -> list[Channel]:
    """The directory's urgent (after-hours) e-mail addresses for arrest and surrender of the
    reporting State and of the Court's organisations, when the directory plugin is enabled.
    Not those of the focal points' States: a focal point is a person, alerted at his or her own
    address, and his or her State's duty officers are no recipients of the report."""
    if not plugin_enabled("directory"):
        return []
    from cooperation_directory.models import ContactPoint, Topic

    parties = [report.reporting_party_id, *(p.id for p in court_parties(session))]
    rows = session.scalars(select(ContactPoint).where(
        ContactPoint.party_id.in_(parties), ContactPoint.topic == Topic.ARREST_SURRENDER,
        ContactPoint.urgent_email != "").order_by(ContactPoint.id))
    return [Channel(c.id, c.urgent_email) for c in rows]


def recipients_to_alert(report: Report) -> list[Recipient]:
    return [r for r in report.recipients if r.user.status == UserStatus.ACTIVE]


def record_alerts(session: Session, report: Report, alerted: Iterable[int], channels: list[Channel],
                  channels_sent: int, failed: int, actor: Actor) -> None:
    """After the mails: when each recipient was alerted, and how many channels were."""
    now = utcnow()
    done = set(alerted)
    for item in report.recipients:
        if item.user_id in done and item.alerted_at is None:
            item.alerted_at = now
    report.urgent_channels = channels_sent
    session.flush()
    record(session, "travel.report.alert", actor, target_type="travel_report", target_id=report.id,
           outcome="success" if not failed else "failure",
           details={"recipients": len(done), "urgent_channels": channels_sent,
                    "directory_entries": [c.contact_id for c in channels], "failed": failed})
