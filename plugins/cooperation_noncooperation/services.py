"""Non-cooperation logic: who sees which case file, the schedule of the formal procedure, and
audited changes.

Access (see permissions.py): a confidential case file -- every case file until its public
summary is released -- is seen by the Secretariat, the Court and the designated Bureau focal
points only; anyone else gets a 404, whatever the URL. After the release every member sees the
public summary (and only it). Services never commit; audit details carry ids, dates and field
names, never the content of a case file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User, UserStatus
from cooperation.audit.service import Actor, record
from cooperation.db import assign_changed, utcnow
from cooperation.membership.models import Party, PartyKind, PartyStatus, RegionalGroup
from cooperation.permissions import Role, has_permission
from cooperation.refusals import FieldRefusal
from cooperation_noncooperation import deadlines as d
from cooperation_noncooperation.models import (
    DEFAULT_OWNER,
    AssemblySession,
    Case,
    CaseStatus,
    ConductedBy,
    FocalPointDesignation,
    Interaction,
    OwnerBody,
    Step,
)
from cooperation_noncooperation.permissions import (
    CASES_CONFIDENTIAL,
    CASES_MANAGE,
    INTERACTIONS_RECORD,
)

STATE_ROLES = (Role.STATE_FOCAL_POINT, Role.STATE_MEMBER)


class NotFound(LookupError):
    """Missing, or not visible to this user: the views answer 404 either way."""


class Invalid(FieldRefusal):
    """A value breaks a rule; `field` names the form field, the message says what to do."""


# -- who sees what ---------------------------------------------------------------------------------

def active_designation(session: Session, user: User) -> FocalPointDesignation | None:
    if user.role not in STATE_ROLES or user.status != UserStatus.ACTIVE:
        return None
    return session.scalar(select(FocalPointDesignation).where(
        FocalPointDesignation.user_id == user.id, FocalPointDesignation.ended_at.is_(None)))


def is_focal_point(session: Session, user: User) -> bool:
    return active_designation(session, user) is not None


def sees_confidential(session: Session, user: User) -> bool:
    return has_permission(CASES_CONFIDENTIAL, user) or is_focal_point(session, user)


def can_record(session: Session, user: User) -> bool:
    """Good-offices interactions: the Secretariat and the designated focal points."""
    if not has_permission(INTERACTIONS_RECORD, user):
        return False
    return has_permission(CASES_MANAGE, user) or is_focal_point(session, user)


def visible_cases(session: Session, user: User, status: CaseStatus | None = None) -> list[Case]:
    stmt = select(Case).join(Case.requested_party)
    if not sees_confidential(session, user):
        stmt = stmt.where(Case.released_at.is_not(None))
    if status is not None:
        stmt = stmt.where(Case.status == status)
    return list(session.scalars(stmt.order_by(Case.status.desc(), Case.created_at.desc(), Case.id.desc()))
                .unique())


def readable_case(session: Session, user: User, case_id: int) -> tuple[Case, bool]:
    """The case and whether the user sees it in full (confidential) or its public summary only."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(case_id)
    if sees_confidential(session, user):
        return case, True
    if case.is_released:
        return case, False
    raise NotFound(case_id)


def confidential_case(session: Session, user: User, case_id: int) -> Case:
    case, full = readable_case(session, user, case_id)
    if not full:
        raise NotFound(case_id)
    return case


def case_step(case: Case, step_id: int) -> Step:
    step = next((s for s in case.steps if s.id == step_id), None)
    if step is None:
        raise NotFound(step_id)
    return step


def case_interaction(case: Case, interaction_id: int) -> Interaction:
    found = next((i for i in case.interactions if i.id == interaction_id), None)
    if found is None:
        raise NotFound(interaction_id)
    return found


# -- schedule ----------------------------------------------------------------------------------------

def assembly_sessions(session: Session) -> list[AssemblySession]:
    return list(session.scalars(select(AssemblySession).order_by(AssemblySession.opens_on)))


def session_dates(sessions: Iterable[AssemblySession]) -> tuple[d.Session, ...]:
    return tuple(d.Session(s.opens_on, s.closes_on) for s in sessions)


