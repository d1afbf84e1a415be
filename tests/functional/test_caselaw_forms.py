"""Bad input on every form of the case-law section: HTTP 400, a message that says what to fix,
and nothing changed in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.caselaw.models import CaselawItem, CaselawVersion
from cooperation.caselaw.taxonomy import ItemStatus
from cooperation.extensions import db
from tests.conftest import csrf_from
from tests.functional.caselaw_support import ACTOR, draft, explainer, published, second_editor

GOOD = {
    "slug": "good-slug", "language": "en", "title": "A title", "chamber": "appeals",
    "decision_date": "2016-02-15", "holding": "The holding.", "action": "save",
}


def _state() -> tuple[int, int, int]:
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return count(CaselawItem), count(CaselawVersion), count(AuditEvent)


BAD_NEW = [
    ({"slug": "Not A Slug"}, "Use lower-case letters, digits and single hyphens."),
    ({"slug": "articles"}, "reserved"),
    ({"slug": ""}, "Give the item an address."),
    ({"title": ""}, "Give the item a title."),
    ({"title": "x" * 301}, "Field cannot be longer than 300 characters."),
    ({"language": "de"}, "Choose one of the options in the list."),
    ({"chamber": "star_chamber"}, "Choose one of the options in the list."),
    ({"chamber": ""}, "Choose the chamber that gave the decision."),
    ({"decision_date": "15/02/2016"}, "Not a valid date value."),
    ({"decision_date": ""}, "Give the date of the decision."),
    ({"holding": ""}, "State the holding in plain words."),
    ({"decision_url": "javascript:alert(1)"}, "starting with https://"),
    ({"topics": ["not-a-topic"]}, "Choose one of the options in the list."),
    ({"articles": ["999"]}, "Choose one of the options in the list."),
    ({"related_ids": ["999999"]}, "Choose one of the options in the list."),
    ({"holding": "x" * 50_001}, "Field cannot be longer than 50000 characters."),
]


@pytest.mark.parametrize(("change", "message"), BAD_NEW)
def test_bad_new_item(client, auth, users, change, message):
    auth.login(users["editor"])
    before = _state()
    page = client.get("/editor/caselaw/new?kind=explainer").get_data(as_text=True)
    response = client.post("/editor/caselaw/new?kind=explainer", data={**GOOD, **change, "csrf_token": csrf_from(page)})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _state() == before


def test_bad_guidance_and_duplicate_slug(client, auth, users):
    draft(users["editor"], "taken")
    db.session.commit()
    auth.login(users["editor"])
    before = _state()
    page = client.get("/editor/caselaw/new?kind=guidance").get_data(as_text=True)
    for data, message in (({"slug": "a-note", "title": "Note", "guidance_kind": "poem", "body": "x"},
                           "Choose one of the options in the list."),
                          ({"slug": "a-note", "title": "Note", "guidance_kind": "", "body": "x"},
                           "Choose the kind of guidance."),
                          ({"slug": "a-note", "title": "Note", "guidance_kind": "faq", "body": ""},
                           "Write the text of the guidance note."),
                          ({"slug": "taken", "title": "Note", "guidance_kind": "faq", "body": "x"},
                           "Another item already uses this address.")):
        response = client.post("/editor/caselaw/new?kind=guidance",
                               data={**data, "language": "en", "action": "save", "csrf_token": csrf_from(page)})
        assert response.status_code == 400, data
        assert message in response.get_data(as_text=True), data
    assert _state() == before


def test_bad_edit(client, auth, users):
    item = draft(users["editor"], "editable")
    db.session.commit()
    auth.login(users["editor"])
    before = _state()
    page = client.get(f"/editor/caselaw/{item.id}/edit").get_data(as_text=True)
    for change, message in (({"title": ""}, "Give the item a title."),
                            ({"related_ids": [str(item.id)]}, "Choose one of the options in the list."),
                            ({"decision_url": "data:text/html,x"}, "starting with https://")):
        data = {k: v for k, v in GOOD.items() if k not in ("slug", "language")}
        response = client.post(f"/editor/caselaw/{item.id}/edit", data={**data, **change, "csrf_token": csrf_from(page)})
        assert response.status_code == 400 and message in response.get_data(as_text=True), change
    # The CSRF token is required.
    assert client.post(f"/editor/caselaw/{item.id}/edit", data=GOOD).status_code == 400
    assert _state() == before
    assert client.get("/editor/caselaw/999999/edit").status_code == 404


def test_bad_workflow_actions(client, auth, users):
    other = second_editor()
    item = draft(users["editor"], "workflow")
    live = published(users["editor"], other, "live-item")
    db.session.commit()
    auth.login(other)
    token = csrf_from(client.get(f"/editor/caselaw/{item.id}").get_data(as_text=True))
    before = _state()
    cases = [
        (item.id, "approve", {}, "Only an item in review can be approved."),
        (item.id, "return", {"note": "x"}, "Only an item in review can be sent back."),
        (item.id, "withdraw", {"reason": "x"}, "This item is not published."),
        (live.id, "submit", {}, "Only a draft can be sent for review."),
        (live.id, "withdraw", {"reason": ""}, "Give the reason for withdrawing the item."),
        (item.id, "restore", {"version": "7"}, "This version does not exist."),
        (item.id, "restore", {"version": "1"}, "This is already the current version."),
        (item.id, "restore", {"version": "abc"}, "Choose a version."),
    ]
    for item_id, action, data, message in cases:
        response = client.post(f"/editor/caselaw/{item_id}/{action}", data={**data, "csrf_token": token})
        assert response.status_code == 400, (action, response.status_code)
        assert message in response.get_data(as_text=True), (action, message)
    assert _state() == before
    # In review: a bad date, a time in the past, scheduling an update of a visible item, no note.
    from cooperation.caselaw import services

    services.submit_for_review(db.session, item, user=users["editor"], actor=ACTOR)
    services.save_item(db.session, live, explainer("Live, updated"), author=users["editor"], actor=ACTOR)
    services.submit_for_review(db.session, live, user=users["editor"], actor=ACTOR)
    db.session.commit()
    before = _state()
    for item_id, action, data, message in [
        (item.id, "approve", {"publish_at": "tomorrow"}, "Not a valid datetime value."),
        (item.id, "approve", {"publish_at": "2001-01-01T00:00"}, "The publication time is in the past"),
        (live.id, "approve", {"publish_at": "2999-01-01T00:00"}, "Readers already see this item"),
        (item.id, "return", {"note": ""}, "Say what needs to change."),
    ]:
        response = client.post(f"/editor/caselaw/{item_id}/{action}", data={**data, "csrf_token": token})
        assert response.status_code == 400, (action, data)
        assert message in response.get_data(as_text=True), (action, message)
    assert _state() == before
    db.session.refresh(item)
    assert item.status == ItemStatus.IN_REVIEW


def test_bad_compare_and_search(client, auth, users):
    item = draft(users["editor"], "compared")
    db.session.commit()
    auth.login(users["editor"])
    assert client.get(f"/editor/caselaw/{item.id}/history?a=x").status_code == 400
    missing = client.get(f"/editor/caselaw/{item.id}/history?a=1&b=9")
    assert missing.status_code == 400 and "This version does not exist." in missing.get_data(as_text=True)
    for query, message in (("year=1800", "Give a year between 2002 and 2100."), ("kind=poem", "Choose one"),
                           ("article=999", "Choose one"), ("q=" + "x" * 201, "Field cannot be longer than 200")):
        response = client.get(f"/caselaw?{query}")
        assert response.status_code == 400 and message in response.get_data(as_text=True), query
