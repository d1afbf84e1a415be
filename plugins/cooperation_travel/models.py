"""The routing record of a travel report; its content lives only in an encrypted thread.

A report is an end-to-end encrypted thread (cooperation/threads, PROTOCOL.md) created in the
reporter's browser: the title, the persons, places, dates, travel details and whether the
travel is potential or confirmed are in the thread's encrypted metadata and first message, which
the server cannot read. These tables hold only what the server needs to route, alert and follow
the report up: which thread, who reported it for which State, who received it and when each
recipient first opened it, the Court's acknowledgement of receipt, and an outcome category from
a fixed list (its details go into the thread, encrypted). Tables carry the prefix `travel_`.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cooperation.accounts.models import User
from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db
from cooperation.membership.models import Party, _enum


class Outcome(enum.StrEnum):
    """What came of the reported travel, as the Court records it."""

    ARRESTED_SURRENDERED = "arrested_surrendered"
    ARRESTED = "arrested"  # surrender still pending
    DID_NOT_TRAVEL = "did_not_travel"
    TRAVELLED_NOT_ARRESTED = "travelled_not_arrested"
    OTHER = "other"


class RecipientKind(enum.StrEnum):
    COURT = "court"  # Registry or Office of the Prosecutor staff
    FOCAL_POINT = "focal_point"  # a designated Bureau focal point on non-cooperation


class Report(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "travel_report"
    __table_args__ = (UniqueConstraint("thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(32), ForeignKey("thread.id", ondelete="CASCADE"))
    reporting_party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    reported_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # How many urgent channels of the directory of contact points were alerted (their addresses
    # stay in the directory; the audit log names the entries).
    urgent_channels: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, "travel_outcome"), nullable=True)
    outcome_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome_recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    reporting_party: Mapped[Party] = relationship(lazy="joined")
    reported_by: Mapped[User | None] = relationship(foreign_keys=[reported_by_id], lazy="joined")
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id], lazy="joined")
    outcome_recorded_by: Mapped[User | None] = relationship(foreign_keys=[outcome_recorded_by_id],
                                                            lazy="joined")
    recipients: Mapped[list[Recipient]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="Recipient.id")

    @property
    def reference(self) -> str:
        return f"TR-{self.id:04d}"

    @property
    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    def __repr__(self) -> str:
        return f"<Report {self.id}>"


class Recipient(db.Model):  # type: ignore[name-defined,misc]
    """A person the report reached (a member of its thread when it was sent): when the alert
    went out, and when his or her browser first decrypted and showed the report."""

    __tablename__ = "travel_recipient"
    __table_args__ = (UniqueConstraint("report_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("travel_report.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RecipientKind] = mapped_column(_enum(RecipientKind, "travel_recipient_kind"))
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    report: Mapped[Report] = relationship(back_populates="recipients")
    user: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Recipient {self.report_id}:{self.user_id}>"

