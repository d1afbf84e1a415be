"""A Party is a State Party or an organisation (ICC Registry, OTP, ASP Secretariat).

Every user belongs to exactly one Party; every query on national data is scoped by it.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db


class PartyKind(enum.StrEnum):
    STATE = "state"
    ORGANISATION = "organisation"


class OrganisationType(enum.StrEnum):
    REGISTRY = "registry"
    PROSECUTOR = "prosecutor"
    SECRETARIAT = "secretariat"


class RegionalGroup(enum.StrEnum):
    """The five United Nations regional groups."""

    AFRICAN = "african"
    ASIA_PACIFIC = "asia_pacific"
    EASTERN_EUROPEAN = "eastern_european"
    GRULAC = "grulac"  # Latin American and Caribbean States
    WEOG = "weog"  # Western European and other States


class PartyStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (native_enum=False) so adding a value is a data change, not DDL.
    return Enum(cls, name=name, native_enum=False, length=32,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Party(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "party"
    __table_args__ = (UniqueConstraint("code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PartyKind] = mapped_column(_enum(PartyKind, "party_kind"))
    # ISO 3166-1 alpha-3 for States (e.g. "NLD"); a short fixed code for organisations.
    code: Mapped[str] = mapped_column(String(16))
    name_en: Mapped[str] = mapped_column(String(200))
    name_fr: Mapped[str] = mapped_column(String(200))
    regional_group: Mapped[RegionalGroup | None] = mapped_column(
        _enum(RegionalGroup, "regional_group"), nullable=True
    )
    organisation_type: Mapped[OrganisationType | None] = mapped_column(
        _enum(OrganisationType, "organisation_type"), nullable=True
    )
    status: Mapped[PartyStatus] = mapped_column(
        _enum(PartyStatus, "party_status"), default=PartyStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def is_state(self) -> bool:
        return self.kind == PartyKind.STATE

    @property
    def is_active(self) -> bool:
        return self.status == PartyStatus.ACTIVE

    def name(self, locale: str = "en") -> str:
        return self.name_fr if locale.startswith("fr") and self.name_fr else self.name_en

    def __repr__(self) -> str:
        return f"<Party {self.code}>"
