"""Case law and guidance: editorial workflow, readers' queries, visits and feed tokens.

Workflow of an item's working copy: draft -> in review -> published. Every save adds a version;
an editor other than the authors of the new versions and the submitter approves, which makes
that version the one readers see from `publish_at` on (now, or a scheduled time for a first
publication). Editing a published item starts a new draft while readers keep the approved text.
Every action is audited in the caller's transaction; nothing here commits.
"""

from __future__ import annotations

import difflib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, extract, func, select
from sqlalchemy.orm import Session

from cooperation import permissions as p
from cooperation.accounts.models import User
from cooperation.audit.service import Actor, record
from cooperation.caselaw import render, search
from cooperation.caselaw.models import (
    CaselawFeedToken,
    CaselawItem,
    CaselawReaderState,
    CaselawVersion,
    CaselawVersionArticle,
    CaselawVersionRelated,
    CaselawVersionTopic,
)
from cooperation.caselaw.taxonomy import (
    CHAMBER_LABELS,
    GUIDANCE_KIND_LABELS,
    TOPIC_LABELS,
    ItemKind,
    ItemStatus,
    Language,
    article_codes,
)
from cooperation.db import utcnow
from cooperation.security.sessions import hash_token

TARGET = "caselaw_item"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Paths under /caselaw/ that are pages, not items.
RESERVED_SLUGS = frozenset({"articles", "chambers", "years", "feed", "feed-token", "feed.atom",
                            "editor", "new", "search", "guidance"})
# Opening the section again within this gap is the same visit (the "new" list stays).
VISIT_GAP = timedelta(minutes=30)
FEED_TOKEN_TOUCH = timedelta(hours=1)