def facts_for(case: Case, sessions: tuple[d.Session, ...]) -> d.Facts:
    steps = {s.kind: d.StepRecord(planned=s.planned_on, done=s.completed_on,
                                  not_applicable=s.not_applicable) for s in case.steps}
    return d.Facts(scenario=case.scenario, decision=case.decision_date, steps=steps,
                   response_deadline=case.response_deadline,
                   response_received=case.response_received_on, sessions=sessions)


def schedule_for(case: Case, sessions: tuple[d.Session, ...], today: date) -> dict[d.StepKind, d.Timing]:
    return d.schedule(facts_for(case, sessions), today)


def session_named(sessions: Iterable[AssemblySession], dates: d.Session | None) -> AssemblySession | None:
    if dates is None:
        return None
    return next((s for s in sessions if (s.opens_on, s.closes_on) == (dates.opens, dates.closes)), None)


@dataclass(frozen=True)
class CaseSummary:
    """One line of the list: counts of flags and the nearest open deadline."""

    case: Case
    overdue: int = 0
    due_soon: int = 0
    next_step: d.Timing | None = None
    reports_overdue: int = 0


def summarise(case: Case, sessions: tuple[d.Session, ...], today: date) -> CaseSummary:
    if case.status == CaseStatus.CLOSED:
        return CaseSummary(case)
    timings = schedule_for(case, sessions, today).values()
    open_ones = sorted((t for t in timings if t.deadline and t.flag in
                        (d.Flag.OVERDUE, d.Flag.DUE_SOON, d.Flag.UPCOMING)),
                       key=lambda t: t.deadline)  # type: ignore[arg-type,return-value]
    reports = sum(d.oral_report_overdue(i.occurred_on, i.reported_to_bureau_on, today)
                  for i in case.interactions)
    return CaseSummary(case, overdue=sum(t.flag == d.Flag.OVERDUE for t in timings),
                       due_soon=sum(t.flag == d.Flag.DUE_SOON for t in timings),
                       next_step=open_ones[0] if open_ones else None, reports_overdue=reports)


# -- case files ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseData:
    requested_party_id: int
    scenario: d.Scenario
    situation: str
    decision_reference: str = ""
    decision_date: date | None = None
    urgent_information: str = ""
    status: CaseStatus = CaseStatus.OPEN

    def normalised(self) -> CaseData:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("situation", "decision_reference", "urgent_information"):
            values[name] = values[name].strip()
        return CaseData(**values)


def states(session: Session) -> list[Party]:
    return list(session.scalars(select(Party).where(Party.kind == PartyKind.STATE)
                                .order_by(Party.name_en)))


def _check_case(session: Session, data: CaseData, today: date) -> None:
    party = session.get(Party, data.requested_party_id)
    if party is None or not party.is_state:
        raise Invalid("requested_state", _("Choose the requested State from the list."))
    if not data.situation:
        raise Invalid("situation", _("Enter the situation, e.g. Darfur, Sudan (ICC-02/05)."))
    if data.scenario == d.Scenario.REFERRAL and data.decision_date is None:
        raise Invalid("decision_date", _("Enter the date of the Court's decision: it starts the "
                                         "formal procedure."))
    if data.decision_date is not None and data.decision_date > today:
        raise Invalid("decision_date", _("The date of the Court's decision cannot be in the future."))
    if data.scenario == d.Scenario.URGENT and not data.urgent_information:
        raise Invalid("urgent_information", _("Describe the information that the arrest and "
                                              "surrender request is about to fail."))


def open_case(session: Session, data: CaseData, user: User, actor: Actor, today: date) -> Case:
    data = data.normalised()
    _check_case(session, data, today)
    now = utcnow()
    case = Case(**asdict(data), created_at=now, updated_at=now, updated_by_id=user.id)
    case.steps = [Step(kind=kind, owner_body=DEFAULT_OWNER[kind], updated_at=now, updated_by_id=user.id)
                  for kind in d.STEP_ORDER]
    session.add(case)
    session.flush()
    record(session, "noncooperation.case.create", actor, target_type="noncooperation_case",
           target_id=case.id, details={"requested_party_id": case.requested_party_id,
                                       "scenario": case.scenario.value})
    return case


