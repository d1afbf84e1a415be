"""Questionnaires, their sections, questions and options; the States they were sent to; each
State's response, its answers (with a version number each, for optimistic concurrency), the
snapshot taken at every submission, uploaded files and the State's sharing consent.

Every table carries the `questionnaire_` prefix (its own Alembic branch, 0001_questionnaires).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db
from cooperation.membership.models import Party, _enum


class QuestionType(enum.StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    YES_NO = "yes_no"
    SINGLE = "single_choice"
    MULTIPLE = "multiple_choice"
    NUMBER = "number"
    DATE = "date"
    FILE = "file"
    LEGAL_REFERENCE = "legal_reference"

    @property
    def has_options(self) -> bool:
        return self in (QuestionType.SINGLE, QuestionType.MULTIPLE)

    @property
    def can_be_condition(self) -> bool:
        return self in (QuestionType.YES_NO, QuestionType.SINGLE, QuestionType.MULTIPLE)


class QuestionnaireStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class ResponseStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"


class Questionnaire(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "questionnaire_form"
    __table_args__ = (UniqueConstraint("series_id", "edition"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # All editions of one questionnaire share a series id; the edition number counts up.
    series_id: Mapped[str] = mapped_column(String(32), index=True)
    edition: Mapped[int] = mapped_column(Integer, default=1)
    previous_id: Mapped[int | None] = mapped_column(
        ForeignKey("questionnaire_form.id", ondelete="SET NULL"), nullable=True)
    title_en: Mapped[str] = mapped_column(String(300), default="")
    title_fr: Mapped[str] = mapped_column(String(300), default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_fr: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[QuestionnaireStatus] = mapped_column(
        _enum(QuestionnaireStatus, "questionnaire_status"), default=QuestionnaireStatus.DRAFT)
    opens_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    closes_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    reminder_interval_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Whether the States it was sent to may read each other's submitted responses.
    share_responses: Mapped[bool] = mapped_column(Boolean, default=False)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    sections: Mapped[list[Section]] = relationship(
        back_populates="questionnaire", order_by="Section.position", cascade="all, delete-orphan")
    questions: Mapped[list[Question]] = relationship(
        back_populates="questionnaire", order_by="Question.position",
        cascade="all, delete-orphan", overlaps="section,questions")
    previous: Mapped[Questionnaire | None] = relationship(remote_side="Questionnaire.id")

    @property
    def is_frozen(self) -> bool:
        return self.status == QuestionnaireStatus.PUBLISHED

    def is_open(self, today: date) -> bool:
        if self.status != QuestionnaireStatus.PUBLISHED:
            return False
        if self.opens_on is not None and today < self.opens_on:
            return False
        return not (self.closes_on is not None and today > self.closes_on)

    def ordered_questions(self) -> list[Question]:
        """Questions in the order a State sees them: by section, then by position."""
        order = {s.id: i for i, s in enumerate(self.sections)}
        return sorted(self.questions, key=lambda q: (order.get(q.section_id, 0), q.position, q.id))


class Section(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "questionnaire_section"

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_form.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title_en: Mapped[str] = mapped_column(String(300), default="")
    title_fr: Mapped[str] = mapped_column(String(300), default="")

    questionnaire: Mapped[Questionnaire] = relationship(back_populates="sections")
    questions: Mapped[list[Question]] = relationship(
        back_populates="section", order_by="Question.position", overlaps="questions")


class Question(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "questionnaire_question"
    __table_args__ = (UniqueConstraint("questionnaire_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_form.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_section.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Stable across editions (pre-filling, export columns, codebook): Q1, Q2...
    code: Mapped[str] = mapped_column(String(32))
    qtype: Mapped[QuestionType] = mapped_column(_enum(QuestionType, "questionnaire_question_type"))
    text_en: Mapped[str] = mapped_column(Text, default="")
    text_fr: Mapped[str] = mapped_column(Text, default="")
    guidance_en: Mapped[str] = mapped_column(Text, default="")
    guidance_fr: Mapped[str] = mapped_column(Text, default="")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Shown only when an earlier (choice) question's answer matches condition_value.
    condition_question_id: Mapped[int | None] = mapped_column(
        ForeignKey("questionnaire_question.id", ondelete="SET NULL"), nullable=True)
    condition_value: Mapped[str] = mapped_column(String(64), default="")

    questionnaire: Mapped[Questionnaire] = relationship(back_populates="questions", overlaps="questions")
    section: Mapped[Section] = relationship(back_populates="questions", overlaps="questionnaire,questions")
    options: Mapped[list[Option]] = relationship(
        back_populates="question", order_by="Option.position", cascade="all, delete-orphan")
    condition_question: Mapped[Question | None] = relationship(remote_side="Question.id")

    def option_values(self) -> list[str]:
        if self.qtype == QuestionType.YES_NO:
            return ["yes", "no", "unknown"]
        return [o.value for o in self.options]


class Option(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "questionnaire_option"
    __table_args__ = (UniqueConstraint("question_id", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_question.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[str] = mapped_column(String(64))
    label_en: Mapped[str] = mapped_column(String(300), default="")
    label_fr: Mapped[str] = mapped_column(String(300), default="")

    question: Mapped[Question] = relationship(back_populates="options")


class Target(db.Model):  # type: ignore[name-defined,misc]
    """A State the questionnaire was sent to, and when it was last reminded."""

    __tablename__ = "questionnaire_target"
    __table_args__ = (UniqueConstraint("questionnaire_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_form.id", ondelete="CASCADE"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    party: Mapped[Party] = relationship(lazy="joined")


class Response(db.Model):  # type: ignore[name-defined,misc]
    """One per State and questionnaire, drafted by several users of that State."""

    __tablename__ = "questionnaire_response"
    __table_args__ = (UniqueConstraint("questionnaire_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_form.id", ondelete="CASCADE"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    status: Mapped[ResponseStatus] = mapped_column(
        _enum(ResponseStatus, "questionnaire_response_status"), default=ResponseStatus.IN_PROGRESS)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    submitted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    party: Mapped[Party] = relationship(lazy="joined")
    questionnaire: Mapped[Questionnaire] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="response", cascade="all, delete-orphan")
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="response", order_by="Revision.number", cascade="all, delete-orphan")


class Answer(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "questionnaire_answer"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_response.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_question.id", ondelete="CASCADE"), index=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)  # None: cleared
    language: Mapped[str] = mapped_column(String(8), default="en")  # the language it was written in
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    response: Mapped[Response] = relationship(back_populates="answers")


class Revision(db.Model):  # type: ignore[name-defined,misc]
    """What was submitted, frozen: {question id: value} of the visible answers."""

    __tablename__ = "questionnaire_revision"
    __table_args__ = (UniqueConstraint("response_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_response.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    response: Mapped[Response] = relationship(back_populates="revisions")


class StoredFile(db.Model):  # type: ignore[name-defined,misc]
    """An uploaded document (e.g. a copy of the national law), kept on disk under a random name."""

    __tablename__ = "questionnaire_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_form.id", ondelete="CASCADE"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StateSetting(db.Model):  # type: ignore[name-defined,misc]
    """A State's consent to share its country profile with the other States."""

    __tablename__ = "questionnaire_state_setting"
    __table_args__ = (UniqueConstraint("party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"))
    share_profile: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
