"""Contact points: per State and topic, the office (and optionally the person) to reach.

Tables carry the plugin's prefix `directory_`. A State may have several entries per topic
(e.g. a central authority and a financial intelligence unit for asset tracing).
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cooperation.accounts.models import User
from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db
from cooperation.membership.models import Party, _enum

# An entry not confirmed for this long is flagged "to be confirmed".
CONFIRMATION_VALID_FOR = timedelta(days=365)


class Topic(enum.StrEnum):
    ASSET_TRACING_FREEZING = "asset_tracing_freezing"
    ARREST_SURRENDER = "arrest_surrender"
    GENERAL_COOPERATION = "general_cooperation"


class ContactPoint(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "directory_contact_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    topic: Mapped[Topic] = mapped_column(_enum(Topic, "directory_topic"), index=True)
    authority: Mapped[str] = mapped_column(String(200))  # office or authority name
    person_name: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(50), default="")
    languages: Mapped[str] = mapped_column(String(200), default="")  # working languages, free text
    secure_channel: Mapped[str] = mapped_column(Text, default="")  # how to send classified material
    urgent_phone: Mapped[str] = mapped_column(String(50), default="")
    urgent_email: Mapped[str] = mapped_column(String(254), default="")
    urgent_hours: Mapped[str] = mapped_column(String(200), default="")  # e.g. "24/7"
    notes: Mapped[str] = mapped_column(Text, default="")
    last_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    party: Mapped[Party] = relationship(lazy="joined")
    updated_by: Mapped[User | None] = relationship(lazy="select")

    def needs_confirmation(self, now: datetime | None = None) -> bool:
        if self.last_confirmed_at is None:
            return True
        return self.last_confirmed_at < (now or utcnow()) - CONFIRMATION_VALID_FOR

    @property
    def has_urgent_channel(self) -> bool:
        return bool(self.urgent_phone or self.urgent_email)

    def __repr__(self) -> str:
        return f"<ContactPoint {self.id}>"