class CaselawError(Exception):
    """A refused action; `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str | None = None,
                 denied: tuple[str, dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.field = field
        # A refusal worth auditing (action, details): the view records it after rolling back.
        self.denied = denied


@dataclass(frozen=True)
class Content:
    """Everything a version holds; the unit of saving, comparing and restoring."""

    title: str
    document_number: str = ""
    chamber: str = ""
    decision_date: date | None = None
    situation: str = ""
    case_name: str = ""
    guidance_kind: str = ""
    holding: str = ""
    practice: str = ""
    body: str = ""
    decision_url: str = ""
    topics: tuple[str, ...] = ()
    articles: tuple[str, ...] = ()
    related_ids: tuple[int, ...] = field(default=())

    @classmethod
    def of(cls, version: CaselawVersion) -> Content:
        return cls(
            title=version.title, document_number=version.document_number, chamber=version.chamber,
            decision_date=version.decision_date, situation=version.situation,
            case_name=version.case_name, guidance_kind=version.guidance_kind,
            holding=version.holding, practice=version.practice, body=version.body,
            decision_url=version.decision_url, topics=tuple(version.topics),
            articles=tuple(version.articles), related_ids=tuple(version.related_ids),
        )

    def normalised(self) -> Content:
        """Trimmed text, sorted and de-duplicated lists: equal content compares equal."""
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                value = value.replace("\r\n", "\n").strip()
            elif isinstance(value, tuple):
                value = tuple(sorted(set(value), key=str))
            values[f.name] = value
        return Content(**values)


# -- validation -------------------------------------------------------------------------------

def _check_slug(session: Session, slug: str) -> None:
    if not SLUG_RE.match(slug) or len(slug) > 120:
        raise CaselawError(_("Use lower-case letters, digits and single hyphens (for example "
                             "freezing-no-link-required)."), "slug")
    if slug in RESERVED_SLUGS:
        raise CaselawError(_("This address is reserved for a page of the section; choose another."), "slug")
    if session.scalar(select(CaselawItem.id).where(CaselawItem.slug == slug)) is not None:
        raise CaselawError(_("Another item already uses this address."), "slug")


def _check_content(session: Session, kind: ItemKind, content: Content, item_id: int | None) -> None:
    if not content.title:
        raise CaselawError(_("Give the item a title."), "title")
    if kind == ItemKind.EXPLAINER:
        if content.chamber not in CHAMBER_LABELS:
            raise CaselawError(_("Choose the chamber that gave the decision."), "chamber")
        if content.decision_date is None:
            raise CaselawError(_("Give the date of the decision."), "decision_date")
        if not content.holding:
            raise CaselawError(_("State the holding in plain words."), "holding")
    else:
        if content.guidance_kind not in GUIDANCE_KIND_LABELS:
            raise CaselawError(_("Choose the kind of guidance."), "guidance_kind")
        if not content.body:
            raise CaselawError(_("Write the text of the guidance note."), "body")
    if content.chamber and content.chamber not in CHAMBER_LABELS:
        raise CaselawError(_("Choose one of the chambers in the list."), "chamber")
    if content.decision_url and not re.match(r"^https?://[^\s/]+\S*$", content.decision_url):
        raise CaselawError(_("The link to the decision must start with https:// or http://."), "decision_url")
    unknown_topics = set(content.topics) - set(TOPIC_LABELS)
    if unknown_topics:
        raise CaselawError(_("Choose topics from the list."), "topics")
    unknown_articles = set(content.articles) - article_codes()
    if unknown_articles:
        raise CaselawError(_("Choose articles from the list."), "articles")
    if item_id is not None and item_id in content.related_ids:
        raise CaselawError(_("An item cannot be related to itself."), "related_ids")
    if content.related_ids:
        found = set(session.scalars(select(CaselawItem.id).where(CaselawItem.id.in_(content.related_ids))))
        if found != set(content.related_ids):
            raise CaselawError(_("Choose related items from the list."), "related_ids")


# -- writing ----------------------------------------------------------------------------------

def _add_version(session: Session, item: CaselawItem, content: Content, author: User | None,
                 now: datetime, *, action: str = "save", note: str = "",
                 restored_from: int | None = None) -> CaselawVersion:
    number = item.current_version_number + 1
    version = CaselawVersion(
        item=item, number=number, created_at=now, author_id=author.id if author else None,
        action=action, restored_from=restored_from, note=note[:500], title=content.title,
        document_number=content.document_number, chamber=content.chamber,
        decision_date=content.decision_date, situation=content.situation,
        case_name=content.case_name, guidance_kind=content.guidance_kind,
        holding=content.holding, practice=content.practice, body=content.body,
        decision_url=content.decision_url,
    )
    version.topic_rows = [CaselawVersionTopic(topic=t) for t in content.topics]
    version.article_rows = [CaselawVersionArticle(article=a) for a in content.articles]
    version.related_rows = [CaselawVersionRelated(related_item_id=i) for i in content.related_ids]
    session.add(version)
    item.current_version_number = number
    item.updated_at = now
    session.flush()
    return version


def create_item(session: Session, *, kind: ItemKind, language: Language, slug: str, content: Content,
                author: User | None, actor: Actor, translation_of: CaselawItem | None = None,
                is_demo: bool = False, note: str = "", now: datetime | None = None) -> CaselawItem:
    now = now or utcnow()
    content = content.normalised()
    slug = slug.strip().lower()
    _check_slug(session, slug)
    group = secrets.token_hex(16)
    if translation_of is not None:
        kind = translation_of.kind
        group = translation_of.translation_group
        taken = set(session.scalars(select(CaselawItem.language)
                                    .where(CaselawItem.translation_group == group)))
        if language in taken:
            raise CaselawError(_("This item already exists in that language."), "language")
    _check_content(session, kind, content, None)
    item = CaselawItem(kind=kind, slug=slug, language=language, translation_group=group,
                       translation_of_id=translation_of.id if translation_of else None,
                       status=ItemStatus.DRAFT, is_demo=is_demo,
                       created_by_id=author.id if author else None, created_at=now, updated_at=now,
                       current_version_number=0)
    session.add(item)
    session.flush()
    version = _add_version(session, item, content, author, now, note=note)
    record(session, "caselaw.item.create", actor, target_type=TARGET, target_id=item.id,
           details={"slug": slug, "kind": kind.value, "language": language.value,
                    "version": version.number, "translation_of": translation_of.id if translation_of else None})
    return item


def save_item(session: Session, item: CaselawItem, content: Content, *, author: User, actor: Actor,
              note: str = "", now: datetime | None = None) -> CaselawVersion | None:
    """A new version, or None when nothing changed. A saved item goes back to draft."""
    now = now or utcnow()
    content = content.normalised()
    _check_content(session, item.kind, content, item.id)
    current = item.current_version
    if current is not None and Content.of(current).normalised() == content:
        return None
    before = item.status
    version = _add_version(session, item, content, author, now, note=note)
    _back_to_draft(item)
    record(session, "caselaw.item.save", actor, target_type=TARGET, target_id=item.id,
           details={"version": version.number, "status_before": before.value})
    return version


def _back_to_draft(item: CaselawItem) -> None:
    item.status = ItemStatus.DRAFT
    item.submitted_by_id = None
    item.submitted_at = None


def submit_for_review(session: Session, item: CaselawItem, *, user: User, actor: Actor,
                      now: datetime | None = None) -> None:
    now = now or utcnow()
    if item.status != ItemStatus.DRAFT:
        raise CaselawError(_("Only a draft can be sent for review."))
    if item.current_version_number == 0 or item.current_version_number == item.published_version_number:
        raise CaselawError(_("Nothing new to review: readers already see this version."))
    item.status = ItemStatus.IN_REVIEW
    item.submitted_by_id = user.id
    item.submitted_at = now
    item.updated_at = now
    record(session, "caselaw.item.submit", actor, target_type=TARGET, target_id=item.id,
           details={"version": item.current_version_number})


def authors_of_pending(session: Session, item: CaselawItem) -> set[int]:
    """Who wrote the versions readers do not see yet, and who sent them for review."""
    since = item.published_version_number or 0
    authors = set(session.scalars(select(CaselawVersion.author_id).where(
        CaselawVersion.item_id == item.id, CaselawVersion.number > since,
        CaselawVersion.author_id.is_not(None))))
    if item.submitted_by_id is not None:
        authors.add(item.submitted_by_id)
    return {a for a in authors if a is not None}


def approve(session: Session, item: CaselawItem, *, user: User, actor: Actor,
            publish_at: datetime | None = None, now: datetime | None = None) -> None:
    now = now or utcnow()
    if item.status != ItemStatus.IN_REVIEW:
        raise CaselawError(_("Only an item in review can be approved."))
    if user.id in authors_of_pending(session, item):
        raise CaselawError(_("You wrote or submitted this version: another Registry editor must "
                             "approve its publication."),
                           denied=("caselaw.item.approve",
                                   {"reason": "own_version", "version": item.current_version_number}))
    when = publish_at or now
    if when < now - timedelta(minutes=1):
        raise CaselawError(_("The publication time is in the past; leave it empty to publish now."),
                           "publish_at")
    scheduled = when > now
    if scheduled and item.is_visible(now):
        raise CaselawError(_("Readers already see this item: an update is published at once. "
                             "Scheduling applies to a first publication."), "publish_at")
    item.status = ItemStatus.PUBLISHED
    item.published_version_number = item.current_version_number
    item.publish_at = max(when, now)
    item.first_published_at = item.first_published_at or item.publish_at
    item.approved_by_id = user.id
    item.approved_at = now
    item.updated_at = now
    session.flush()
    reindex(session, item)
    record(session, "caselaw.item.approve", actor, target_type=TARGET, target_id=item.id,
           details={"version": item.published_version_number, "publish_at": item.publish_at.isoformat(),
                    "scheduled": scheduled})


def return_to_draft(session: Session, item: CaselawItem, *, user: User, actor: Actor, note: str,
                    now: datetime | None = None) -> None:
    now = now or utcnow()
    if item.status != ItemStatus.IN_REVIEW:
        raise CaselawError(_("Only an item in review can be sent back."))
    if not note.strip():
        raise CaselawError(_("Say what needs to change."), "note")
    _back_to_draft(item)
    item.updated_at = now
    record(session, "caselaw.item.return", actor, target_type=TARGET, target_id=item.id,
           details={"version": item.current_version_number, "note": note.strip()[:500]})


def withdraw(session: Session, item: CaselawItem, *, user: User, actor: Actor, reason: str,
             now: datetime | None = None) -> None:
    """Take an item away from readers at once (no second editor needed to remove content)."""
    now = now or utcnow()
    if item.published_version_number is None:
        raise CaselawError(_("This item is not published."))
    if not reason.strip():
        raise CaselawError(_("Give the reason for withdrawing the item."), "reason")
    withdrawn = item.published_version_number
    item.published_version_number = None
    item.publish_at = None
    _back_to_draft(item)
    item.updated_at = now
    search.backend_for(session).remove(session, item.id)
    record(session, "caselaw.item.withdraw", actor, target_type=TARGET, target_id=item.id,
           details={"version": withdrawn, "reason": reason.strip()[:500]})


def restore(session: Session, item: CaselawItem, number: int, *, user: User, actor: Actor,
            now: datetime | None = None) -> CaselawVersion:
    """A new version with the content of an older one; history is never rewritten."""
    now = now or utcnow()
    old = version(session, item, number)
    if old is None:
        raise CaselawError(_("This version does not exist."), "version")
    if number == item.current_version_number:
        raise CaselawError(_("This is already the current version."), "version")
    content = Content.of(old)
    # An item related then may have been deleted since; keep only those that still exist.
    existing = set(session.scalars(select(CaselawItem.id).where(CaselawItem.id.in_(content.related_ids))))
    content = replace(content, related_ids=tuple(i for i in content.related_ids if i in existing))
    # The note stays empty: pages say "restored from version n" in the reader's language.
    new = _add_version(session, item, content, user, now, action="restore", restored_from=number)
    _back_to_draft(item)
    record(session, "caselaw.item.restore", actor, target_type=TARGET, target_id=item.id,
           details={"restored_from": number, "version": new.number})
    return new


# -- search index ------------------------------------------------------------------------------

def index_document(item: CaselawItem, version: CaselawVersion) -> search.IndexDocument:
    meta = " ".join(x for x in (version.document_number, version.case_name, version.situation) if x)
    return search.IndexDocument(
        item_id=item.id, language=item.language.value, title=version.title,
        holding=" ".join(x for x in (render.plain_text(version.holding), render.plain_text(version.practice)) if x),
        body=" ".join(x for x in (render.plain_text(version.body), meta) if x),
    )


def reindex(session: Session, item: CaselawItem) -> None:
    backend = search.backend_for(session)
    published = version(session, item, item.published_version_number) if item.published_version_number else None
    if published is None:
        backend.remove(session, item.id)
    else:
        backend.index(session, index_document(item, published))


def rebuild_index(session: Session) -> int:
    rows = session.execute(
        select(CaselawItem, CaselawVersion).join(CaselawVersion, and_(
            CaselawVersion.item_id == CaselawItem.id,
            CaselawVersion.number == CaselawItem.published_version_number))).all()
    search.rebuild(session, [index_document(item, v) for item, v in rows])
    return len(rows)


# -- reading ----------------------------------------------------------------------------------

def version(session: Session, item: CaselawItem, number: int | None) -> CaselawVersion | None:
    if number is None:
        return None
    return session.scalar(select(CaselawVersion).where(CaselawVersion.item_id == item.id,
                                                       CaselawVersion.number == number))


def versions(session: Session, item: CaselawItem) -> list[CaselawVersion]:
    return list(session.scalars(select(CaselawVersion).where(CaselawVersion.item_id == item.id)
                                .order_by(CaselawVersion.number.desc())))


def author_names(session: Session, history: Iterable[CaselawVersion]) -> dict[int, str]:
    ids = {v.author_id for v in history if v.author_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())


def item_by_slug(session: Session, slug: str) -> CaselawItem | None:
    return session.scalar(select(CaselawItem).where(CaselawItem.slug == slug))


def visible_item(session: Session, slug: str, now: datetime) -> tuple[CaselawItem, CaselawVersion] | None:
    row = session.execute(
        select(CaselawItem, CaselawVersion)
        .join(CaselawVersion, and_(CaselawVersion.item_id == CaselawItem.id,
                                   CaselawVersion.number == CaselawItem.published_version_number))
        .where(CaselawItem.slug == slug, search.visible(now))).first()
    return (row[0], row[1]) if row else None


def _visible_rows(session: Session, now: datetime, *conditions: Any,
                  limit: int | None = None) -> list[tuple[CaselawItem, CaselawVersion]]:
    """Visible items, newest first; `limit` cuts in SQL (a returning reader may have thousands)."""
    stmt = (select(CaselawItem, CaselawVersion)
            .join(CaselawVersion, and_(CaselawVersion.item_id == CaselawItem.id,
                                       CaselawVersion.number == CaselawItem.published_version_number))
            .where(search.visible(now), *conditions)
            .order_by(CaselawItem.publish_at.desc(), CaselawItem.id.desc()))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(i, v) for i, v in session.execute(stmt).all()]


@dataclass(frozen=True)
class LanguageVersion:
    item: CaselawItem
    version: CaselawVersion | None  # the published version (None: not visible to readers)
    is_source: bool
    outdated: bool  # a translation whose source was updated after it


def language_versions(session: Session, item: CaselawItem, now: datetime,
                      *, include_hidden: bool = False) -> list[LanguageVersion]:
    members = list(session.scalars(select(CaselawItem).where(
        CaselawItem.translation_group == item.translation_group).order_by(CaselawItem.language)))
    published = {m.id: (version(session, m, m.published_version_number) if m.is_visible(now) else None)
                 for m in members}
    out: list[LanguageVersion] = []
    for m in members:
        mine = published[m.id]
        if mine is None and not include_hidden:
            continue
        outdated = False
        source = published.get(m.translation_of_id) if m.translation_of_id else None
        if mine is not None and source is not None:
            outdated = source.created_at > mine.created_at
        out.append(LanguageVersion(m, mine, m.translation_of_id is None, outdated))
    return out


@dataclass(frozen=True)
class Links:
    related: list[tuple[CaselawItem, CaselawVersion]]
    referenced_by: list[tuple[CaselawItem, CaselawVersion]]


def links(session: Session, item: CaselawItem, ver: CaselawVersion, now: datetime) -> Links:
    related = _visible_rows(session, now, CaselawItem.id.in_(ver.related_ids)) if ver.related_ids else []
    back = _visible_rows(session, now, CaselawItem.id != item.id, CaselawVersion.id.in_(
        select(CaselawVersionRelated.version_id).where(CaselawVersionRelated.related_item_id == item.id)))
    shown = {i.id for i, _ in related}
    return Links(related, [(i, v) for i, v in back if i.id not in shown])


def new_since(session: Session, since: datetime | None, now: datetime, limit: int = 20
              ) -> list[tuple[CaselawItem, CaselawVersion]]:
    if since is None:
        return []
    return _visible_rows(session, now, CaselawItem.publish_at > since, limit=limit)


def feed_entries(session: Session, now: datetime, limit: int = 50) -> list[tuple[CaselawItem, CaselawVersion]]:
    return _visible_rows(session, now, limit=limit)


FACETS = ("articles", "chambers", "years")


def facet_counts(session: Session, now: datetime,
                 facets: Sequence[str] = FACETS) -> dict[str, dict[Any, int]]:
    """Counts of visible items per article, chamber and decision year, for the indexes; each
    facet is a pass over every visible item, so only the ones asked for are counted."""
    base = and_(CaselawVersion.item_id == CaselawItem.id,
                CaselawVersion.number == CaselawItem.published_version_number)
    out: dict[str, dict[Any, int]] = {}
    if "articles" in facets:
        out["articles"] = dict(session.execute(
            select(CaselawVersionArticle.article, func.count())
            .join(CaselawVersion, CaselawVersion.id == CaselawVersionArticle.version_id)
            .join(CaselawItem, base).where(search.visible(now))
            .group_by(CaselawVersionArticle.article)).all())
    if "chambers" in facets:
        out["chambers"] = dict(session.execute(
            select(CaselawVersion.chamber, func.count()).join(CaselawItem, base)
            .where(search.visible(now), CaselawVersion.chamber != "").group_by(CaselawVersion.chamber)).all())
    if "years" in facets:
        year = extract("year", CaselawVersion.decision_date)
        out["years"] = {int(y): n for y, n in session.execute(
            select(year, func.count()).join(CaselawItem, base)
            .where(search.visible(now), CaselawVersion.decision_date.is_not(None)).group_by(year)).all()}
    return out


def editor_items(session: Session, *, status: ItemStatus | None = None) -> list[CaselawItem]:
    stmt = select(CaselawItem).order_by(CaselawItem.updated_at.desc(), CaselawItem.id.desc())
    if status is not None:
        stmt = stmt.where(CaselawItem.status == status)
    return list(session.scalars(stmt))


def relatable_items(session: Session, exclude_id: int | None = None) -> list[tuple[int, str]]:
    """(id, label) of every item, for the "related items" choice."""
    rows = session.execute(
        select(CaselawItem.id, CaselawItem.slug, CaselawItem.language, CaselawVersion.title)
        .join(CaselawVersion, and_(CaselawVersion.item_id == CaselawItem.id,
                                   CaselawVersion.number == CaselawItem.current_version_number))
        .order_by(CaselawVersion.title)).all()
    return [(i, f"{title} ({lang.value.upper()}, {slug})") for i, slug, lang, title in rows if i != exclude_id]


# -- visits -----------------------------------------------------------------------------------

def record_visit(session: Session, user: User, now: datetime | None = None) -> datetime | None:
    """Note this visit; return when the previous visit was (None on the first one)."""
    now = now or utcnow()
    state = session.get(CaselawReaderState, user.id)
    if state is None:
        session.add(CaselawReaderState(user_id=user.id, last_visit_at=now, previous_visit_at=None))
        return None
    if now - state.last_visit_at > VISIT_GAP:
        state.previous_visit_at = state.last_visit_at
    state.last_visit_at = now
    return state.previous_visit_at


# -- feed tokens ------------------------------------------------------------------------------

def active_feed_token(session: Session, user: User) -> CaselawFeedToken | None:
    return session.scalar(select(CaselawFeedToken).where(CaselawFeedToken.user_id == user.id,
                                                         CaselawFeedToken.revoked_at.is_(None)))


def issue_feed_token(session: Session, user: User, *, actor: Actor, now: datetime | None = None) -> str:
    """A new secret (shown once); any earlier token of the user stops working."""
    now = now or utcnow()
    revoked = _revoke_all(session, user, now)
    raw = secrets.token_urlsafe(32)
    row = CaselawFeedToken(user_id=user.id, token_hash=hash_token(raw), created_at=now)
    session.add(row)
    session.flush()
    record(session, "caselaw.feed_token.issue", actor, target_type="caselaw_feed_token", target_id=row.id,
           details={"replaced": revoked})
    return raw


def _revoke_all(session: Session, user: User, now: datetime) -> int:
    rows = list(session.scalars(select(CaselawFeedToken).where(
        CaselawFeedToken.user_id == user.id, CaselawFeedToken.revoked_at.is_(None))))
    for row in rows:
        row.revoked_at = now
    return len(rows)


def revoke_feed_token(session: Session, user: User, *, actor: Actor, now: datetime | None = None) -> int:
    now = now or utcnow()
    count = _revoke_all(session, user, now)
    if not count:
        raise CaselawError(_("You have no feed address to revoke."))
    record(session, "caselaw.feed_token.revoke", actor, target_type="user", target_id=user.id,
           details={"revoked": count})
    return count


def user_for_feed_token(session: Session, raw: str, now: datetime | None = None) -> User | None:
    """The active user behind a valid, unrevoked token who may read case law; else None."""
    now = now or utcnow()
    if not raw or len(raw) > 128:
        return None
    row = session.scalar(select(CaselawFeedToken).where(
        CaselawFeedToken.token_hash == hash_token(raw), CaselawFeedToken.revoked_at.is_(None)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or not p.has_permission(p.CASELAW_READ, user):
        return None
    if row.last_used_at is None or now - row.last_used_at > FEED_TOKEN_TOUCH:
        row.last_used_at = now
    return user


# -- diff -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "remove", "context", "hunk"
    text: str


def version_lines(session: Session, ver: CaselawVersion) -> list[str]:
    """A readable, line-oriented rendering of a version, for comparing two versions."""
    related = dict(session.execute(select(CaselawItem.id, CaselawItem.slug)
                                   .where(CaselawItem.id.in_(ver.related_ids))).all()) if ver.related_ids else {}
    lines = [
        _("Title") + f": {ver.title}",
        _("Document number") + f": {ver.document_number}",
        _("Chamber") + f": {CHAMBER_LABELS.get(ver.chamber, ver.chamber)}",
        _("Decision date") + f": {ver.decision_date.isoformat() if ver.decision_date else ''}",
        _("Situation") + f": {ver.situation}",
        _("Case") + f": {ver.case_name}",
        _("Kind of guidance") + f": {GUIDANCE_KIND_LABELS.get(ver.guidance_kind, ver.guidance_kind)}",
        _("Link to the decision") + f": {ver.decision_url}",
        _("Topics") + f": {', '.join(str(TOPIC_LABELS.get(t, t)) for t in ver.topics)}",
        _("Articles") + f": {', '.join(ver.articles)}",
        _("Related items") + f": {', '.join(sorted(related.values()))}",
    ]
    for label, textual in ((_("Holding"), ver.holding), (_("In practice"), ver.practice), (_("Text"), ver.body)):
        lines.append(f"== {label} ==")
        lines.extend(textual.split("\n") if textual else [])
    return lines


def diff(session: Session, old: CaselawVersion, new: CaselawVersion) -> list[DiffLine]:
    out: list[DiffLine] = []
    for line in difflib.unified_diff(version_lines(session, old), version_lines(session, new),
                                     fromfile=f"v{old.number}", tofile=f"v{new.number}", n=3, lineterm=""):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            out.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            out.append(DiffLine("add", line[1:]))
        elif line.startswith("-"):
            out.append(DiffLine("remove", line[1:]))
        else:
            out.append(DiffLine("context", line[1:]))
    return out


def labels_for(values: Iterable[str], labels: dict[str, Any]) -> list[str]:
    return [str(labels.get(v, v)) for v in values]


def ordered(items: Sequence[CaselawItem]) -> list[CaselawItem]:
    return sorted(items, key=lambda i: (i.language != Language.EN, i.slug))