def update_case(session: Session, case: Case, data: CaseData, user: User, actor: Actor,
                today: date) -> list[str]:
    data = data.normalised()
    _check_case(session, data, today)
    changed = assign_changed(case, asdict(data))
    if not changed:
        return changed
    case.updated_at = utcnow()
    case.updated_by_id = user.id
    session.flush()
    record(session, "noncooperation.case.update", actor, target_type="noncooperation_case",
           target_id=case.id, details={"fields": sorted(changed), "status": case.status.value})
    return changed


def save_summary(session: Session, case: Case, summary: str, release: bool, user: User,
                 actor: Actor) -> str:
    """Keep the public summary; release it to all members or withdraw the release. Returns
    what happened: "released", "withdrawn", "saved" or "" (nothing changed)."""
    summary = summary.strip()
    if release and not summary:
        raise Invalid("summary", _("Write the public summary before releasing it."))
    outcome = ""
    if summary != case.public_summary:
        case.public_summary = summary
        outcome = "saved"
    if release and case.released_at is None:
        case.released_at = utcnow()
        outcome = "released"
    elif not release and case.released_at is not None:
        case.released_at = None
        outcome = "withdrawn"
    if not outcome:
        return outcome
    case.updated_at = utcnow()
    case.updated_by_id = user.id
    session.flush()
    action = {"released": "release", "withdrawn": "withdraw", "saved": "summary"}[outcome]
    record(session, f"noncooperation.case.{action}", actor, target_type="noncooperation_case",
           target_id=case.id, details={"summary_length": len(summary)})
    return outcome


# -- steps -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepData:
    owner_body: OwnerBody
    owner_user_id: int | None = None
    planned_on: date | None = None
    completed_on: date | None = None
    not_applicable: bool = False
    notes: str = ""
    # The open letter only: the time limit it sets and the response.
    response_deadline: date | None = None
    response_received_on: date | None = None


def eligible_owners(session: Session) -> list[User]:
    """Who may follow a step up: active Secretariat users and designated focal points."""
    secretariat = session.scalars(select(User).where(User.role == Role.SECRETARIAT_ADMIN,
                                                     User.status == UserStatus.ACTIVE))
    focal = session.scalars(select(User).join(FocalPointDesignation, FocalPointDesignation.user_id == User.id)
                            .where(FocalPointDesignation.ended_at.is_(None),
                                   User.status == UserStatus.ACTIVE, User.role.in_(STATE_ROLES)))
    found = {u.id: u for u in [*secretariat, *focal]}
    return sorted(found.values(), key=lambda u: (u.full_name.lower(), u.id))


def _check_step(session: Session, case: Case, step: Step, data: StepData, today: date) -> None:
    if data.owner_user_id is not None and data.owner_user_id not in {u.id for u in eligible_owners(session)}:
        raise Invalid("owner_user", _("Choose the person following the step up from the list."))
    if data.completed_on is not None:
        if data.completed_on > today:
            raise Invalid("completed_on", _("A step cannot be done on a date in the future. Enter "
                                            "the planned date instead."))
        if case.decision_date is not None and data.completed_on < case.decision_date:
            raise Invalid("completed_on", _("A step cannot be done before the Court's decision (%(day)s).",
                                            day=case.decision_date.isoformat()))
    if data.not_applicable and data.completed_on is not None:
        raise Invalid("not_applicable", _("A step that took place is not “not applicable”: clear "
                                          "one of the two."))
    if step.kind != d.StepKind.OPEN_LETTER:
        return
    letter = data.completed_on
    if letter is None and (data.response_deadline or data.response_received_on):
        raise Invalid("completed_on", _("Enter the date of the open letter first."))
    if letter is not None and data.response_deadline is not None:
        try:
            d.check_response_deadline(letter, data.response_deadline)
        except d.DeadlineError as exc:
            message = (_("The response deadline must be after the date of the open letter.")
                       if exc.code == "before_letter" else
                       _("The response deadline may be no more than two weeks after the open letter "
                         "(at the latest %(day)s).", day=(letter + d.RESPONSE_TIME_LIMIT).isoformat()))
            raise Invalid("response_deadline", message) from exc
    if letter is not None and data.response_received_on is not None:
        if data.response_received_on < letter:
            raise Invalid("response_received_on", _("The response cannot arrive before the open letter."))
        if data.response_received_on > today:
            raise Invalid("response_received_on", _("The response cannot be received in the future."))


