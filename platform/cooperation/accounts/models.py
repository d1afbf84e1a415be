"""Users and invitations. Every user belongs to exactly one Party and holds one role."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db
from cooperation.membership.models import Party, PartyStatus, _enum
from cooperation.permissions import Role


class UserStatus(enum.StrEnum):
    PENDING = "pending"  # invitation accepted, MFA enrolment not finished
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))  # stored lower-cased
    full_name: Mapped[str] = mapped_column(String(200))
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    status: Mapped[UserStatus] = mapped_column(_enum(UserStatus, "user_status"))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # TOTP: base32 secret (160 bits) and the last accepted time step, so no code is used twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    party: Mapped[Party] = relationship(lazy="joined")

    # -- Flask-Login ----------------------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        # A suspended or withdrawn State suspends its users too.
        return self.status == UserStatus.ACTIVE and self.party.status == PartyStatus.ACTIVE

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def has_totp(self) -> bool:
        return self.totp_secret is not None

    def __repr__(self) -> str:
        return f"<User {self.id}>"


class Invitation(db.Model):  # type: ignore[name-defined,misc]
    """A single-use, expiring invitation. Only a hash of the token is stored."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "invitation_role"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    party: Mapped[Party] = relationship(lazy="joined")
    invited_by: Mapped[User | None] = relationship()

    def is_usable(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at
