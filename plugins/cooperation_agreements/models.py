"""Voluntary cooperation agreements between States and the Court, and their documents. Tables
carry the plugin's prefix `agreements_`.

The kinds are those the Court's reports on cooperation ask States to conclude (ICC-ASP/12/35,
paras 27-40; the Court's 2016 report, paras 28-33 and 44-53): the relocation of witnesses, the
enforcement of sentences, interim release, and the release of persons (acquittal,
non-confirmation of charges...). A framework agreement sets the terms for future cases; an ad
hoc agreement covers one case (e.g. the enforcement of two sentences in the DRC, 2015); an
operational arrangement is concluded directly between the Registry's Victims and Witnesses
Section and a national protection agency.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db
from cooperation.membership.models import Party, _enum


class AgreementKind(enum.StrEnum):
    WITNESS_RELOCATION = "witness_relocation"
    ENFORCEMENT_OF_SENTENCES = "enforcement_of_sentences"
    INTERIM_RELEASE = "interim_release"
    RELEASE_OF_PERSONS = "release_of_persons"


class AgreementStatus(enum.StrEnum):
    UNDER_DISCUSSION = "under_discussion"
    SIGNED = "signed"
    IN_FORCE = "in_force"


class AgreementForm(enum.StrEnum):
    FRAMEWORK = "framework"
    AD_HOC = "ad_hoc"
    ARRANGEMENT = "arrangement"  # operational arrangement (e.g. between protection agencies)


CONCLUDED = (AgreementStatus.SIGNED, AgreementStatus.IN_FORCE)


class Agreement(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "agreements_agreement"

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    kind: Mapped[AgreementKind] = mapped_column(_enum(AgreementKind, "agreements_kind"), index=True)
    form: Mapped[AgreementForm] = mapped_column(_enum(AgreementForm, "agreements_form"),
                                                default=AgreementForm.FRAMEWORK)
    status: Mapped[AgreementStatus] = mapped_column(_enum(AgreementStatus, "agreements_status"),
                                                    index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    discussions_started_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    signed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    in_force_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Confidential (the default): only the Court and the State concerned see the entry; it
    # still counts in the aggregate figures per regional group, as the Court's reports do.
    confidential: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    party: Mapped[Party] = relationship(lazy="joined")
    files: Mapped[list[AgreementFile]] = relationship(
        back_populates="agreement", cascade="all, delete-orphan", order_by="AgreementFile.id")

    def __repr__(self) -> str:
        return f"<Agreement {self.id}>"


class AgreementFile(db.Model):  # type: ignore[name-defined,misc]
    """A document of an agreement: an uploaded file (stored under the instance path with a
    server-generated name, see documents.py) or a link to a published text."""

    __tablename__ = "agreements_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements_agreement.id", ondelete="CASCADE"),
                                              index=True)
    title: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500), default="")  # a link, or empty for a file
    stored_name: Mapped[str] = mapped_column(String(64), default="")  # a file, or empty for a link
    original_name: Mapped[str] = mapped_column(String(200), default="")
    content_type: Mapped[str] = mapped_column(String(100), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    agreement: Mapped[Agreement] = relationship(back_populates="files")

    @property
    def is_link(self) -> bool:
        return bool(self.url)
