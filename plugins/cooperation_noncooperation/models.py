"""Case files on non-cooperation, the steps of the formal procedure, the good-offices
interactions of the informal one, the Bureau's focal points, the Assembly's sessions and the
reminders sent. Tables carry the plugin's prefix `noncooperation_`.

Who is a "Bureau focal point". The Bureau appoints focal points on non-cooperation per regional
group (ICC-ASP/17/Res.5, annex II; in 2020 Colombia, Croatia, Liechtenstein, the Republic of
Korea and Senegal, "ad country"), and the President of the Assembly serves ex officio for his or
her region. On the platform a focal point is a PERSON, not a State: the Secretariat designates
individual State users (the diplomats who carry the mandate) in `FocalPointDesignation`, with
the regional group they serve, and ends the designation when the mandate ends. A designation
opens the confidential case files to that person only, never to the rest of his or her State.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cooperation.accounts.models import User
from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db
from cooperation.membership.models import Party, RegionalGroup, _enum
from cooperation_noncooperation.deadlines import Scenario, StepKind


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class OwnerBody(enum.StrEnum):
    """Who carries a step out under the procedures."""

    SECRETARIAT = "secretariat"
    PRESIDENT = "president"
    BUREAU = "bureau"
    WORKING_GROUP = "working_group"  # the New York Working Group of the Bureau
    ASSEMBLY = "assembly"


DEFAULT_OWNER: dict[StepKind, OwnerBody] = {
    StepKind.FORWARD_DECISION: OwnerBody.SECRETARIAT,
    StepKind.EMERGENCY_BUREAU: OwnerBody.BUREAU,
    StepKind.OPEN_LETTER: OwnerBody.PRESIDENT,
    StepKind.BUREAU_MEETING: OwnerBody.BUREAU,
    StepKind.WORKING_GROUP_MEETING: OwnerBody.WORKING_GROUP,
    StepKind.BUREAU_REPORT: OwnerBody.BUREAU,
    StepKind.PLENARY: OwnerBody.ASSEMBLY,
}


class ConductedBy(enum.StrEnum):
    """Who conducted a good-offices interaction (para. 19)."""

    PRESIDENT = "president"
    FOCAL_POINT = "focal_point"
    BUREAU_MEMBER = "bureau_member"


class Case(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "noncooperation_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    scenario: Mapped[Scenario] = mapped_column(_enum(Scenario, "noncooperation_scenario"))
    situation: Mapped[str] = mapped_column(String(200))
    # The Court's decision (scenario 7(a)): its number and date, e.g. ICC-02/05-01/09.
    decision_reference: Mapped[str] = mapped_column(String(100), default="")
    decision_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Scenario 7(b): what is known of the arrest and surrender request about to fail.
    urgent_information: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "noncooperation_case_status"),
                                               default=CaseStatus.OPEN, index=True)
    # The open letter's time limit as written in it (None: the latest allowed, two weeks).
    response_deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    response_received_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    public_summary: Mapped[str] = mapped_column(Text, default="")
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    requested_party: Mapped[Party] = relationship(lazy="joined")
    steps: Mapped[list[Step]] = relationship(back_populates="case", cascade="all, delete-orphan",
                                             order_by="Step.id")
    interactions: Mapped[list[Interaction]] = relationship(
        back_populates="case", cascade="all, delete-orphan",
        order_by=lambda: (Interaction.occurred_on, Interaction.id))

    @property
    def reference(self) -> str:
        return f"NC-{self.id:04d}"

    @property
    def is_released(self) -> bool:
        return self.released_at is not None

    def step(self, kind: StepKind) -> Step | None:
        return next((s for s in self.steps if s.kind == kind), None)

    def __repr__(self) -> str:
        return f"<Case {self.id}>"


class Step(db.Model):  # type: ignore[name-defined,misc]
    """One step of the formal procedure. The seven steps are created with the case file
    (services.open_case), one per kind, and never added or removed afterwards."""

    __tablename__ = "noncooperation_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("noncooperation_case.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[StepKind] = mapped_column(_enum(StepKind, "noncooperation_step_kind"))
    owner_body: Mapped[OwnerBody] = mapped_column(_enum(OwnerBody, "noncooperation_owner_body"))
    # The person on the platform who follows the step up (and receives its reminders).
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    planned_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    completed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    not_applicable: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    case: Mapped[Case] = relationship(back_populates="steps")
    owner_user: Mapped[User | None] = relationship(foreign_keys=[owner_user_id], lazy="joined")

    def __repr__(self) -> str:
        return f"<Step {self.id} {self.kind}>"


class Interaction(db.Model):  # type: ignore[name-defined,misc]
    """One good-offices interaction of the informal procedure, and the President's oral report
    of it to the Bureau."""

    __tablename__ = "noncooperation_interaction"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("noncooperation_case.id", ondelete="CASCADE"),
                                         index=True)
    occurred_on: Mapped[date] = mapped_column(Date)
    conducted_by: Mapped[ConductedBy] = mapped_column(_enum(ConductedBy, "noncooperation_conducted_by"))
    # For a focal point: the regional group he or she serves.
    regional_group: Mapped[RegionalGroup | None] = mapped_column(
        _enum(RegionalGroup, "noncooperation_regional_group"), nullable=True)
    participants: Mapped[str] = mapped_column(String(300), default="")  # e.g. "Ambassador X"
    counterpart: Mapped[str] = mapped_column(String(300))  # officials of the requested State...
    summary: Mapped[str] = mapped_column(Text)
    reported_to_bureau_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    case: Mapped[Case] = relationship(back_populates="interactions")

    def __repr__(self) -> str:
        return f"<Interaction {self.id}>"


class FocalPointDesignation(db.Model):  # type: ignore[name-defined,misc]
    """A State user designated by the Secretariat as a Bureau focal point (see module doc)."""

    __tablename__ = "noncooperation_focal_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    regional_group: Mapped[RegionalGroup] = mapped_column(
        _enum(RegionalGroup, "noncooperation_focal_group"))
    designated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    designated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class AssemblySession(db.Model):  # type: ignore[name-defined,misc]
    """A session of the Assembly, for the three-month rule and the report and plenary dates."""

    __tablename__ = "noncooperation_assembly_session"
    __table_args__ = (UniqueConstraint("label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(100))  # e.g. "Twenty-fifth session"
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Reminder(db.Model):  # type: ignore[name-defined,misc]
    """One reminder per step per day at most (the unique constraint makes the command
    idempotent, also when two runs overlap)."""

    __tablename__ = "noncooperation_reminder"
    __table_args__ = (UniqueConstraint("step_id", "sent_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("noncooperation_step.id", ondelete="CASCADE"),
                                         index=True)
    sent_on: Mapped[date] = mapped_column(Date)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