def update_step(session: Session, case: Case, step: Step, data: StepData, user: User, actor: Actor,
                today: date) -> list[str]:
    data = StepData(**{**asdict(data), "notes": data.notes.strip()})
    _check_step(session, case, step, data, today)
    changed = []
    for name in ("owner_body", "owner_user_id", "planned_on", "completed_on", "not_applicable", "notes"):
        if getattr(step, name) != getattr(data, name):
            setattr(step, name, getattr(data, name))
            changed.append(name)
    if step.kind == d.StepKind.OPEN_LETTER:
        for name in ("response_deadline", "response_received_on"):
            if getattr(case, name) != getattr(data, name):
                setattr(case, name, getattr(data, name))
                changed.append(name)
    if not changed:
        return changed
    step.updated_at = case.updated_at = utcnow()
    step.updated_by_id = case.updated_by_id = user.id
    session.flush()
    record(session, "noncooperation.step.update", actor, target_type="noncooperation_step",
           target_id=step.id, details={"case_id": case.id, "kind": step.kind.value,
                                       "fields": sorted(changed),
                                       "completed_on": step.completed_on.isoformat() if step.completed_on else None})
    return changed


# -- good offices ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InteractionData:
    occurred_on: date
    conducted_by: ConductedBy
    counterpart: str
    summary: str
    participants: str = ""
    regional_group: RegionalGroup | None = None
    reported_to_bureau_on: date | None = None


def _check_interaction(data: InteractionData, today: date) -> InteractionData:
    data = InteractionData(**{**asdict(data), "counterpart": data.counterpart.strip(),
                              "summary": data.summary.strip(), "participants": data.participants.strip()})
    if data.occurred_on > today:
        raise Invalid("occurred_on", _("Record an interaction once it has taken place."))
    if data.reported_to_bureau_on is not None:
        if data.reported_to_bureau_on < data.occurred_on:
            raise Invalid("reported_to_bureau_on", _("The oral report cannot come before the interaction."))
        if data.reported_to_bureau_on > today:
            raise Invalid("reported_to_bureau_on", _("The oral report cannot be in the future."))
    if not data.counterpart:
        raise Invalid("counterpart", _("Say with whom the interaction took place."))
    if not data.summary:
        raise Invalid("summary", _("Summarise the interaction."))
    return data


def record_interaction(session: Session, case: Case, data: InteractionData, user: User, actor: Actor,
                       today: date) -> Interaction:
    if not can_record(session, user):
        raise NotFound(case.id)
    data = _check_interaction(data, today)
    now = utcnow()
    interaction = Interaction(case_id=case.id, recorded_by_id=user.id, created_at=now, updated_at=now,
                              **asdict(data))
    session.add(interaction)
    session.flush()
    record(session, "noncooperation.interaction.create", actor, target_type="noncooperation_interaction",
           target_id=interaction.id, details={"case_id": case.id, "conducted_by": data.conducted_by.value,
                                              "occurred_on": data.occurred_on.isoformat()})
    return interaction


def update_interaction(session: Session, case: Case, interaction: Interaction, data: InteractionData,
                       user: User, actor: Actor, today: date) -> list[str]:
    if not can_record(session, user):
        raise NotFound(interaction.id)
    data = _check_interaction(data, today)
    changed = assign_changed(interaction, asdict(data))
    if not changed:
        return changed
    interaction.updated_at = utcnow()
    session.flush()
    details: dict[str, object] = {"case_id": case.id, "fields": sorted(changed)}
    if "reported_to_bureau_on" in changed and interaction.reported_to_bureau_on:
        details["reported_to_bureau_on"] = interaction.reported_to_bureau_on.isoformat()
    record(session, "noncooperation.interaction.update", actor, target_type="noncooperation_interaction",
           target_id=interaction.id, details=details)
    return changed


