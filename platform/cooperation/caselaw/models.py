"""Case-law explainers and guidance notes.

An item (one language of one text) holds its identity and workflow; its content lives in
numbered versions (every save adds one, nothing is overwritten). Readers see the version an
editor other than its authors approved (`published_version`), from `publish_at` on; editors
work on `current_version`. Items in several languages share a `translation_group`; a
translation names its source (`translation_of_id`) so an outdated translation can be flagged.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from cooperation.caselaw.taxonomy import ItemKind, ItemStatus, Language
from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db


def _enum(cls: type, name: str) -> Enum:
    # Plain strings (native_enum=False): a new value is a data change, not DDL.
    return Enum(cls, name=name, native_enum=False, length=32,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class CaselawItem(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "caselaw_item"
    __table_args__ = (
        UniqueConstraint("slug"),
        UniqueConstraint("translation_group", "language", name="uq_caselaw_item_group_language"),
        Index("ix_caselaw_item_visible", "published_version_number", "publish_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ItemKind] = mapped_column(_enum(ItemKind, "caselaw_kind"))
    slug: Mapped[str] = mapped_column(String(120))
    language: Mapped[Language] = mapped_column(_enum(Language, "caselaw_language"))
    translation_group: Mapped[str] = mapped_column(String(32), index=True)
    translation_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("caselaw_item.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[ItemStatus] = mapped_column(_enum(ItemStatus, "caselaw_status"))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    current_version_number: Mapped[int] = mapped_column(Integer, default=0)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # What readers see, and from when (the scheduled time, or the approval time).
    published_version_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    translation_of: Mapped[CaselawItem | None] = relationship(remote_side=[id])
    versions: Mapped[list[CaselawVersion]] = relationship(
        back_populates="item", order_by="CaselawVersion.number", cascade="all, delete-orphan",
        passive_deletes=True)
    current_version: Mapped[CaselawVersion | None] = relationship(
        primaryjoin=lambda: and_(foreign(CaselawItem.id) == CaselawVersion.item_id,
                                 foreign(CaselawItem.current_version_number) == CaselawVersion.number),
        viewonly=True, uselist=False)
    published_version: Mapped[CaselawVersion | None] = relationship(
        primaryjoin=lambda: and_(foreign(CaselawItem.id) == CaselawVersion.item_id,
                                 foreign(CaselawItem.published_version_number) == CaselawVersion.number),
        viewonly=True, uselist=False)

    def is_visible(self, now: datetime) -> bool:
        return (self.published_version_number is not None and self.publish_at is not None
                and self.publish_at <= now)

    def __repr__(self) -> str:
        return f"<CaselawItem {self.id} {self.slug}>"


class CaselawVersion(db.Model):  # type: ignore[name-defined,misc]
    """One saved state of an item's content; immutable once written."""

    __tablename__ = "caselaw_version"
    __table_args__ = (UniqueConstraint("item_id", "number", name="uq_caselaw_version_item_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("caselaw_item.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(16), default="save")  # save | restore | import
    restored_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    title: Mapped[str] = mapped_column(String(300))
    document_number: Mapped[str] = mapped_column(String(120), default="")
    chamber: Mapped[str] = mapped_column(String(32), default="", index=True)
    decision_date: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    situation: Mapped[str] = mapped_column(String(200), default="")
    case_name: Mapped[str] = mapped_column(String(300), default="")
    guidance_kind: Mapped[str] = mapped_column(String(32), default="")
    holding: Mapped[str] = mapped_column(Text, default="")  # Markdown
    practice: Mapped[str] = mapped_column(Text, default="")  # Markdown
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown
    decision_url: Mapped[str] = mapped_column(String(500), default="")

    item: Mapped[CaselawItem] = relationship(back_populates="versions")
    topic_rows: Mapped[list[CaselawVersionTopic]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")
    article_rows: Mapped[list[CaselawVersionArticle]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")
    related_rows: Mapped[list[CaselawVersionRelated]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin",
        foreign_keys="CaselawVersionRelated.version_id")

    @property
    def topics(self) -> list[str]:
        return sorted(r.topic for r in self.topic_rows)

    @property
    def articles(self) -> list[str]:
        return [r.article for r in self.article_rows]

    @property
    def related_ids(self) -> list[int]:
        return sorted(r.related_item_id for r in self.related_rows)


class CaselawVersionTopic(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "caselaw_version_topic"

    version_id: Mapped[int] = mapped_column(ForeignKey("caselaw_version.id", ondelete="CASCADE"),
                                            primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class CaselawVersionArticle(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "caselaw_version_article"

    version_id: Mapped[int] = mapped_column(ForeignKey("caselaw_version.id", ondelete="CASCADE"),
                                            primary_key=True)
    article: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)


class CaselawVersionRelated(db.Model):  # type: ignore[name-defined,misc]
    """An explainer points at related explainers and guidance; the reverse links are computed."""

    __tablename__ = "caselaw_version_related"

    version_id: Mapped[int] = mapped_column(ForeignKey("caselaw_version.id", ondelete="CASCADE"),
                                            primary_key=True)
    related_item_id: Mapped[int] = mapped_column(ForeignKey("caselaw_item.id", ondelete="CASCADE"),
                                                 primary_key=True, index=True)


class CaselawReaderState(db.Model):  # type: ignore[name-defined,misc]
    """When a user last opened the case-law section, to tell them what is new since."""

    __tablename__ = "caselaw_reader_state"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         primary_key=True)
    last_visit_at: Mapped[datetime] = mapped_column(UTCDateTime())
    previous_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CaselawFeedToken(db.Model):  # type: ignore[name-defined,misc]
    """A per-user secret for the Atom feed (feed readers cannot sign in). Only its hash is kept."""

    __tablename__ = "caselaw_feed_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# The search index is not a model (an FTS5 virtual table / a tsvector table): create it with the
# item table and drop it first, so create_all/drop_all (tests, fresh installs) stay complete.
@event.listens_for(CaselawItem.__table__, "after_create")
def _create_search_structures(target: object, connection: Connection, **_: object) -> None:
    from cooperation.caselaw.search import ensure_search_structures

    ensure_search_structures(connection)


@event.listens_for(CaselawItem.__table__, "before_drop")
def _drop_search_structures(target: object, connection: Connection, **_: object) -> None:
    from cooperation.caselaw.search import drop_search_structures

    drop_search_structures(connection)
