"""Builders shared by the case-law tests: items written, submitted and approved through the
services (the HTTP paths are tested on their own in test_caselaw_*.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cooperation.audit.service import Actor
from cooperation.caselaw import services
from cooperation.caselaw.models import CaselawItem
from cooperation.caselaw.services import Content
from cooperation.caselaw.taxonomy import ItemKind, Language
from cooperation.extensions import db
from cooperation.permissions import Role
from tests.factories import make_user

ACTOR = Actor.system("test")


def second_editor() -> Any:
    return make_user("ICC-REG", Role.REGISTRY_EDITOR, "editor2@registry.test", full_name="Second Editor")


def explainer(title: str = "Freezing without a link", **changes: Any) -> Content:
    values: dict[str, Any] = {
        "title": title, "document_number": "ICC-ACRed-01/16", "chamber": "appeals",
        "decision_date": date(2016, 2, 15), "holding": "No link between the crime and the assets is required.",
        "practice": "Execute the request without asking for a link.", "body": "Background.",
        "topics": ("freezing",), "articles": ("93(1)(k)",),
    }
    values.update(changes)
    return Content(**values)


def guidance(title: str = "Executing a freezing request", **changes: Any) -> Content:
    values: dict[str, Any] = {"title": title, "guidance_kind": "how_to", "body": "1. Receive the request.",
                              "topics": ("freezing",), "articles": ("93",)}
    values.update(changes)
    return Content(**values)


def draft(author: Any, slug: str, content: Content | None = None, *, kind: ItemKind = ItemKind.EXPLAINER,
          language: Language = Language.EN, translation_of: CaselawItem | None = None) -> CaselawItem:
    content = content or (explainer() if kind == ItemKind.EXPLAINER else guidance())
    item = services.create_item(db.session, kind=kind, language=language, slug=slug, content=content,
                                author=author, actor=ACTOR, translation_of=translation_of)
    db.session.flush()
    return item


def publish(item: CaselawItem, author: Any, approver: Any, *, publish_at: datetime | None = None,
            now: datetime | None = None) -> CaselawItem:
    services.submit_for_review(db.session, item, user=author, actor=ACTOR, now=now)
    services.approve(db.session, item, user=approver, actor=ACTOR, publish_at=publish_at, now=now)
    db.session.flush()
    return item


def published(author: Any, approver: Any, slug: str, content: Content | None = None, **kwargs: Any) -> CaselawItem:
    return publish(draft(author, slug, content, **kwargs), author, approver)