# -- focal points ------------------------------------------------------------------------------------

def designations(session: Session, *, active_only: bool = True) -> list[FocalPointDesignation]:
    stmt = select(FocalPointDesignation)
    if active_only:
        stmt = stmt.where(FocalPointDesignation.ended_at.is_(None))
    return list(session.scalars(stmt.order_by(FocalPointDesignation.regional_group,
                                              FocalPointDesignation.designated_at)).unique())


def designable_users(session: Session) -> list[User]:
    """Active State users not designated already."""
    taken = select(FocalPointDesignation.user_id).where(FocalPointDesignation.ended_at.is_(None))
    return list(session.scalars(select(User).join(User.party).where(
        User.role.in_(STATE_ROLES), User.status == UserStatus.ACTIVE, Party.status == PartyStatus.ACTIVE,
        User.id.not_in(taken))
        .order_by(Party.name_en, User.full_name)).unique())


def designate(session: Session, user_id: int, group: RegionalGroup, by: User, actor: Actor
              ) -> FocalPointDesignation:
    target = session.get(User, user_id)
    if target is None or target.id not in {u.id for u in designable_users(session)}:
        raise Invalid("user", _("Choose an active State user who is not designated already."))
    designation = FocalPointDesignation(user_id=target.id, regional_group=group, designated_at=utcnow(),
                                        designated_by_id=by.id)
    session.add(designation)
    session.flush()
    record(session, "noncooperation.focal_point.designate", actor, target_type="user", target_id=target.id,
           details={"designation_id": designation.id, "regional_group": group.value,
                    "party_id": target.party_id})
    return designation


def end_designation(session: Session, designation_id: int, by: User, actor: Actor) -> FocalPointDesignation:
    designation = session.get(FocalPointDesignation, designation_id)
    if designation is None or designation.ended_at is not None:
        raise Invalid("designation", _("This designation has ended already."))
    designation.ended_at = utcnow()
    designation.ended_by_id = by.id
    session.flush()
    record(session, "noncooperation.focal_point.end", actor, target_type="user",
           target_id=designation.user_id, details={"designation_id": designation.id})
    return designation


# -- Assembly sessions -------------------------------------------------------------------------------

def add_session(session: Session, label: str, opens_on: date, closes_on: date, place: str,
                actor: Actor) -> AssemblySession:
    label, place = label.strip(), place.strip()
    if closes_on < opens_on:
        raise Invalid("closes_on", _("A session cannot close before it opens."))
    if session.scalar(select(AssemblySession.id).where(AssemblySession.label == label)) is not None:
        raise Invalid("label", _("A session with this name exists already."))
    overlapping = session.scalar(select(AssemblySession.id).where(
        AssemblySession.opens_on <= closes_on, AssemblySession.closes_on >= opens_on))
    if overlapping is not None:
        raise Invalid("opens_on", _("These dates overlap another session."))
    found = AssemblySession(label=label, opens_on=opens_on, closes_on=closes_on, place=place,
                            created_at=utcnow())
    session.add(found)
    session.flush()
    record(session, "noncooperation.session.create", actor, target_type="noncooperation_assembly_session",
           target_id=found.id, details={"opens_on": opens_on.isoformat(), "closes_on": closes_on.isoformat()})
    return found


def remove_session(session: Session, session_id: int, actor: Actor) -> None:
    found = session.get(AssemblySession, session_id)
    if found is None:
        raise Invalid("session", _("This session was removed already."))
    details = {"opens_on": found.opens_on.isoformat(), "closes_on": found.closes_on.isoformat()}
    session.delete(found)
    session.flush()
    record(session, "noncooperation.session.delete", actor, target_type="noncooperation_assembly_session",
           target_id=session_id, details=details)
